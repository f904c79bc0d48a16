"""The analysis date: one definition for every report.

A report looks at the data "as of" a day. By default that is the last day with any event or order
(comments are not activity: a complaint thread can outlast the data's last purchase). A day given by
the user must fall on or before that day; reports that need a window before it check the window
themselves. :func:`date_problem` says why a date typed on a command line is not one.
"""

from __future__ import annotations

import calendar
import datetime as _dt
import re
from typing import TYPE_CHECKING, Any, NamedTuple

import pandas as pd

from fanlib.errors import InputError

if TYPE_CHECKING:
    from fanlib.data.tables import FanData

#: The tables whose last row sets the default analysis date.
ACTIVITY_TABLES = ("events", "orders")


class AnalysisDateError(InputError, ValueError):
    """There is no analysis date: the activity tables are empty, or the date asked for is after the data."""


class AsOf(NamedTuple):
    """The analysis day, and the last day with activity in the data."""

    day: _dt.date
    data_end: _dt.date


def to_date(value: Any) -> _dt.date:
    """A date from a date, a datetime, a pandas Timestamp or ISO text."""
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    return pd.Timestamp(value).date()


def data_end(fd: FanData) -> _dt.date:
    """The last day with any event or order."""
    stats = fd._table_stats()
    ends = [stats[n]["max_time"] for n in ACTIVITY_TABLES if n in stats and stats[n].get("max_time")]
    if not ends:
        raise AnalysisDateError(
            "the source has no events or orders with a time (absent or empty): there is no analysis date "
            "(check: activity present)"
        )
    return max(pd.Timestamp(v) for v in ends).date()


def resolve_as_of(fd: FanData, as_of: Any = None) -> AsOf:
    """``as_of`` as a date (default: the data's last day with activity), checked against the data."""
    end = data_end(fd)
    if as_of is None:
        return AsOf(end, end)
    day = to_date(as_of)
    if day > end:
        raise AnalysisDateError(
            f"the analysis date {day} is after the data ends ({end}); "
            "choose a date on or before the last day with events or orders"
        )
    return AsOf(day, end)


_ISO_DAY = re.compile(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})")


def date_problem(text: str, option: str, *, time: bool = False) -> str | None:
    """Why ``text``, typed for command-line option ``option``, is not a date (or, with ``time``, a date and
    time) in ISO form; None when it is."""
    want = "YYYY-MM-DD or YYYY-MM-DD HH:MM[:SS]" if time else "YYYY-MM-DD"
    try:
        (_dt.datetime.fromisoformat if time else _dt.date.fromisoformat)(text.strip())
        if time or re.fullmatch(r"\s*\d{4}-\d{2}-\d{2}\s*", text):
            return None
    except ValueError:
        pass
    m = _ISO_DAY.match(text)
    if m:
        year, month, day = map(int, m.groups())
        if not 1 <= month <= 12:
            return f"{option} {text!r}: there is no month {month}; expected {want}"
        last = calendar.monthrange(year, month)[1]
        if not 1 <= day <= last:
            return (
                f"{option} {text!r}: that day does not exist ({calendar.month_name[month]} {year} has "
                f"{last} days); expected {want}"
            )
    return f"{option} {text!r}: not a date; expected {want}, e.g. {_dt.date.today().isoformat()}"
