"""Warnings about when the data was recorded: it ends long before the report date, or all on one day.

Neither breaks the contract (the data may be a deliberate extract), so they are warnings: the data
overview report and ``fanlib validate`` show them, and nothing fails because of them.

Why 30 days: the reports' "current" figures look back 7 to 30 days from the last day with data
(daily and monthly active fans, KPI windows, the at-risk list). When the newest event or order is
more than a month older than the report date, every such figure describes a month that is already
over, which is almost always a stale export rather than a quiet month.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from fanlib.data import contract

if TYPE_CHECKING:
    from fanlib.data.tables import FanData

#: Data whose newest record is more than this many days before the report date is flagged.
STALE_AFTER_DAYS = 30
#: The tables that record activity over time (fans' join times are not activity).
ACTIVITY_TABLES = ("events", "orders", "comments")


@dataclass(frozen=True)
class DataWarning:
    """One warning: which table and column, which check, and the figures behind it."""

    table: str
    column: str
    check: str  # "stale" or "single_day"
    detail: str  # English, for logs and the command line
    fields: dict = field(default_factory=dict)  # for the report's own language (catalogue key warn_<check>)

    def describe(self) -> str:
        return f"{self.table}.{self.column} [{self.check}]: {self.detail}"


def _day(value) -> _dt.date | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return pd.Timestamp(value).date()


def _time_ranges(fd) -> dict[str, tuple[int, _dt.date | None, _dt.date | None]]:
    """(rows, first day, last day) per activity table the source has with a readable time column.

    Uses the row counts and time ranges the data's fingerprint already computed (one cached
    aggregate per table), so no table is scanned again.
    """
    stats = fd._table_stats()
    out = {}
    for name in ACTIVITY_TABLES:
        if name in stats:
            s = stats[name]
            out[name] = (int(s["rows"]), _day(s.get("min_time")), _day(s.get("max_time")))
    return out


def data_warnings(fd: FanData, as_of: Any = None, stale_after_days: int = STALE_AFTER_DAYS) -> list[DataWarning]:
    """Warnings for data that ends more than ``stale_after_days`` before the report date, and for
    activity tables whose records all fall on one day.

    The report date is ``as_of`` when given, else the data's "now" (``fd.now``: today in the
    declared time zone, or ``fanlib validate --now``).
    """
    if stale_after_days < 1:
        raise ValueError(f"stale_after_days must be at least 1, got {stale_after_days}")
    reference = _day(as_of) if as_of is not None else _day(fd.now)
    found = []
    for name, (rows, first, last) in _time_ranges(fd).items():
        column = contract.table(name).time_column
        if not rows or last is None:
            continue
        gap = (reference - last).days
        if gap > stale_after_days:
            found.append(
                DataWarning(
                    name,
                    column,
                    "stale",
                    f"the newest record is from {last.isoformat()}, {gap} days before the report date "
                    f"{reference.isoformat()} (more than {stale_after_days}); the export may be out of date",
                    {"last": last.isoformat(), "days": gap, "date": reference.isoformat(), "limit": stale_after_days},
                )
            )
        if first == last:
            found.append(
                DataWarning(
                    name,
                    column,
                    "single_day",
                    f"all {rows:,} records fall on one day, {last.isoformat()}; trends, retention and windows "
                    f"need activity over many days",
                    {"rows": rows, "day": last.isoformat()},
                )
            )
    return found


__all__ = ["STALE_AFTER_DAYS", "DataWarning", "data_warnings"]
