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
types (see ``fanlib.data.contract``): identifiers are cast to strings, dates and
date strings to timestamps, numbers to int or float, all in the engine
(``fanlib.data.columns``). Timestamps come out naive in one declared zone
(``timezone``, Asia/Shanghai by default): time-zone-aware values of every
source kind are converted to it. Optional columns that the source lacks are
added as typed NULL columns, so downstream code can always refer to them;
check ``fd.present_columns(name)`` to learn which ones the source really has.
Columns that are not in the contract are kept, after the contract's columns.
An optional table with no rows (a CSV with only its header) is read as absent.

Opening the sources is ``fanlib.data.sources``' work. Everything runs in the
engine; ``FanData.execute`` is the only door into pandas and records what it
pulled in ``FanData.materialized``.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import shutil
import weakref
from zoneinfo import ZoneInfo

import ibis.expr.types as ir

from fanlib.data import contract
from fanlib.data.columns import DECIMAL_KEY, TablePlan, decimal_marks, plan
from fanlib.data.columns import IBIS_TYPES  # noqa: F401 - re-exported: the contract's ibis types
from fanlib.data.engine import DUCKDB_MEMORY_LIMIT, duckdb_memory_limit  # noqa: F401 - re-exported
from fanlib.data.sources import (  # noqa: F401 - the loaders' public names, re-exported
    CSV_MAX_LINE_BYTES,
    SourceError,
    detect_encoding,
    open_source,
    transcode_to_utf8,
)
from fanlib.data.sources import _Loaded, _mask_url  # noqa: F401
from fanlib.data.validate import ContractError, Problem
from fanlib.errors import InputError

DEFAULT_SOURCE = "data/demo.duckdb"


class MissingTableError(InputError, LookupError):
    """An optional contract table that the data source does not provide (or provides with no rows)."""

    def __init__(self, name: str, source: str = "", empty: bool = False):
        self.table = name
        where = f" in {source}" if source else ""
        what = "has no rows (a header only) and is read as absent" if empty else "is not available"
        super().__init__(f"table {name!r} {what}{where}; check fd.has({name!r}) before using it")

    def __str__(self) -> str:  # LookupError would quote the message like a key
        return self.args[0]


def local_now(timezone: str = contract.TIMEZONE) -> _dt.datetime:
    """The current time as a naive timestamp in ``timezone``, like the contract's."""
    return _dt.datetime.now(ZoneInfo(timezone)).replace(tzinfo=None, microsecond=0)


def shanghai_now() -> _dt.datetime:
    """The current time as a naive China Standard Time timestamp."""
    return local_now(contract.TIMEZONE)


def _as_naive(value, timezone: str = contract.TIMEZONE) -> _dt.datetime:
    """``value`` (None: now) as a naive timestamp in ``timezone``; aware values are converted to it."""
    if value is None:
        return local_now(timezone)
    if isinstance(value, str):
        try:
            value = _dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"now {value!r} is not a date or time like 2025-06-30 or 2025-06-30 12:00:00") from None
    if isinstance(value, _dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(ZoneInfo(timezone)).replace(tzinfo=None)
        return value
    if isinstance(value, _dt.date):
        return _dt.datetime.combine(value, _dt.time())
    if hasattr(value, "to_pydatetime"):
        return _as_naive(value.to_pydatetime(), timezone)
    raise TypeError(f"now must be a datetime, date or ISO string, not {type(value).__name__}")


# --------------------------------------------------------------------------- FanData


class FanData:
    """The contract tables of one data source, as ibis tables, plus a counted door into pandas.

    Use ``connect()`` to make one. Tables are lazy ibis expressions: filter,
    join and aggregate them, then pull only the small result with
    ``execute``.
    """

    def __init__(self, loaded: _Loaded, mapping: dict | None = None, now=None, timezone: str = contract.TIMEZONE):
        self.con = loaded.con
        #: The zone of every timestamp handed out (naive wall-clock time there).
        self.timezone: str = timezone
        self.now: _dt.datetime = _as_naive(now, timezone)
        self.mapping: dict = dict(mapping or {})
        #: How the contract check went: None (not checked), "checked", or "earlier in this run".
        self.validated: str | None = None
        #: (label, rows) for every result pulled into pandas through ``execute``.
        self.materialized: list[tuple[str, int]] = []
        self._description = loaded.description + (f"; times in {timezone}" if timezone != contract.TIMEZONE else "")
        self._tmpdir = loaded.tmpdir
        if self._tmpdir:
            self._finalizer = weakref.finalize(self, shutil.rmtree, self._tmpdir, True)
        self._stats: dict[str, dict] | None = None
        self._structure: dict[str, list[Problem]] = {}
        engine = self.con.name
        marks, self.mapping_problems = decimal_marks(self.mapping.get(DECIMAL_KEY))
        self.mapping_problems += [
            Problem(k, None, "mapping", None, [],
                    f"the mapping names table {k!r}, which is not a contract table; "
                    f"the tables are {', '.join(contract.TABLE_NAMES)}")
            for k in self.mapping if k not in contract.TABLES and k != DECIMAL_KEY
        ]
        #: Optional tables the source gives with no rows (a header only): read as absent.
        self.empty_tables: list[str] = [
            name for name, raw in loaded.raw.items() if not contract.table(name).required and self._is_empty(raw)
        ]
        self.plans: dict[str, TablePlan] = {
            name: plan(name, raw, self.mapping.get(name) or {}, engine, timezone=timezone, marks=marks)
            for name, raw in loaded.raw.items() if name not in self.empty_tables
        }
        for k, renames in self.mapping.items():
            if k in contract.TABLES and k not in self.plans and k not in self.empty_tables and renames:
                self.mapping_problems.append(Problem(k, None, "mapping", None, [],
                                                     f"the mapping renames columns of {k!r}, "
                                                     "but the source has no such table"))

    def _is_empty(self, raw: ir.Table) -> bool:
        try:
            return int(self.con.execute(raw.limit(1).count())) == 0
        except Exception:  # an unreadable table is not empty: validation reports why it cannot be read
            return False

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
            raise MissingTableError(name, self.describe_source(), empty=name in self.empty_tables)
        problems = self.structure_problems(name)
        if problems:
            raise ContractError(problems, self.describe_source())
        return self.plans[name].typed

    def structure_problems(self, name: str) -> list[Problem]:
        """Missing required columns, types that cannot be cast, and mapping mistakes of one table."""
        from fanlib.data.validate import structure_problems

        if name not in self._structure:
            self._structure[name] = structure_problems(self, name)
        return self._structure[name]

    def present_columns(self, name: str) -> list[str]:
        """The contract columns that the source really has (the others are typed NULL columns)."""
        if not self.has(name):
            raise MissingTableError(name, self.describe_source(), empty=name in self.empty_tables)
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


def connect(source=DEFAULT_SOURCE, mapping: dict | None = None, validate: bool = True, now=None,
            timezone: str = contract.TIMEZONE) -> FanData:
    """Open a fan data source and hand out its contract tables.

    ``source``: a DuckDB file, a folder of CSV/Parquet/Excel files named after
    the tables, an Excel workbook with a sheet per table, or a database URL.
    ``mapping``: per-table column renames from the source's names to the
    contract's, e.g. ``{"fans": {"用户ID": "fan_id"}}``; its ``decimal`` entry
    declares a comma decimal mark (``{"decimal": ","}``, or per table or column:
    ``{"decimal": {"orders.amount_cny": ","}}``).
    ``validate``: check the data against the contract and raise
    ``fanlib.data.validate.ContractError`` listing every problem.
    ``now``: the moment timestamps must not exceed (default: now in ``timezone``).
    ``timezone``: the IANA zone the data's timestamps are read in: naive ones are taken as
    wall-clock time there, time-zone-aware ones are converted to it.
    """
    if mapping is not None and not isinstance(mapping, dict):
        raise TypeError(f"mapping must be a dict of per-table column renames, not {type(mapping).__name__}")
    timezone = contract.check_timezone(timezone)
    loaded = open_source(source, timezone)
    try:
        fd = FanData(loaded, mapping=mapping, now=now, timezone=timezone)
    except BaseException:
        loaded.con.disconnect()
        if loaded.tmpdir:
            shutil.rmtree(loaded.tmpdir, ignore_errors=True)
        raise
    if validate:
        from fanlib.data.validate import validate as _validate

        try:
            _validate(fd)
        except ContractError:
            fd.close()
            raise
    return fd
