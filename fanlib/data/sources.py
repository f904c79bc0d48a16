"""Opening a fan data source: DuckDB files, folders of CSV/Parquet/Excel files, workbooks, database URLs.

``open_source(source, timezone)`` hands back a connection and the raw contract tables, as the source has them;
``fanlib.data.columns`` turns them into the contract's columns and types and ``fanlib.data.fandata.FanData`` hands
them out. CSV and Excel data are copied into a throwaway DuckDB database in a temporary folder, so the
user's files are never written to.

CSV files are read as UTF-8, UTF-8 with BOM, UTF-16 (with BOM) or GBK/GB18030, detected from the bytes.

This module finds the kind of a source and opens DuckDB files, folders, workbooks and database URLs;
what each file kind needs lives beside it: ``csv_files`` (encodings, CSV reading), ``excel`` (sheets),
``spark`` (Spark sessions), and ``loaded`` (what a loader hands back, shared SQL pieces).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ibis

from fanlib.data import contract
from fanlib.data.csv_files import (
    load_csv,
)
from fanlib.data.engine import limit_memory
from fanlib.data.errors import SourceError
from fanlib.data.excel import excel_frame, read_excel
from fanlib.data.loaded import (
    Loaded,
    contract_tables,
    database_tables,
    duckdb_cause,
    mask_url,
    run_load,
    sql_list,
    sql_str,
)
from fanlib.data.spark import load_spark
from fanlib.paths import is_url, resolve

_DUCKDB_SUFFIXES = {".duckdb", ".ddb", ".db"}
_EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
_CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
_PARQUET_SUFFIXES = {".parquet", ".pq"}


_READ_SUFFIXES = _CSV_SUFFIXES | _PARQUET_SUFFIXES | _EXCEL_SUFFIXES
#: Why a file of a folder is not read, by suffix (other suffixes get ``_OTHER_FILE``).
_UNREAD = {
    ".xls": "old Excel .xls workbooks are not read; save it as .xlsx",
    ".xlsb": "binary Excel workbooks are not read; save it as .xlsx",
    ".json": "JSON files are not read; save it as CSV or Parquet",
    ".zip": "archives are not read; unpack it into the folder",
    ".gz": "compressed files are not read; unpack it into the folder",
}
_OTHER_FILE = (
    "only .csv, .tsv, .txt, .parquet, .pq, .xlsx and .xlsm files (or a folder of CSV or Parquet parts) are read"
)


def _folder_entries(folder: Path) -> tuple[dict[str, list[Path]], dict[str, str]]:
    """Every table of ``folder`` by name (a file's name without its suffix, or a sub-folder of parts), with
    its files; and each entry not read, with why. Contract table names are matched in any letter case."""
    found: dict[str, list[Path]] = {}
    skipped: dict[str, str] = {}
    for p in sorted(folder.iterdir()):
        if p.name.startswith((".", "~$")):
            continue  # hidden files and Excel's lock files
        if p.is_dir():
            parts = [q for q in p.rglob("*") if q.is_file() and q.suffix.lower() in _CSV_SUFFIXES | _PARQUET_SUFFIXES]
            name = p.name.lower() if p.name.lower() in contract.TABLES else p.name
            if not parts:
                if name in contract.TABLES:
                    raise SourceError(f"{p}: the folder for table {name!r} holds no .parquet or .csv files")
                skipped[p.name + "/"] = "the folder holds no .csv or .parquet files"
                continue
            found.setdefault(name, []).append(p)
        elif p.suffix.lower() in _READ_SUFFIXES:
            stem = p.stem.strip()
            name = stem.lower() if stem.lower() in contract.TABLES else stem
            found.setdefault(name, []).append(p)
        else:
            skipped[p.name] = _UNREAD.get(p.suffix.lower(), _OTHER_FILE)
    for name, entries in list(found.items()):
        if len(entries) > 1:
            listed = ", ".join(sorted(p.name for p in entries))
            if name in contract.TABLES:
                raise SourceError(f"{folder}: table {name!r} is given more than once ({listed}); keep one")
            del found[name]
            skipped[listed] = f"table {name!r} is given more than once; keep one"
    return found, skipped


def _table_files(folder: Path) -> dict[str, list[Path]]:
    """The contract tables of ``folder`` with their file or folder of parts (the parameter check asks)."""
    return {name: entries for name, entries in _folder_entries(folder)[0].items() if name in contract.TABLES}


def _load_entry(con: Any, tmpdir: str, name: str, entry: Path) -> str:
    """Load one table's file or folder of parts into ``con`` as ``name``; returns a note on what was read."""
    if entry.is_dir():
        parts = sorted(p for p in entry.rglob("*") if p.is_file())
        kinds = {p.suffix.lower() for p in parts} & (_CSV_SUFFIXES | _PARQUET_SUFFIXES)
        if kinds <= _PARQUET_SUFFIXES:
            files = [p for p in parts if p.suffix.lower() in _PARQUET_SUFFIXES]
            run_load(
                con,
                f'CREATE VIEW "{name}" AS SELECT * FROM read_parquet({sql_list(files)}, union_by_name = true)',
                files,
                "Parquet",
            )
            return f"{entry.name}/ ({len(files)} Parquet parts)"
        if kinds <= _CSV_SUFFIXES:
            files = [p for p in parts if p.suffix.lower() in _CSV_SUFFIXES]
            enc = load_csv(con, name, files, tmpdir)
            return f"{entry.name}/ ({len(files)} CSV parts, {enc})"
        raise SourceError(f"{entry}: mixes CSV and Parquet parts; use one kind per table")
    if entry.suffix.lower() in _PARQUET_SUFFIXES:
        run_load(con, f'CREATE VIEW "{name}" AS SELECT * FROM read_parquet({sql_str(entry)})', [entry], "Parquet")
        return entry.name
    if entry.suffix.lower() in _CSV_SUFFIXES:
        return f"{entry.name} ({load_csv(con, name, [entry], tmpdir)})"
    con.create_table(name, excel_frame(read_excel(entry, sheet=0)))
    return entry.name


def _on_demand(load: Callable[[str], None], con: Any, name: str) -> Callable[[], Any]:
    """A reader that loads a non-contract table into ``con`` the first time it is asked for."""
    done: list[bool] = []

    def read() -> Any:
        if not done:
            load(name)
            done.append(True)
        return con.table(name)

    return read


def _new_scratch_duckdb() -> tuple[Any, str]:
    tmpdir = tempfile.mkdtemp(prefix="fanlib-")
    con = ibis.duckdb.connect(str(Path(tmpdir) / "loaded.duckdb"))
    limit_memory(con, str(Path(tmpdir) / "spill"))
    return con, tmpdir


def _scratch_load(load: Callable[[Any, str], Loaded]) -> Loaded:
    """Run ``load(con, tmpdir)`` on a scratch DuckDB; remove the scratch folder if loading fails."""
    con, tmpdir = _new_scratch_duckdb()
    try:
        return load(con, tmpdir)
    except BaseException:
        con.disconnect()
        shutil.rmtree(tmpdir, ignore_errors=True)
        raise


def _load_folder(folder: Path) -> Loaded:
    return _scratch_load(lambda con, tmpdir: _fill_from_folder(con, tmpdir, folder))


def _fill_from_folder(con: Any, tmpdir: str, folder: Path) -> Loaded:
    notes = []
    found, skipped = _folder_entries(folder)
    readers: dict[str, Callable[[], Any]] = {}
    for i, (name, (entry,)) in enumerate(found.items()):
        if name in contract.TABLES:
            notes.append(_load_entry(con, tmpdir, name, entry))
            readers[name] = lambda name=name: con.table(name)
        else:
            internal = f"source_table_{i}"
            readers[name] = _on_demand(lambda n, e=entry: _load_entry(con, tmpdir, n, e), con, internal)
    raw = contract_tables(con)
    listed = ", ".join(notes) if notes else "no table files"
    return Loaded(con, raw, f"folder {folder}: {listed}", tmpdir, readers, skipped)


def _load_workbook(path: Path) -> Loaded:
    sheets = read_excel(path)
    return _scratch_load(lambda con, tmpdir: _fill_from_workbook(con, tmpdir, path, sheets))


def _fill_from_workbook(con: Any, tmpdir: str, path: Path, sheets: dict) -> Loaded:
    names = []
    readers: dict[str, Callable[[], Any]] = {}
    for i, (sheet, frame) in enumerate(sheets.items()):
        name = str(sheet).strip().lower()
        if name in contract.TABLES:
            con.create_table(name, excel_frame(frame))
            names.append(name)
            readers[name] = lambda name=name: con.table(name)
        else:
            load = lambda n, frame=frame: con.create_table(n, excel_frame(frame))  # noqa: E731
            readers[str(sheet).strip()] = _on_demand(load, con, f"source_sheet_{i}")
    raw = {name: con.table(name) for name in names}
    description = f"Excel workbook {path} (sheets: {', '.join(names) or 'none matching'})"
    return Loaded(con, raw, description, tmpdir, readers)


def _load_duckdb(path: Path) -> Loaded:
    try:
        con = ibis.duckdb.connect(str(path), read_only=True)
    except Exception as e:
        raise SourceError(f"{path}: cannot open the DuckDB file read-only ({e})") from e
    spill = tempfile.mkdtemp(prefix="fanlib-spill-")
    limit_memory(con, spill)
    return Loaded(con, contract_tables(con), f"DuckDB file {path} (read-only)", spill, database_tables(con))


def _load_url(url: str) -> Loaded:
    try:
        con = ibis.connect(url)
    except Exception as e:
        raise SourceError(f"cannot connect to {mask_url(url)}: {e}") from e
    return Loaded(con, contract_tables(con), f"{con.name} database {mask_url(url)}", tables=database_tables(con))


def open_source(source: str | Path, timezone: str = contract.TIMEZONE) -> Loaded:
    """Open ``source`` and find its contract tables. DuckDB and PostgreSQL sessions run in ``timezone``,
    so any conversion the engine makes on its own agrees with the contract's casts (``fanlib.data.columns``)."""
    loaded = _load(source)
    try:
        if loaded.con.name == "duckdb":
            loaded.con.raw_sql(f"SET TimeZone = {sql_str(timezone)}")
        elif loaded.con.name == "postgres":
            loaded.con.raw_sql(f"SET TIME ZONE {sql_str(timezone)}")
    except Exception as e:
        loaded.con.disconnect()
        if loaded.tmpdir:
            shutil.rmtree(loaded.tmpdir, ignore_errors=True)
        raise SourceError(f"the database does not know the time zone {timezone!r}: {duckdb_cause(e)}") from e
    return loaded


def _load(source: str | Path) -> Loaded:
    if str(source).lower().startswith("spark://"):
        return load_spark(str(source))
    if is_url(str(source)):
        return _load_url(str(source))
    path = resolve(source)
    if not path.exists():
        raise SourceError(f"data source not found: {source} (looked for {path})")
    if path.is_dir():
        return _load_folder(path)
    suffix = path.suffix.lower()
    if suffix in _DUCKDB_SUFFIXES:
        return _load_duckdb(path)
    if suffix in _EXCEL_SUFFIXES:
        return _load_workbook(path)
    raise SourceError(
        f"{path}: unknown kind of data source; give a DuckDB file (.duckdb), an Excel workbook (.xlsx), "
        "a folder of CSV/Parquet/Excel files named after the tables, or a database URL"
    )
