"""``FanData``: the contract tables of one data source, as lazy ibis tables, and the one door into pandas.

``fanlib.data.fandata.connect`` makes one. The tables carry the contract's column names and types
(``fanlib.data.columns`` plans the casts); a table whose structure is broken is refused
(``fanlib.data.structure``). Everything runs in the engine; ``FanData.execute`` is the only door into
pandas and records what it pulled in ``FanData.materialized``.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import shutil
import weakref
from typing import TYPE_CHECKING, Any

import ibis.expr.types as ir

from fanlib.data import contract, derived, orders, vocabulary
from fanlib.data.clock import as_naive
from fanlib.data.columns import DECIMAL_KEY, TablePlan, decimal_marks, plan
from fanlib.data.errors import ContractError, MissingTableError, Problem, TableNotFoundError
from fanlib.data.loaded import Loaded
from fanlib.data.structure import structure_problems

if TYPE_CHECKING:
    import pandas as pd


class FanData:
    """The contract tables of one data source, as ibis tables, plus a counted door into pandas.

    Use ``connect()`` to make one. Tables are lazy ibis expressions: filter,
    join and aggregate them, then pull only the small result with
    ``execute``.
    """

    def __init__(
        self, loaded: Loaded, mapping: dict | None = None, now: Any = None, timezone: str = contract.TIMEZONE
    ) -> None:
        self.con = loaded.con
        #: The zone of every timestamp handed out (naive wall-clock time there).
        self.timezone: str = timezone
        self.now: _dt.datetime = as_naive(now, timezone)
        self.mapping: dict = dict(mapping or {})
        #: How the contract check went: None (not checked), "checked", or "earlier in this run".
        self.validated: str | None = None
        #: (label, rows) for every result pulled into pandas through ``execute``.
        self.materialized: list[tuple[str, int]] = []
        self._description = loaded.description + (f"; times in {timezone}" if timezone != contract.TIMEZONE else "")
        self._tmpdir = loaded.tmpdir
        self._source_tables = dict(loaded.tables) or {name: (lambda t=t: t) for name, t in loaded.raw.items()}
        self._skipped = dict(loaded.skipped)
        if self._tmpdir:
            self._finalizer = weakref.finalize(self, shutil.rmtree, self._tmpdir, True)
        self._stats: dict[str, dict] | None = None
        self._structure: dict[str, list[Problem]] = {}
        engine = self.con.name
        marks, self.mapping_problems = decimal_marks(self.mapping.get(DECIMAL_KEY))
        self.mapping_problems += [
            Problem(
                k,
                None,
                "mapping",
                None,
                [],
                f"the mapping names table {k!r}, which is not a contract table; "
                f"the tables are {', '.join(contract.TABLE_NAMES)}",
            )
            for k in self.mapping
            if k not in contract.TABLES and k not in (DECIMAL_KEY, vocabulary.VOCABULARY_KEY)
        ]
        self.mapping_problems += vocabulary.vocabulary_problems(self.mapping)
        #: Optional tables the source gives with no rows (a header only): read as absent. Not ``fans``: a fans
        #: file with no rows is an export gone wrong, refused rather than replaced by fans derived from orders.
        self.empty_tables: list[str] = [
            name
            for name, raw in loaded.raw.items()
            if not contract.table(name).required and name != "fans" and self._is_empty(raw)
        ]
        values = {name: vocabulary.translations(self.mapping, name) for name in loaded.raw}
        self.plans: dict[str, TablePlan] = {
            name: plan(
                name, raw, self.mapping.get(name) or {}, engine, timezone=timezone, marks=marks, values=values[name]
            )
            for name, raw in loaded.raw.items()
            if name not in self.empty_tables
        }
        for k, renames in self.mapping.items():
            if k in contract.TABLES and k not in self.plans and k not in self.empty_tables and renames:
                self.mapping_problems.append(
                    Problem(
                        k,
                        None,
                        "mapping",
                        None,
                        [],
                        f"the mapping renames columns of {k!r}, but the source has no such table",
                    )
                )
        #: Tables the source lacks that were derived from others: name -> the tables they came from.
        self.derived: dict[str, list[str]] = {}
        fans = derived.derived_fans(self.plans) if "fans" not in self.plans else None
        if fans is not None:
            self.plans["fans"] = plan("fans", fans, {}, engine, timezone=timezone)
            self.derived["fans"] = derived.activity_sources(self.plans)
        self._views: dict[str, ir.Table] = {}
        self._join_times: derived.JoinTimes | None = None
        self._cleaning: orders.OrderCleaning | None = None
        self._order_columns: list[str] | None = None

    def _is_empty(self, raw: ir.Table) -> bool:
        try:
            return int(self.con.execute(raw.limit(1).count())) == 0
        except Exception:  # an unreadable table is not empty: validation reports why it cannot be read
            return False

    # ---- tables

    def has(self, name: str) -> bool:
        """Whether the source provides contract table ``name`` (``fans`` also when derived from activity)."""
        contract.table(name)  # unknown names are a programming error
        return name in self.plans

    def is_derived(self, name: str) -> bool:
        """Whether table ``name`` was derived from other tables (``fans`` from orders and events)."""
        return name in self.derived

    def table(self, name: str) -> ir.Table:
        """Contract table ``name`` with the contract's column names and types.

        ``fans`` has each missing join time filled from the fan's first order or event; ``orders`` holds
        paid orders, one row per order (``fanlib.data.orders``). Raises ``MissingTableError`` if the
        source lacks the table, and ``ContractError`` if a required column is missing or has a type that
        cannot be cast.
        """
        if not self.has(name):
            raise MissingTableError(name, self.describe_source(), empty=name in self.empty_tables)
        problems = self.structure_problems(name)
        if problems:
            raise ContractError(problems, self.describe_source())
        if name not in self._views:
            self._views[name] = self._view(name)
        return self._views[name]

    def _view(self, name: str) -> ir.Table:
        typed = self.plans[name].typed
        if name == "orders":
            return orders.clean_orders(self.plans[name], self.order_columns())
        if name == "fans" and not self.is_derived("fans") and self.join_times().missing:
            first = derived.first_activity(self.plans)
            return typed if first is None else derived.filled_fans(typed, first)
        return typed

    def join_times(self) -> derived.JoinTimes:
        """Fans whose join time the source leaves out, and how many were filled from a first order or event
        (all of them, when the fans are derived)."""
        if self._join_times is None:
            if not self.has("fans"):
                self._join_times = derived.JoinTimes(0, 0)
            elif self.is_derived("fans"):
                n = self._table_stats()["fans"]["rows"]
                self._join_times = derived.JoinTimes(n, n)
            elif "join_time" in self.plans["fans"].present and not self._join_time_gaps():
                self._join_times = derived.JoinTimes(0, 0)
            else:
                self._join_times = derived.join_time_counts(self.plans["fans"], self.plans, self.execute)
        return self._join_times

    def _join_time_gaps(self) -> int:
        """Fans without a join time in the source: from the cached table statistics, else one count on fans
        alone (not a scan of every table)."""
        if self._stats is not None:
            return self._stats["fans"].get("null_time", 0)
        t = self.plans["fans"].typed
        return _whole(self.execute(t.join_time.isnull().sum(), label="data:fans:join_time_gaps"))

    def order_cleaning(self) -> orders.OrderCleaning | None:
        """The source's order rows, the paid orders counted, and what was left out as cancelled or returned
        (None without orders)."""
        if not self.has("orders"):
            return None
        if self._cleaning is None:
            self._cleaning = orders.order_cleaning(self.plans["orders"], self.order_columns(), self.execute)
        return self._cleaning

    def order_columns(self) -> list[str]:
        """The columns of the source's orders that are given; ``quantity``, ``unit_price`` and ``status``
        only when they hold a value (``fanlib.data.orders.used_columns``)."""
        if self._order_columns is None:
            self._order_columns = orders.used_columns(self.plans["orders"], self.execute)
        return self._order_columns

    def source_tables(self) -> list[str]:
        """Every table the source holds, contract or not, as the source names them (a folder's files
        without their suffix, a workbook's sheets, a database's tables)."""
        return list(self._source_tables)

    def raw_table(self, name: str) -> ir.Table:
        """A table of the source as it is (no mapping, no casts), e.g. a one-row-per-fan unit table.

        Names match exactly, else in any letter case and without surrounding spaces. CSV columns come as
        text. Raises ``TableNotFoundError`` listing the tables found and why entries were not read.
        """
        key = str(name).strip().lower()
        match = [n for n in self._source_tables if n == name] or [
            n for n in self._source_tables if n.strip().lower() == key
        ]
        if len(match) != 1:
            raise TableNotFoundError(str(name), self.source_tables(), self._skipped, self.describe_source())
        return self._source_tables[match[0]]()

    def codes(self, vocabulary_name: str) -> tuple[str, ...]:
        """The codes of ``channel`` or ``event_type``: the built-in ones, then those the mapping declares."""
        return vocabulary.codes(self.mapping, vocabulary_name)

    def structure_problems(self, name: str) -> list[Problem]:
        """Missing required columns, types that cannot be cast, and mapping mistakes of one table."""
        if name not in self._structure:
            self._structure[name] = structure_problems(self.plans[name], name, self.now, self.execute)
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

    def execute(self, expr: ir.Expr, max_rows: int | None = None, label: str | None = None) -> Any:
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
                raise ValueError(
                    f"{label}: the result has more than {max_rows:,} rows; aggregate it in the "
                    "engine before pulling it into pandas"
                )
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
                    metrics.update(min_time=t[tcol].min(), max_time=t[tcol].max(), null_time=t[tcol].isnull().sum())
                row = self.execute(t.aggregate(**metrics), label=f"data:{name}:stats").iloc[0]
                stats[name] = {
                    "rows": int(row["rows"]),
                    "min_time": _iso(row.get("min_time")),
                    "max_time": _iso(row.get("max_time")),
                    "null_time": _whole(row.get("null_time")),
                }
            self._stats = stats
        return self._stats

    def row_counts(self) -> dict[str, int]:
        """Rows per table the source provides, counted in the engine."""
        return {name: s["rows"] for name, s in self._table_stats().items()}

    def date_range(self) -> tuple[pd.Timestamp, pd.Timestamp] | tuple[None, None]:
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
                **{k: v for k, v in stats[name].items() if k != "null_time"},
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

    def __enter__(self) -> FanData:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<FanData {self.describe_source()}; tables: {', '.join(self.plans) or 'none'}>"


def _label(expr: ir.Expr) -> str:
    try:
        return f"query:{expr.get_name()}"
    except Exception:
        return "query"


def _whole(value: Any) -> int:
    """An engine count as int; an empty sum (NULL, NaN) is 0."""
    return 0 if value is None or value != value else int(value)


def _iso(value: Any) -> str | None:
    import pandas as pd

    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return pd.Timestamp(value).isoformat(sep=" ")
