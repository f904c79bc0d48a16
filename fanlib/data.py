"""One entry point to a fan data source: ``connect(source) -> FanData``.

Sources:

* a DuckDB file (the default, ``data/demo.duckdb``), opened read-only;
* a folder with one file per contract table, named after the table
  (``fans.csv``, ``events.parquet``, ``orders.xlsx``), or a sub-folder of parts
  per table (``events/part-0001.parquet``, ``events/2025-01.csv``);
* an Excel workbook with one sheet per table (``fans``, ``events``, …);
* a database URL that ``ibis.connect`` understands (``postgresql://…``).

CSV files are read as UTF-8, UTF-8 with BOM, UTF-16 (with BOM) or GBK/GB18030,
detected from the bytes. CSV and Excel data are loaded into a throwaway DuckDB
database in a temporary folder, so the user's files are never written to.

The tables that ``FanData`` hands out carry the contract's column names and
types (see ``fanlib.contract``): identifiers are cast to strings, dates and
date strings to timestamps, numbers to int or float, all in the engine.
Optional columns that the source lacks are added as typed NULL columns, so
downstream code can always refer to them; check ``fd.present_columns(name)``
to learn which ones the source really has. Columns that are not in the
contract are kept, after the contract's columns.

Everything runs in the engine; ``FanData.execute`` is the only door into
pandas and records what it pulled in ``FanData.materialized``.
"""

from __future__ import annotations

import codecs
import datetime as _dt
import hashlib
import json
import os
import shutil
import tempfile
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from fanlib import contract
from fanlib.paths import is_url, resolve
from fanlib.validate import ContractError, Problem

DEFAULT_SOURCE = "data/demo.duckdb"

#: contract dtype -> ibis dtype
IBIS_TYPES: dict[str, dt.DataType] = {
    "string": dt.String(),
    "int": dt.Int64(),
    "float": dt.Float64(),
    "timestamp": dt.Timestamp(),
}

_DUCKDB_SUFFIXES = {".duckdb", ".ddb", ".db"}
_EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
_CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
_PARQUET_SUFFIXES = {".parquet", ".pq"}
_CHUNK = 8 << 20  # bytes per read when sniffing or transcoding CSV files
#: DuckDB memory per connection; two parallel reports on a million fans stay within 8 GB.
DUCKDB_MEMORY_LIMIT = "2.5GB"

# Patterns that guard casts from strings on engines without TRY_CAST.
_FLOAT_RE = r"^\s*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?\s*$"
_TIME_RE = (
    r"^\s*[0-9]{4}[-/](0?[1-9]|1[0-2])[-/](0?[1-9]|[12][0-9]|3[01])"
    r"([ T]([01]?[0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]+)?)?)?\s*$"
)


class MissingTableError(LookupError):
    """An optional contract table that the data source does not provide."""

    def __init__(self, name: str, source: str = ""):
        self.table = name
        where = f" in {source}" if source else ""
        super().__init__(
            f"table {name!r} is not available{where}; check fd.has({name!r}) before using it"
        )

    def __str__(self) -> str:  # LookupError would quote the message like a key
        return self.args[0]


class SourceError(ValueError):
    """A data source that cannot be opened or read (wrong path, unknown file kind, bad encoding)."""


def shanghai_now() -> _dt.datetime:
    """The current time as a naive China Standard Time timestamp, like the contract's."""
    return _dt.datetime.now(ZoneInfo(contract.TIMEZONE)).replace(tzinfo=None, microsecond=0)


def _as_naive(value) -> _dt.datetime:
    if value is None:
        return shanghai_now()
    if isinstance(value, str):
        value = _dt.datetime.fromisoformat(value)
    if isinstance(value, _dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(ZoneInfo(contract.TIMEZONE)).replace(tzinfo=None)
        return value
    if isinstance(value, _dt.date):
        return _dt.datetime.combine(value, _dt.time())
    if hasattr(value, "to_pydatetime"):
        return _as_naive(value.to_pydatetime())
    raise TypeError(f"now must be a datetime, date or ISO string, not {type(value).__name__}")


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
    _limit_memory(con, str(Path(tmpdir) / "spill"))
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
            f"delim = {_sql_str(delimiter)}, quote = '\"', escape = '\"', columns = {columns}, strict_mode = true)"
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
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise SourceError(f"{names}: cannot read the {kind} data: {first}") from e


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
    # Time-zone-aware columns convert to the contract's China Standard Time.
    con.raw_sql(f"SET TimeZone = {_sql_str(contract.TIMEZONE)}")
    spill = tempfile.mkdtemp(prefix="fanlib-spill-")
    _limit_memory(con, spill)
    return _Loaded(con, _contract_tables(con), f"DuckDB file {path} (read-only)", spill)


def duckdb_memory_limit() -> str:
    """DuckDB's memory cap per connection: ``FANLIB_DUCKDB_MEMORY_LIMIT`` or ``DUCKDB_MEMORY_LIMIT``."""
    return os.environ.get("FANLIB_DUCKDB_MEMORY_LIMIT") or DUCKDB_MEMORY_LIMIT


def _limit_memory(con, spill_dir: str) -> None:
    """Cap DuckDB's memory and let it spill to ``spill_dir`` beyond the cap. DuckDB's own default, 80% of
    RAM for every connection, lets two reports running side by side claim more than the machine has."""
    con.raw_sql(f"SET memory_limit = {_sql_str(duckdb_memory_limit())}")
    con.raw_sql(f"SET temp_directory = {_sql_str(spill_dir)}")


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
    if con.name == "postgres":
        con.raw_sql(f"SET TIME ZONE {_sql_str(contract.TIMEZONE)}")
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


# --------------------------------------------------------------------------- mapping and typing


def _apply_mapping(name: str, raw: ir.Table, renames: dict[str, str]) -> tuple[ir.Table, list[Problem]]:
    """Rename a user's columns to the contract's; also match names that differ only in case or spaces."""
    table = contract.table(name)
    problems = []
    columns = list(raw.columns)
    rename: dict[str, str] = {}  # new -> old
    for old, new in (renames or {}).items():
        if new not in table.column_names:
            problems.append(Problem(name, str(new), "mapping", None, [],
                                    f"the mapping renames {old!r} to {new!r}, which is not a column of "
                                    f"{name!r}; its columns are {', '.join(table.column_names)}"))
        elif old not in columns:
            problems.append(Problem(name, new, "mapping", None, [],
                                    f"the mapping renames {old!r} to {new!r}, but the source has no column "
                                    f"{old!r}; it has {', '.join(columns)}"))
        elif new in columns and new != old:
            problems.append(Problem(name, new, "mapping", None, [],
                                    f"the mapping renames {old!r} to {new!r}, but the source already has "
                                    f"a column {new!r}"))
        else:
            rename[new] = old
    taken = set(columns) - set(rename.values()) | set(rename)
    for col in table.column_names:
        if col in taken:
            continue
        near = [c for c in columns if c.strip().lower() == col and c not in rename.values()]
        if len(near) == 1:
            rename[col] = near[0]
    rename = {new: old for new, old in rename.items() if new != old}
    return (raw.rename(rename) if rename else raw), problems


def _present(col: ir.Column) -> ir.BooleanValue:
    """Whether a raw value is given: not NULL, not NaN and not blank text."""
    if col.type().is_string():
        return col.notnull() & (col.strip() != "")
    if col.type().is_floating():
        return col.notnull() & ~col.isnan()
    return col.notnull()


def _guarded_cast(col: ir.StringValue, to: dt.DataType, pattern: str, engine: str):
    if engine == "duckdb":
        return col.try_cast(to)
    return ibis.ifelse(col.re_search(pattern), col, ibis.null(dt.string)).cast(to)


def cast_column(col: ir.Column, dtype: str, engine: str) -> ir.Column | None:
    """``col`` cast to the contract ``dtype`` in the engine, or None if its type cannot be.

    Strings that do not parse become NULL (``parse`` problems in validation).
    """
    src = col.type()
    to = IBIS_TYPES[dtype]
    if src.is_null():
        return ibis.null(to)
    if dtype == "string":
        if src.is_string():
            return col
        if src.is_integer():
            return col.cast(to)
        if src.is_floating() or src.is_decimal():
            # Ids stored as floats (Excel, pandas with NaN) read 1001.0; keep them as "1001".
            text = ibis.ifelse(col == col.floor(), col.cast(dt.int64).cast(to), col.cast(to))
            return ibis.ifelse(col.isnan(), ibis.null(to), text) if src.is_floating() else text
        return None
    if dtype in ("int", "float"):
        if src.is_integer() or src.is_floating() or src.is_decimal():
            return col.cast(to)
        if src.is_string():
            text = col.strip().replace(",", "").replace("¥", "").replace("￥", "")
            number = _guarded_cast(text, dt.float64, _FLOAT_RE, engine)
            return number.cast(to) if dtype == "int" else number
        return None
    if dtype == "timestamp":
        if src.is_timestamp() or src.is_date():
            return col.cast(to)
        if src.is_string():
            return _guarded_cast(col.strip(), to, _TIME_RE, engine)
        return None
    raise ValueError(f"unknown contract dtype {dtype!r}")


@dataclass
class TablePlan:
    """How one contract table is read from the source: the renamed raw table and its typed form."""

    name: str
    raw: ir.Table  # source columns, renamed to the contract's names
    typed: ir.Table  # contract columns first, cast; uncastable columns left as they are
    exprs: dict[str, ir.Column]  # the typed contract columns, as expressions over ``raw``
    present: list[str]  # contract columns the source really has
    castable: dict[str, bool]  # per present column: could it be cast to the contract type?
    cast_from_text: list[str]  # present columns parsed from text (may hold unparseable values)
    mapping_problems: list[Problem]


def _plan(name: str, raw: ir.Table, renames: dict[str, str], engine: str) -> TablePlan:
    raw, problems = _apply_mapping(name, raw, renames)
    table = contract.table(name)
    exprs, castable, from_text = {}, {}, []
    for c in table.columns:
        if c.name in raw.columns:
            typed = cast_column(raw[c.name], c.dtype, engine)
            castable[c.name] = typed is not None
            if typed is None:
                typed = raw[c.name]  # validation reports its type
            elif raw[c.name].type().is_string() and c.dtype != "string":
                from_text.append(c.name)
            exprs[c.name] = typed
        elif not c.required:
            exprs[c.name] = ibis.null(IBIS_TYPES[c.dtype])
    extras = {col: raw[col] for col in raw.columns if col not in table.column_names}
    typed_table = raw.select(**exprs, **extras)
    present = [c for c in table.column_names if c in raw.columns]
    return TablePlan(name, raw, typed_table, exprs, present, castable, from_text, problems)


# --------------------------------------------------------------------------- FanData


class FanData:
    """The contract tables of one data source, as ibis tables, plus a counted door into pandas.

    Use ``connect()`` to make one. Tables are lazy ibis expressions: filter,
    join and aggregate them, then pull only the small result with
    ``execute``.
    """

    def __init__(self, loaded: _Loaded, mapping: dict | None = None, now=None):
        self.con = loaded.con
        self.now: _dt.datetime = _as_naive(now)
        self.mapping: dict = dict(mapping or {})
        #: How the contract check went: None (not checked), "checked", or "earlier in this run".
        self.validated: str | None = None
        #: (label, rows) for every result pulled into pandas through ``execute``.
        self.materialized: list[tuple[str, int]] = []
        self._description = loaded.description
        self._tmpdir = loaded.tmpdir
        self._stats: dict[str, dict] | None = None
        self._structure: dict[str, list[Problem]] = {}
        engine = self.con.name
        unknown = [k for k in self.mapping if k not in contract.TABLES]
        self.mapping_problems = [
            Problem(k, None, "mapping", None, [],
                    f"the mapping names table {k!r}, which is not a contract table; "
                    f"the tables are {', '.join(contract.TABLE_NAMES)}")
            for k in unknown
        ]
        self.plans: dict[str, TablePlan] = {
            name: _plan(name, raw, self.mapping.get(name) or {}, engine) for name, raw in loaded.raw.items()
        }
        for k, renames in self.mapping.items():
            if k in contract.TABLES and k not in self.plans and renames:
                self.mapping_problems.append(Problem(k, None, "mapping", None, [],
                                                     f"the mapping renames columns of {k!r}, "
                                                     "but the source has no such table"))
        if self._tmpdir:
            self._finalizer = weakref.finalize(self, shutil.rmtree, self._tmpdir, True)

    # ---- tables

    def has(self, name: str) -> bool:
        """Whether the source provides contract table ``name``."""
        contract.table(name)  # unknown names are a programming error
        return name in self.plans

    def table(self, name: str) -> ir.Table:
        """Contract table ``name`` with the contract's column names and types.

        Raises ``MissingTableError`` if the source lacks it, and ``ContractError``
        if a required column is missing or has a type that cannot be cast.
        """
        if not self.has(name):
            raise MissingTableError(name, self.describe_source())
        problems = self.structure_problems(name)
        if problems:
            raise ContractError(problems, self.describe_source())
        return self.plans[name].typed

    def structure_problems(self, name: str) -> list[Problem]:
        """Missing required columns, types that cannot be cast, and mapping mistakes of one table."""
        from fanlib.validate import structure_problems

        if name not in self._structure:
            self._structure[name] = structure_problems(self, name)
        return self._structure[name]

    def present_columns(self, name: str) -> list[str]:
        """The contract columns that the source really has (the others are typed NULL columns)."""
        if not self.has(name):
            raise MissingTableError(name, self.describe_source())
        return list(self.plans[name].present)

    @property
    def fans(self) -> ir.Table:
        return self.table("fans")

    @property
    def events(self) -> ir.Table:
        return self.table("events")

    @property
    def orders(self) -> ir.Table:
        return self.table("orders")

    @property
    def comments(self) -> ir.Table:
        return self.table("comments")

    @property
    def assignments(self) -> ir.Table:
        return self.table("assignments")

    # ---- the door into pandas

    def execute(self, expr, max_rows: int | None = None, label: str | None = None):
        """Run ``expr`` in the engine and return the (small) result in pandas.

        ``max_rows`` guards against pulling a large table: a table result with
        more rows raises ``ValueError`` (only ``max_rows + 1`` rows are fetched).
        Every call is recorded in ``materialized`` as ``(label, rows)``.
        """
        label = label or _label(expr)
        if max_rows is not None and isinstance(expr, (ir.Table, ir.Column)):
            capped = expr.limit(max_rows + 1) if isinstance(expr, ir.Table) else expr.as_table().limit(max_rows + 1)
            result = self.con.execute(capped)
            if isinstance(expr, ir.Column):
                result = result.iloc[:, 0]
            if len(result) > max_rows:
                self.materialized.append((label, len(result)))
                raise ValueError(f"{label}: the result has more than {max_rows:,} rows; aggregate it in the "
                                 "engine before pulling it into pandas")
        else:
            result = self.con.execute(expr)
        rows = len(result) if hasattr(result, "__len__") and not isinstance(result, str) else 1
        self.materialized.append((label, rows))
        return result

    # ---- summaries

    def _table_stats(self) -> dict[str, dict]:
        """Row count and time range per table: one aggregate query per table, cached."""
        if self._stats is None:
            stats = {}
            for name, plan in self.plans.items():
                # Works on data that fails validation too, so reports can describe it.
                t = plan.typed
                tcol = contract.table(name).time_column
                metrics = {"rows": t.count()}
                if plan.castable.get(tcol):
                    metrics.update(min_time=t[tcol].min(), max_time=t[tcol].max())
                row = self.execute(t.aggregate(**metrics), label=f"data:{name}:stats").iloc[0]
                stats[name] = {
                    "rows": int(row["rows"]),
                    "min_time": _iso(row.get("min_time")),
                    "max_time": _iso(row.get("max_time")),
                }
            self._stats = stats
        return self._stats

    def row_counts(self) -> dict[str, int]:
        """Rows per table the source provides, counted in the engine."""
        return {name: s["rows"] for name, s in self._table_stats().items()}

    def date_range(self):
        """(first, last) timestamp over events, orders and comments; (None, None) if there are none."""
        import pandas as pd

        stats = self._table_stats()
        lows = [stats[n]["min_time"] for n in ("events", "orders", "comments") if n in stats and stats[n]["min_time"]]
        highs = [stats[n]["max_time"] for n in ("events", "orders", "comments") if n in stats and stats[n]["max_time"]]
        if not lows:
            return (None, None)
        return (pd.Timestamp(min(lows)), pd.Timestamp(max(highs)))

    def fingerprint(self) -> str:
        """A stable hash of the data: per-table row counts, time ranges and contract schema.

        The same data gives the same fingerprint whatever the source kind
        (DuckDB, CSV, Parquet, Excel, PostgreSQL).
        """
        stats = self._table_stats()
        payload = {
            name: {
                **stats[name],
                "columns": [[c, str(self.plans[name].typed[c].type())] for c in self.plans[name].present],
            }
            for name in sorted(stats)
        }
        blob = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode("utf-8")
        return hashlib.sha256(blob).hexdigest()[:16]

    def describe_source(self) -> str:
        """A short human description of the source (passwords masked)."""
        return self._description

    def close(self) -> None:
        """Disconnect and remove any temporary copy of CSV or Excel data."""
        try:
            self.con.disconnect()
        except Exception:  # already closed
            pass
        if self._tmpdir:
            self._finalizer()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        return f"<FanData {self.describe_source()}; tables: {', '.join(self.plans) or 'none'}>"


def _label(expr) -> str:
    try:
        return f"query:{expr.get_name()}"
    except Exception:
        return "query"


def _iso(value) -> str | None:
    import pandas as pd

    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return pd.Timestamp(value).isoformat(sep=" ")


def connect(source=DEFAULT_SOURCE, mapping: dict | None = None, validate: bool = True, now=None) -> FanData:
    """Open a fan data source and hand out its contract tables.

    ``source``: a DuckDB file, a folder of CSV/Parquet/Excel files named after
    the tables, an Excel workbook with a sheet per table, or a database URL.
    ``mapping``: per-table column renames from the source's names to the
    contract's, e.g. ``{"fans": {"用户ID": "fan_id"}}``.
    ``validate``: check the data against the contract and raise
    ``fanlib.validate.ContractError`` listing every problem.
    ``now``: the moment timestamps must not exceed (default: now in China Standard Time).
    """
    if mapping is not None and not isinstance(mapping, dict):
        raise TypeError(f"mapping must be a dict of per-table column renames, not {type(mapping).__name__}")
    fd = FanData(_load(source), mapping=mapping, now=now)
    if validate:
        from fanlib.validate import validate as _validate

        try:
            _validate(fd)
        except ContractError:
            fd.close()
            raise
    return fd


def sample_tables(n_fans: int = 40, seed: int = 0) -> dict:
    """A small data set that meets the contract (all five tables), as pandas DataFrames.

    For examples, documentation and tests of loaders; the demo generator
    (``fanlib.demo``) makes the realistic data set.
    """
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2025-01-01")
    fan_ids = [f"F{i:05d}" for i in range(n_fans)]
    fans = pd.DataFrame({
        "fan_id": fan_ids,
        "join_time": start + pd.to_timedelta(rng.integers(0, 60 * 86400, n_fans), unit="s"),
        "gender": rng.choice(contract.GENDERS, n_fans),
        "birth_year": rng.integers(1975, 2006, n_fans),
        "province": rng.choice(["广东", "上海", "浙江", "四川"], n_fans),
        "city": rng.choice(["深圳", "上海", "杭州", "成都"], n_fans),
        "city_tier": rng.integers(1, 7, n_fans),
        "channel": rng.choice(contract.CHANNELS, n_fans),
        "community_id": rng.choice(["C01", "C02", "C03"], n_fans),
    })
    n_events = n_fans * 10
    events = pd.DataFrame({
        "fan_id": rng.choice(fan_ids, n_events),
        "event_time": start + pd.to_timedelta(rng.integers(60 * 86400, 120 * 86400, n_events), unit="s"),
        "event_type": rng.choice(contract.EVENT_TYPES, n_events),
        "community_id": rng.choice(["C01", "C02", "C03"], n_events),
        "content_id": [f"P{i:03d}" for i in rng.integers(0, 50, n_events)],
        "content_type": rng.choice(contract.CONTENT_TYPES, n_events),
    })
    n_orders = n_fans * 2
    orders = pd.DataFrame({
        "order_id": [f"O{i:06d}" for i in range(n_orders)],
        "fan_id": rng.choice(fan_ids, n_orders),
        "order_time": start + pd.to_timedelta(rng.integers(60 * 86400, 120 * 86400, n_orders), unit="s"),
        "amount_cny": np.round(rng.lognormal(4.5, 0.8, n_orders), 2),
        "campaign_id": rng.choice(["spring", "618"], n_orders),
        "source": rng.choice(contract.ORDER_SOURCES, n_orders),
    })
    n_comments = n_fans
    comments = pd.DataFrame({
        "comment_id": [f"M{i:05d}" for i in range(n_comments)],
        "fan_id": rng.choice(fan_ids, n_comments),
        "comment_time": start + pd.to_timedelta(rng.integers(60 * 86400, 120 * 86400, n_comments), unit="s"),
        "channel": rng.choice(contract.CHANNELS, n_comments),
        "text": rng.choice(["很喜欢这款面霜", "物流太慢了", "还行吧", "客服态度很好"], n_comments),
        "label": rng.choice(contract.SENTIMENT_LABELS, n_comments),
    })
    assignments = pd.DataFrame({
        "experiment_id": "exp_coupon",
        "fan_id": fan_ids,
        "variant": rng.choice(["control", "treatment"], n_fans),
        "assigned_time": start + pd.Timedelta(days=61),
    })
    return {"fans": fans, "events": events, "orders": orders, "comments": comments, "assignments": assignments}
