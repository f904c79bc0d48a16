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

from fanlib.data import contract
from fanlib.data.clock import as_naive
from fanlib.data.columns import DECIMAL_KEY, TablePlan, decimal_marks, plan
from fanlib.data.errors import ContractError, MissingTableError, Problem
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
            if k not in contract.TABLES and k != DECIMAL_KEY
        ]
        #: Optional tables the source gives with no rows (a header only): read as absent.
        self.empty_tables: list[str] = [
            name for name, raw in loaded.raw.items() if not contract.table(name).required and self._is_empty(raw)
        ]
        self.plans: dict[str, TablePlan] = {
            name: plan(name, raw, self.mapping.get(name) or {}, engine, timezone=timezone, marks=marks)
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


def _iso(value: Any) -> str | None:
    import pandas as pd

    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return pd.Timestamp(value).isoformat(sep=" ")
