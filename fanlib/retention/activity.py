"""Engine-side building blocks shared by the retention queries: activity days, start dates,
the analysis date (the shared one of :mod:`fanlib.data.asof`), and input checks with clear messages.

Everything here returns ibis expressions over the FanData tables; nothing is
pulled into pandas except counts and a few example ids.
"""

from __future__ import annotations

import datetime as _dt
import warnings
from collections.abc import Sequence
from typing import Any

import ibis.expr.types as ir

from fanlib.data import asof
from fanlib.data.asof import AnalysisDateError, AsOf

from .errors import RetentionDateError, RetentionInputError

__all__ = [
    "RetentionInputError",
    "RetentionDataWarning",
    "activity_days",
    "activity_rows",
    "start_days",
    "last_activity_day",
    "analysis_date",
    "orders_without_events",
    "effective_basis",
    "BASES",
    "COHORT_BY",
]

#: What counts as "active": any event or order, or orders only.
BASES = ("activity", "order")
#: What starts a fan's clock: joining, or the first order.
COHORT_BY = ("join", "first_order")


class RetentionDataWarning(UserWarning):
    """Data that the retention analyses can use but that readers should know about (the report shows
    it once, in the reader's language, and silences the warning itself)."""


#: Why there is no analysis date when the data has no activity at all (the words the report has always used).
NO_ACTIVITY = "the events and orders tables are empty, so there is nothing to analyse"


def _check_choice(name: str, value: str, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise RetentionInputError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")


def effective_basis(fd: Any, basis: str) -> str:
    """What activity can mean in this source: ``basis``, except that a source without events has orders only."""
    _check_choice("basis", basis, BASES)
    return basis if fd.has("events") else "order"


def activity_rows(fd: Any, basis: str = "activity") -> ir.Table:
    """(fan_id, day) of every event and order (``basis="order"``, or a source without events: orders only),
    duplicates kept."""
    o = fd.orders
    days = o.select(fan_id=o.fan_id, day=o.order_time.date())
    if effective_basis(fd, basis) == "activity":
        e = fd.events
        days = e.select(fan_id=e.fan_id, day=e.event_time.date()).union(days, distinct=False)
    return days


def activity_days(fd: Any, basis: str = "activity") -> ir.Table:
    """Distinct (fan_id, day) pairs on which a fan was active: any event or order, or orders only."""
    return activity_rows(fd, basis).distinct()


def start_days(fd: Any, cohort_by: str = "join", attributes: Sequence[str] = (), as_of: Any = None) -> ir.Table:
    """(fan_id, start_day) plus the fans' channel, community and city tier, and the declared fan
    ``attributes`` named (as of ``as_of``, :func:`fanlib.data.attributes.fan_attributes`): the day each
    fan's clock starts."""
    _check_choice("cohort_by", cohort_by, COHORT_BY)
    f = fd.fans
    attrs = dict(channel=f.channel, community_id=f.community_id, city_tier=f.city_tier)
    if cohort_by == "join":
        out = f.select(fan_id=f.fan_id, start_day=f.join_time.date(), **attrs)
    else:
        o = fd.orders
        first = o.group_by(o.fan_id).aggregate(start_day=o.order_time.min().date())
        out = first.join(f.select(fan_id=f.fan_id, **attrs), "fan_id")
    extra = [c for c in dict.fromkeys(attributes) if c not in attrs]
    if not extra:
        return out
    from fanlib.data.attributes import fan_attributes

    a = fan_attributes(fd, extra, as_of=as_of)
    return out.left_join(a, "fan_id").select(out, *[a[c] for c in extra])


def last_activity_day(fd: Any) -> _dt.date:
    """The last day with any event or order (the shared :func:`fanlib.data.asof.data_end`), in this
    report's words when there is none."""
    try:
        return asof.data_end(fd)
    except AnalysisDateError as exc:
        raise RetentionDateError(NO_ACTIVITY) from exc


def analysis_date(fd: Any, as_of: Any = None) -> AsOf:
    """The analysis day and the data's last day (the shared :func:`fanlib.data.asof.resolve_as_of`);
    its refusals are :class:`RetentionDateError`, so they read as this report's input errors."""
    last_activity_day(fd)
    try:
        return asof.resolve_as_of(fd, as_of)
    except AnalysisDateError as exc:
        raise RetentionDateError(str(exc)) from exc


def orders_without_events(fd: Any, examples: int = 5) -> tuple[int, list[str]]:
    """How many fans have orders but no events at all, with a few example fan ids (none when the source
    has no events table: then activity means orders for every fan)."""
    if not fd.has("events"):
        return 0, []
    o, e = fd.orders, fd.events
    buyers = o.select("fan_id").distinct()
    lonely = buyers.anti_join(e.select("fan_id").distinct(), "fan_id")
    n = int(fd.execute(lonely.count(), label="retention:orders_without_events"))
    ids = fd.execute(lonely.order_by("fan_id").limit(examples), label="retention:orders_without_events:examples")
    return n, ids["fan_id"].astype(str).tolist() if n else []


def warn_orders_without_events(fd: Any, basis: str) -> str | None:
    """Warn (and return the message) when fans have orders but no events."""
    n, ids = orders_without_events(fd)
    if not n:
        return None
    if basis == "activity":
        msg = (
            f"{n:,} fans have orders but no events (e.g. {', '.join(ids)}); they count as active only on "
            "their order days — check that event tracking covers them"
        )
    else:
        msg = f"{n:,} fans have orders but no events (e.g. {', '.join(ids)})"
    warnings.warn(msg, RetentionDataWarning, stacklevel=3)
    return msg
