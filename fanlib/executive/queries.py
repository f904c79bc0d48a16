"""The overview's own engine queries: the daily KPIs its early warnings judge."""

from __future__ import annotations

from typing import Any

import pandas as pd

from fanlib.executive.stats import KPIS


def daily_kpis(fd: Any, by: str | None = None, start: Any = None, end: Any = None) -> pd.DataFrame:
    """Daily KPIs, computed in the engine; ``by`` = 'channel' or 'community_id' splits them.

    Returns one row per day (and group): date, [group], active_fans, events, orders, gmv, new_members,
    with zero-filled days so that a day with no activity is a zero, not a gap.
    """
    if by not in (None, "channel", "community_id"):
        raise ValueError(f"by must be None, 'channel' or 'community_id', not {by!r}")
    fans = fd.fans.select("fan_id", "channel", "community_id", "join_time")
    events = fd.events
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

    # Events carry their own community_id; channel comes from the fan.
    ev = per_day(
        events.select("fan_id", "event_time", *([by] if by == "community_id" else [])),
        "event_time",
        active_fans=lambda t: t.fan_id.nunique(),
        events=lambda t: t.count(),
    )
    od = per_day(
        orders.select("fan_id", "order_time", "amount_cny"),
        "order_time",
        orders=lambda t: t.count(),
        gmv=lambda t: t.amount_cny.sum(),
    )
    nm = per_day(fans.select("fan_id", "join_time", *group), "join_time", new_members=lambda t: t.count())
    out = ev
    for part in (od, nm):
        out = out.merge(part, on=["date", *group], how="outer")
    if out.empty:
        return pd.DataFrame(columns=["date", *group, *KPIS])
    out["date"] = pd.to_datetime(out["date"])
    days = pd.date_range(out["date"].min(), out["date"].max(), freq="D", name="date")
    if group:
        index = pd.MultiIndex.from_product([days, sorted(out[by].dropna().unique())], names=["date", by])
    else:
        index = days
    out = out.set_index(["date", *group]).reindex(index).fillna(0.0).reset_index()
    return out[["date", *group, *KPIS]].sort_values(["date", *group]).reset_index(drop=True)
