"""Analysis dates and windows shared by the profiling modules.

The analysis date is the one every report uses (:func:`fanlib.data.asof.resolve_as_of`); this module
only says its refusals in the profiling report's words (``err_no_data``, ``err_after_data``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import ibis

from fanlib.data.asof import AnalysisDateError, to_date
from fanlib.data.asof import resolve_as_of as _shared_as_of
from fanlib.profiling.errors import ProfilingDataError, formatted


@dataclass(frozen=True)
class Note:
    """A caveat about the data behind a figure, said in the report's language (``note_<key>``)."""

    key: str
    fields: dict = field(default_factory=dict)

    def text(self, T: Any) -> str:
        return T(f"note_{self.key}", **formatted(self.fields, T.lang))

    def __str__(self) -> str:
        from fanlib.present.i18n import messages

        return self.text(messages("fan_profiling", "en"))


@dataclass(frozen=True)
class Window:
    """A half-open time window ``[start, end)`` ending at the close of the analysis day."""

    start: dt.datetime
    end: dt.datetime

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def as_of(self) -> dt.date:
        return (self.end - dt.timedelta(days=1)).date()

    def label(self) -> str:
        return f"{self.start.date()} … {self.as_of}"

    @property
    def period(self) -> tuple[dt.date, dt.date]:
        return self.start.date(), self.as_of

    def lit_start(self) -> ibis.Expr:
        return ibis.literal(self.start, type="timestamp")

    def lit_end(self) -> ibis.Expr:
        return ibis.literal(self.end, type="timestamp")


def window(as_of: Any, days: int) -> Window:
    """The ``days``-day window ending with the analysis day ``as_of`` (inclusive)."""
    if int(days) < 1:
        raise ProfilingDataError(f"window length must be at least 1 day, got {days}")
    end = dt.datetime.combine(to_date(as_of) + dt.timedelta(days=1), dt.time())
    return Window(end - dt.timedelta(days=int(days)), end)


def resolve_as_of(fd: Any, as_of: Any = None) -> dt.date:
    """``as_of`` as a date, or the last day with an event or an order when it is None."""
    try:
        return _shared_as_of(fd, as_of).day
    except AnalysisDateError as exc:
        if as_of is None:
            raise ProfilingDataError(
                "tables 'events' and 'orders' are both empty: there is no analysis date", "no_data"
            ) from exc
        raise ProfilingDataError(str(exc), "after_data", as_of=to_date(as_of)) from exc


def days_between(later: ibis.Expr, earlier: ibis.Expr) -> ibis.Expr:
    """Days (fractional) between two ibis timestamp expressions."""
    # float64 first: Spark reads 86400.0 as a DECIMAL and would round the quotient to 6 places.
    return (later.epoch_seconds() - earlier.epoch_seconds()).cast("float64") / 86400.0


def count_in_window(fd: Any, table: str, column: str, w: Window) -> int:
    """Rows of ``table`` whose ``column`` falls in the window."""
    t = fd.table(table)
    expr = t.filter((t[column] >= w.lit_start()) & (t[column] < w.lit_end())).count()
    return int(fd.execute(expr))


def require_events(fd: Any, w: Window) -> int:
    """The number of events in the window; a clear error when there are none."""
    n = count_in_window(fd, "events", "event_time", w)
    if n == 0:
        raise ProfilingDataError(
            f"table 'events' has no rows with event_time in {w.label()} (check: window not empty); "
            "choose an as_of date or window inside the data's date range",
            "empty_window",
            period=w.period,
        )
    return n
