"""Engine-side building blocks shared by the retention modules: activity days, start dates,
the analysis date, and input checks with clear messages.

Everything here returns ibis expressions over the FanData tables; nothing is
pulled into pandas except counts and a few example ids.
"""

from __future__ import annotations

import datetime as _dt
import warnings

import ibis.expr.types as ir
import pandas as pd

from fanlib.errors import InputError

__all__ = [
    "RetentionInputError",
    "RetentionDataWarning",
    "activity_days",
    "activity_rows",
    "start_days",
    "data_end",
    "resolve_as_of",
    "orders_without_events",
    "BASES",
    "COHORT_BY",
]

#: What counts as "active": any event or order, or orders only.
BASES = ("activity", "order")
#: What starts a fan's clock: joining, or the first order.
COHORT_BY = ("join", "first_order")


class RetentionInputError(InputError, ValueError):
    """Input the retention analyses cannot use; the message says what and how to fix it."""


class RetentionDataWarning(UserWarning):
    """Data that the retention analyses can use but that readers should know about."""


def _check_choice(name: str, value: str, allowed) -> None:
    if value not in allowed:
        raise RetentionInputError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")


def activity_rows(fd, basis: str = "activity") -> ir.Table:
    """(fan_id, day) of every event and order (``basis="order"``: orders only), duplicates kept."""
    _check_choice("basis", basis, BASES)
    o = fd.orders
    days = o.select(fan_id=o.fan_id, day=o.order_time.date())
    if basis == "activity":
        e = fd.events
        days = e.select(fan_id=e.fan_id, day=e.event_time.date()).union(days, distinct=False)
    return days


def activity_days(fd, basis: str = "activity") -> ir.Table:
    """Distinct (fan_id, day) pairs on which a fan was active: any event or order, or orders only."""
    return activity_rows(fd, basis).distinct()


def start_days(fd, cohort_by: str = "join") -> ir.Table:
    """(fan_id, start_day) plus the fans' attributes: the day each fan's clock starts."""
    _check_choice("cohort_by", cohort_by, COHORT_BY)
    f = fd.fans
    attrs = dict(channel=f.channel, community_id=f.community_id, city_tier=f.city_tier)
    if cohort_by == "join":
        return f.select(fan_id=f.fan_id, start_day=f.join_time.date(), **attrs)
    o = fd.orders
    first = o.group_by(o.fan_id).aggregate(start_day=o.order_time.min().date())
    return first.join(f.select(fan_id=f.fan_id, **attrs), "fan_id")


def data_end(fd) -> _dt.date:
    """The last day with any event or order (the default analysis date)."""
    e, o = fd.events, fd.orders
    last_event = fd.execute(e.event_time.max(), label="retention:data_end:events")
    last_order = fd.execute(o.order_time.max(), label="retention:data_end:orders")
    ends = [v for v in (last_event, last_order) if v is not None and not pd.isna(v)]
    if not ends:
        raise RetentionInputError("the events and orders tables are empty, so there is nothing to analyse")
    return max(pd.Timestamp(v) for v in ends).date()


def resolve_as_of(fd, as_of=None) -> tuple[_dt.date, _dt.date]:
    """(as_of, data_end): the analysis date (default: the data's last day), checked against the data."""
    end = data_end(fd)
    if as_of is None:
        return end, end
    day = pd.Timestamp(as_of).date()
    if day > end:
        raise RetentionInputError(
            f"the analysis date {day} is after the data ends ({end}); "
            "choose a date on or before the last day with events or orders"
        )
    return day, end


def orders_without_events(fd, examples: int = 5) -> tuple[int, list[str]]:
    """How many fans have orders but no events at all, with a few example fan ids."""
    o, e = fd.orders, fd.events
    buyers = o.select("fan_id").distinct()
    lonely = buyers.anti_join(e.select("fan_id").distinct(), "fan_id")
    n = int(fd.execute(lonely.count(), label="retention:orders_without_events"))
    ids = fd.execute(lonely.order_by("fan_id").limit(examples), label="retention:orders_without_events:examples")
    return n, ids["fan_id"].astype(str).tolist() if n else []


def warn_orders_without_events(fd, basis: str) -> str | None:
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
