"""Opening a fan data source: DuckDB files, folders of CSV/Parquet/Excel files, workbooks, database URLs.

``load(source, timezone)`` hands back a connection and the raw contract tables, as the source has them;
``fanlib.data.columns`` turns them into the contract's columns and types and ``fanlib.data.fandata.FanData`` hands
them out. CSV and Excel data are copied into a throwaway DuckDB database in a temporary folder, so the
user's files are never written to.

CSV files are read as UTF-8, UTF-8 with BOM, UTF-16 (with BOM) or GBK/GB18030, detected from the bytes.
"""

from __future__ import annotations

import codecs
import datetime as _dt
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import ibis
import ibis.expr.types as ir

from fanlib.data import contract
from fanlib.data.engine import limit_memory
from fanlib.errors import InputError
from fanlib.paths import is_url, resolve

_DUCKDB_SUFFIXES = {".duckdb", ".ddb", ".db"}
_EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
_CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
_PARQUET_SUFFIXES = {".parquet", ".pq"}
_CHUNK = 8 << 20  # bytes per read when sniffing or transcoding CSV files
#: The longest CSV line (a record, quoted line breaks included) that loads. DuckDB's own limit, 2 MB,
#: refuses long comments and posts; a larger limit costs memory only when such a line occurs.
CSV_MAX_LINE_BYTES = 256 << 20


class SourceError(InputError, ValueError):
    """A data source that cannot be opened or read (wrong path, unknown file kind, bad encoding)."""


# --------------------------------------------------------------------------- CSV encodings


def detect_encoding(path: str | Path) -> str:
    """The encoding of a text file: ``utf-8`` (also with BOM), ``utf-16`` or ``gb18030``.

    Reads the whole file in chunks with a strict UTF-8 decoder; if that fails
    it must be GB18030 (a superset of GBK), which is then checked the same way.
    Raises ``SourceError`` naming the file and byte offset when neither fits.
    """
    path = Path(path)
    with path.open("rb") as f:
        head = f.read(4)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    for encoding in ("utf-8", "gb18030"):
        decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
        offset = 0
        try:
            with path.open("rb") as f:
                while chunk := f.read(_CHUNK):
                    decoder.decode(chunk)
                    offset += len(chunk)
                decoder.decode(b"", final=True)
            return encoding
        except UnicodeDecodeError as e:
            failure = offset + e.start
    raise SourceError(
        f"{path}: the file is neither UTF-8 nor GBK/GB18030 text (undecodable bytes near byte {failure}); "
        "save it as UTF-8 CSV and try again"
    )


def transcode_to_utf8(path: str | Path, encoding: str, out: str | Path) -> Path:
    """Copy a text file to ``out`` as UTF-8, in streaming chunks (bounded memory)."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    out = Path(out)
    with Path(path).open("rb") as src, out.open("w", encoding="utf-8", newline="") as dst:
        while chunk := src.read(_CHUNK):
            dst.write(decoder.decode(chunk))
        dst.write(decoder.decode(b"", final=True))
    return out


# --------------------------------------------------------------------------- loading sources


def _sql_str(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _sql_list(paths: list[Path]) -> str:
    return "[" + ", ".join(_sql_str(p) for p in paths) + "]"


def _mask_url(url: str) -> str:
    """The URL without its password, for reports and manifests."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


@dataclass
class _Loaded:
    con: Any
    raw: dict[str, ir.Table]
    description: str
    tmpdir: str | None = None


def _table_files(folder: Path) -> dict[str, list[Path]]:
    """Map contract table names to the files that hold them in ``folder``."""
    found: dict[str, list[Path]] = {}
    entries = {p.name.lower(): p for p in folder.iterdir()}
    for name in contract.TABLE_NAMES:
        candidates = [
            p for key, p in entries.items()
            if p.is_file() and Path(key).stem == name
            and Path(key).suffix in _CSV_SUFFIXES | _PARQUET_SUFFIXES | _EXCEL_SUFFIXES
        ]
        sub = entries.get(name)
        if sub is not None and sub.is_dir():
            parts = sorted(
                p for p in sub.rglob("*")
                if p.is_file() and p.suffix.lower() in _CSV_SUFFIXES | _PARQUET_SUFFIXES
            )
            if not parts:
                raise SourceError(f"{sub}: the folder for table {name!r} holds no .parquet or .csv files")
            candidates.append(sub)
        if len(candidates) > 1:
            listed = ", ".join(sorted(p.name for p in candidates))
            raise SourceError(f"{folder}: table {name!r} is given more than once ({listed}); keep one")
        if candidates:
            found[name] = candidates
    return found


def _new_scratch_duckdb():
    tmpdir = tempfile.mkdtemp(prefix="fanlib-")
    con = ibis.duckdb.connect(str(Path(tmpdir) / "loaded.duckdb"))
    limit_memory(con, str(Path(tmpdir) / "spill"))
    return con, tmpdir


def _csv_header(path: Path) -> tuple[list[str], str]:
    """The column names and delimiter of a UTF-8 CSV file, from its first line."""
    import csv

    with path.open(encoding="utf-8-sig", newline="") as f:
        first = f.readline()
    if not first.strip():
        raise SourceError(f"{path}: the file is empty; a CSV file needs a header line with the column names")
    delimiter = max([",", "\t", ";", "|"], key=first.count)
    names = [n.strip() for n in next(csv.reader([first], delimiter=delimiter))]
    if len(set(names)) != len(names) or "" in names:
        raise SourceError(f"{path}: the header line has empty or repeated column names: {names}")
    return names, delimiter


def _load_csv(con, name: str, files: list[Path], tmpdir: str) -> str:
    """Load CSV files into table ``name`` as text columns; returns a note on the encodings."""
    selects, notes, copies = [], [], []
    for i, path in enumerate(files):
        encoding = detect_encoding(path)
        readable = path
        if encoding != "utf-8":
            readable = transcode_to_utf8(path, encoding, Path(tmpdir) / f"{name}-{i}.csv")
            copies.append(readable)
        notes.append({"utf-8": "UTF-8", "utf-16": "UTF-16→UTF-8", "gb18030": "GBK/GB18030→UTF-8"}[encoding])
        names, delimiter = _csv_header(readable)
        # The header is read here rather than sniffed: DuckDB's sniffer may take a later,
        # longer line for the header and silently drop the lines before it. Every column
        # is text so that ids keep their leading zeros; the contract's casts run later,
        # where a bad value becomes a validation problem. Strict mode rejects ragged rows.
        columns = "{" + ", ".join(f"{_sql_str(n)}: 'VARCHAR'" for n in names) + "}"
        selects.append(
            f"SELECT * FROM read_csv({_sql_str(readable)}, header = true, auto_detect = false, "
            f"delim = {_sql_str(delimiter)}, quote = '\"', escape = '\"', columns = {columns}, strict_mode = true, "
            f"max_line_size = {CSV_MAX_LINE_BYTES})"
        )
    _run_load(con, f'CREATE TABLE "{name}" AS ' + " UNION ALL BY NAME ".join(selects), files, "CSV")
    for copy in copies:  # the table holds the data now
        copy.unlink()
    return "/".join(sorted(set(notes)))


def _run_load(con, sql: str, files: list[Path], kind: str) -> None:
    import duckdb

    try:
        con.raw_sql(sql)
    except duckdb.Error as e:
        names = ", ".join(str(f) for f in files[:3]) + (" …" if len(files) > 3 else "")
        raise SourceError(f"{names}: cannot read the {kind} data: {duckdb_cause(e)}") from e


def duckdb_cause(error: Exception, max_chars: int = 160) -> str:
    """DuckDB's error without its list of fixes and reader options: the line, the cause, the line's text.

    A CSV error reads "CSV Error on Line: 3; Original Line: O2,F2,x; Expected Number of Columns: 2 Found: 3".
    """
    kept = []
    for line in str(error).strip().splitlines():
        line = line.strip()
        if not line or line.startswith(("Possible fix", "Possible Solution", "* ")):
            break  # what follows are DuckDB's suggestions and the reader's options
        if line.startswith("Original Line:"):
            text = line.removeprefix("Original Line:").strip()
            line = "Original Line: " + (text if len(text) <= max_chars else text[: max_chars - 1] + "…")
        kept.append(line)
    return "; ".join(kept) or type(error).__name__


def _excel_frame(frame):
    """Make an Excel sheet loadable: dates stay dates, numbers numbers, anything mixed becomes text."""
    import pandas as pd

    out = {}
    for col in frame.columns:
        s = frame[col]
        values = s.dropna()
        name = str(col).strip()
        if values.empty:
            out[name] = s.astype("string")
        elif values.map(lambda v: isinstance(v, (_dt.datetime, _dt.date, pd.Timestamp))).all():
            out[name] = pd.to_datetime(s)
        elif values.map(lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)).all():
            out[name] = pd.to_numeric(s)
        else:
            out[name] = s.map(_excel_text, na_action="ignore").astype("string")
    return pd.DataFrame(out)


def _excel_text(v) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _read_excel(path: Path, sheet=None):
    import pandas as pd

    try:
        return pd.read_excel(path, sheet_name=sheet, dtype=object, engine="openpyxl")
    except Exception as e:  # openpyxl raises many kinds for broken workbooks
        raise SourceError(f"{path}: cannot read the Excel workbook ({e})") from e


def _scratch_load(load):
    """Run ``load(con, tmpdir)`` on a scratch DuckDB; remove the scratch folder if loading fails."""
    con, tmpdir = _new_scratch_duckdb()
    try:
        return load(con, tmpdir)
    except BaseException:
        con.disconnect()
        shutil.rmtree(tmpdir, ignore_errors=True)
        raise


def _load_folder(folder: Path) -> _Loaded:
    return _scratch_load(lambda con, tmpdir: _fill_from_folder(con, tmpdir, folder))


def _fill_from_folder(con, tmpdir: str, folder: Path) -> _Loaded:
    notes = []
    for name, (entry,) in _table_files(folder).items():
        if entry.is_dir():
            parts = sorted(p for p in entry.rglob("*") if p.is_file())
            kinds = {p.suffix.lower() for p in parts} & (_CSV_SUFFIXES | _PARQUET_SUFFIXES)
            if kinds <= _PARQUET_SUFFIXES:
                files = [p for p in parts if p.suffix.lower() in _PARQUET_SUFFIXES]
                _run_load(con, f'CREATE VIEW "{name}" AS SELECT * FROM read_parquet({_sql_list(files)}, '
                          "union_by_name = true)", files, "Parquet")
                notes.append(f"{name}/ ({len(files)} Parquet parts)")
            elif kinds <= _CSV_SUFFIXES:
                files = [p for p in parts if p.suffix.lower() in _CSV_SUFFIXES]
                enc = _load_csv(con, name, files, tmpdir)
                notes.append(f"{name}/ ({len(files)} CSV parts, {enc})")
            else:
                raise SourceError(f"{entry}: mixes CSV and Parquet parts; use one kind per table")
        elif entry.suffix.lower() in _PARQUET_SUFFIXES:
            _run_load(con, f'CREATE VIEW "{name}" AS SELECT * FROM read_parquet({_sql_str(entry)})', [entry],
                      "Parquet")
            notes.append(entry.name)
        elif entry.suffix.lower() in _CSV_SUFFIXES:
            enc = _load_csv(con, name, [entry], tmpdir)
            notes.append(f"{entry.name} ({enc})")
        else:
            frame = _read_excel(entry, sheet=0)
            con.create_table(name, _excel_frame(frame))
            notes.append(entry.name)
    raw = _contract_tables(con)
    listed = ", ".join(notes) if notes else "no table files"
    return _Loaded(con, raw, f"folder {folder}: {listed}", tmpdir)


def _load_workbook(path: Path) -> _Loaded:
    sheets = _read_excel(path)
    return _scratch_load(lambda con, tmpdir: _fill_from_workbook(con, tmpdir, path, sheets))


def _fill_from_workbook(con, tmpdir: str, path: Path, sheets: dict) -> _Loaded:
    names = []
    for sheet, frame in sheets.items():
        name = str(sheet).strip().lower()
        if name in contract.TABLES:
            con.create_table(name, _excel_frame(frame))
            names.append(name)
    raw = {name: con.table(name) for name in names}
    return _Loaded(con, raw, f"Excel workbook {path} (sheets: {', '.join(names) or 'none matching'})", tmpdir)


def _load_duckdb(path: Path) -> _Loaded:
    try:
        con = ibis.duckdb.connect(str(path), read_only=True)
    except Exception as e:
        raise SourceError(f"{path}: cannot open the DuckDB file read-only ({e})") from e
    spill = tempfile.mkdtemp(prefix="fanlib-spill-")
    limit_memory(con, spill)
    return _Loaded(con, _contract_tables(con), f"DuckDB file {path} (read-only)", spill)


def _list_tables(con) -> list[str]:
    if con.name == "duckdb":
        # ibis' DuckDB list_tables() breaks on DuckDB 2 (a renamed Arrow method); ask the catalog.
        rows = con.raw_sql(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        ).fetchall()
        return [r[0] for r in rows]
    return con.list_tables()


def _contract_tables(con) -> dict[str, ir.Table]:
    available = {t.lower(): t for t in _list_tables(con)}
    return {name: con.table(available[name]) for name in contract.TABLE_NAMES if name in available}


def _load_url(url: str) -> _Loaded:
    try:
        con = ibis.connect(url)
    except Exception as e:
        raise SourceError(f"cannot connect to {_mask_url(url)}: {e}") from e
    return _Loaded(con, _contract_tables(con), f"{con.name} database {_mask_url(url)}")


def _teach_spark_bit_or() -> None:
    """ibis 12's Spark compiler lacks the BIT_OR aggregate (the cohort counts use it); Spark SQL has it."""
    from ibis.backends.sql.compilers.pyspark import PySparkCompiler

    PySparkCompiler.visit_BitOr = lambda self, op, *, arg, where: self.agg.bit_or(arg, where=where)


def _load_spark(url: str) -> _Loaded:
    """``spark://local/<folder>`` (a local Spark, all cores) or ``spark://HOST:PORT/<folder>`` (a cluster):
    the folder holds ``<table>.parquet`` files or folders, as ``fanlib load --to parquet://`` writes them.
    Without a folder (``spark://HOST:PORT``), the tables come from the session's current database."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as e:
        raise SourceError("a spark:// source needs PySpark: pip install 'fanlib[spark]'") from e
    parts = urlsplit(url)
    master = "local[*]" if parts.netloc in ("", "local") else f"spark://{parts.netloc}"
    folder = Path(parts.path) if parts.path not in ("", "/") else None
    if folder is not None and not folder.is_dir():
        raise SourceError(f"{url}: no such folder of Parquet tables: {folder}")
    # Contract timestamps are naive China Standard Time; a UTC session keeps them as stored.
    session = (SparkSession.builder.master(master).appName("fanlib")
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.sql.shuffle.partitions", "8")
               .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    _teach_spark_bit_or()
    con = ibis.pyspark.connect(session)
    if folder is None:
        return _Loaded(con, _contract_tables(con), f"Spark {master}, current database")
    raw = {}
    for name in contract.TABLE_NAMES:
        found = [p for p in (folder / f"{name}.parquet", folder / name) if p.exists()]
        if found:
            raw[name] = con.read_parquet(str(found[0]), table_name=f"fanlib_{name}")
    return _Loaded(con, raw, f"Spark {master}, Parquet tables in {folder}")


def open_source(source, timezone: str = contract.TIMEZONE) -> _Loaded:
    """Open ``source`` and find its contract tables. DuckDB and PostgreSQL sessions run in ``timezone``,
    so any conversion the engine makes on its own agrees with the contract's casts (``fanlib.data.columns``)."""
    loaded = _load(source)
    try:
        if loaded.con.name == "duckdb":
            loaded.con.raw_sql(f"SET TimeZone = {_sql_str(timezone)}")
        elif loaded.con.name == "postgres":
            loaded.con.raw_sql(f"SET TIME ZONE {_sql_str(timezone)}")
    except Exception as e:
        loaded.con.disconnect()
        if loaded.tmpdir:
            shutil.rmtree(loaded.tmpdir, ignore_errors=True)
        raise SourceError(f"the database does not know the time zone {timezone!r}: {duckdb_cause(e)}") from e
    return loaded


def _load(source) -> _Loaded:
    if str(source).lower().startswith("spark://"):
        return _load_spark(str(source))
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
