"""Analysis dates and windows shared by the profiling modules, and their input errors."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import ibis

from fanlib.errors import InputError


class ProfilingDataError(InputError, ValueError):
    """The data cannot support a profiling section (empty window, no members, no spend …).

    The message says which table, column and check failed. ``key`` and ``fields`` let a report say
    the same in its own language (message ``err_<key>`` of the ``fan_profiling`` catalogue).
    """

    def __init__(self, message: str, key: str | None = None, **fields):
        super().__init__(message)
        self.key, self.fields = key, fields

    def text(self, T) -> str:
        """The message in the language of ``T`` (a :class:`fanlib.present.i18n.Messages`)."""
        if self.key and f"err_{self.key}" in T:
            return T(f"err_{self.key}", **_formatted(self.fields, T.lang))
        return str(self)


def _formatted(fields: dict, lang: str) -> dict:
    from fanlib.present.i18n import fmt_date, fmt_number, fmt_period

    out = {}
    for name, v in fields.items():
        if isinstance(v, tuple) and len(v) == 2:
            out[name] = fmt_period(*v, lang=lang)
        elif isinstance(v, (dt.date, dt.datetime)):
            out[name] = fmt_date(v, lang)
        elif isinstance(v, bool) or isinstance(v, str):
            out[name] = v
        elif isinstance(v, int):
            out[name] = fmt_number(v, "count", lang)
        elif isinstance(v, float):
            out[name] = fmt_number(v, "pct", lang)
        else:
            out[name] = str(v)
    return out


@dataclass(frozen=True)
class Note:
    """A caveat about the data behind a figure, said in the report's language (``note_<key>``)."""

    key: str
    fields: dict = field(default_factory=dict)

    def text(self, T) -> str:
        return T(f"note_{self.key}", **_formatted(self.fields, T.lang))

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

    def lit_start(self):
        return ibis.literal(self.start, type="timestamp")

    def lit_end(self):
        return ibis.literal(self.end, type="timestamp")


def to_date(value) -> dt.date:
    """A date from a date, datetime, pandas Timestamp or ISO string."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime().date()
    return dt.date.fromisoformat(str(value)[:10])


def window(as_of, days: int) -> Window:
    """The ``days``-day window ending with the analysis day ``as_of`` (inclusive)."""
    if int(days) < 1:
        raise ProfilingDataError(f"window length must be at least 1 day, got {days}")
    end = dt.datetime.combine(to_date(as_of) + dt.timedelta(days=1), dt.time())
    return Window(end - dt.timedelta(days=int(days)), end)


def last_data_day(fd) -> dt.date:
    """The last day with an event or an order: the default analysis date."""
    ev = fd.events.aggregate(t=fd.events.event_time.max())
    od = fd.orders.aggregate(t=fd.orders.order_time.max())
    times = [fd.execute(ev)["t"].iloc[0], fd.execute(od)["t"].iloc[0]]
    times = [t for t in times if t is not None and t == t]
    if not times:
        raise ProfilingDataError("tables 'events' and 'orders' are both empty: there is no analysis date", "no_data")
    return to_date(max(times))


def resolve_as_of(fd, as_of=None) -> dt.date:
    """``as_of`` as a date, or the last day with data when it is None."""
    return last_data_day(fd) if as_of is None else to_date(as_of)


def days_between(later, earlier):
    """Days (fractional) between two ibis timestamp expressions."""
    # float64 first: Spark reads 86400.0 as a DECIMAL and would round the quotient to 6 places.
    return (later.epoch_seconds() - earlier.epoch_seconds()).cast("float64") / 86400.0


def count_in_window(fd, table: str, column: str, w: Window) -> int:
    t = fd.table(table)
    expr = t.filter((t[column] >= w.lit_start()) & (t[column] < w.lit_end())).count()
    return int(fd.execute(expr))


def require_events(fd, w: Window) -> int:
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
