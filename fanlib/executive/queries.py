"""The overview's own engine queries: the daily KPIs its early warnings judge."""

from __future__ import annotations

from typing import Any

import pandas as pd

from fanlib.executive.stats import KPIS

#: The daily KPIs read from the events table; orders-only data has none of them.
EVENT_KPIS = ("active_fans", "events")
#: The group of fans whose channel or community is not known.
UNKNOWN = "unknown"


def daily_kpis(fd: Any, by: str | None = None, start: Any = None, end: Any = None) -> pd.DataFrame:
    """Daily KPIs, computed in the engine; ``by`` = 'channel' or 'community_id' splits them.

    Returns one row per day (and group): date, [group], active_fans, events, orders, gmv, new_members,
    with zero-filled days so that a day with no activity is a zero, not a gap. Without an events table
    (orders-only data) ``active_fans`` and ``events`` are left out (not zeros: they are not known); fans
    without a channel are the channel ``unknown``.
    """
    if by not in (None, "channel", "community_id"):
        raise ValueError(f"by must be None, 'channel' or 'community_id', not {by!r}")
    fans = fd.fans.select("fan_id", "channel", "community_id", "join_time")
    fans = fans.mutate(channel=fans.channel.fill_null(UNKNOWN))  # orders-only data may not know the channel
    orders = fd.orders
    group = [] if by is None else [by]

    def per_day(t: Any, time_col: str, **metrics: Any) -> pd.DataFrame:
        if by is not None and by not in t.columns:
            t = t.join(fans.select("fan_id", by), "fan_id")
        if start is not None:
            t = t.filter(t[time_col] >= pd.Timestamp(start))
        if end is not None:
            t = t.filter(t[time_col] < pd.Timestamp(end) + pd.Timedelta(days=1))
        keys = [t[time_col].date().name("date")] + [t[g] for g in group]
        return fd.execute(
            t.group_by(keys).aggregate(**{k: f(t) for k, f in metrics.items()}),
            label=f"early_warning:{time_col}:{by or 'all'}",
        )

    od = per_day(
        orders.select("fan_id", "order_time", "amount_cny"),
        "order_time",
        orders=lambda t: t.count(),
        gmv=lambda t: t.amount_cny.sum(),
    )
    nm = per_day(fans.select("fan_id", "join_time", *group), "join_time", new_members=lambda t: t.count())
    parts, kpis = [od, nm], [k for k in KPIS if k not in EVENT_KPIS]
    if fd.has("events"):
        # Events carry their own community_id; channel comes from the fan.
        events = fd.events
        ev = per_day(
            events.select("fan_id", "event_time", *([by] if by == "community_id" else [])),
            "event_time",
            active_fans=lambda t: t.fan_id.nunique(),
            events=lambda t: t.count(),
        )
        parts, kpis = [ev, *parts], list(KPIS)
    out = parts[0]
    for part in parts[1:]:
        out = out.merge(part, on=["date", *group], how="outer")
    out = out.dropna(subset=["date"])  # a fan whose join time is not known joined on no day
    if out.empty:
        return pd.DataFrame(columns=["date", *group, *kpis])
    out["date"] = pd.to_datetime(out["date"])
    days = pd.date_range(out["date"].min(), out["date"].max(), freq="D", name="date")
    if group:
        index = pd.MultiIndex.from_product([days, sorted(out[by].dropna().unique())], names=["date", by])
    else:
        index = days
    out = out.set_index(["date", *group]).reindex(index).fillna(0.0).reset_index()
    return out[["date", *group, *kpis]].sort_values(["date", *group]).reset_index(drop=True)
