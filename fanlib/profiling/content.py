"""Content performance and publishing hours over a KPI window, computed in the engine.

* content performance per content type: distinct items, interactions, shares and attributed orders
  per item (an order is attributed to the fan's last click within 24 hours before it);
* publishing hours: interactions (likes, comments, shares, messages, UGC) by weekday and hour of day.
"""

from __future__ import annotations

from typing import Any

import ibis
import numpy as np
import pandas as pd

from fanlib.profiling.features import INTERACTION_TYPES
from fanlib.profiling.window import Window


def content_performance(fd: Any, w: Window, attribution_hours: int = 24) -> pd.DataFrame:
    """Per content type: items, views, interactions, shares and attributed orders, per item."""
    ev = fd.events.filter(
        (fd.events.event_time >= w.lit_start())
        & (fd.events.event_time < w.lit_end())
        & fd.events.content_type.notnull()
    )
    et = ev.event_type
    per = fd.execute(
        ev.group_by("content_type").aggregate(
            items=ev.content_id.nunique(),
            views=(et == "view").ifelse(1, 0).sum(),
            interactions=et.isin(INTERACTION_TYPES).ifelse(1, 0).sum(),
            shares=(et == "share").ifelse(1, 0).sum(),
        )
    ).set_index("content_type")
    od = fd.orders.filter((fd.orders.order_time >= w.lit_start()) & (fd.orders.order_time < w.lit_end()))
    clicks = fd.events.filter(
        (fd.events.event_type == "click") & fd.events.content_type.notnull() & (fd.events.event_time < w.lit_end())
    )
    j = od.join(
        clicks,
        [
            od.fan_id == clicks.fan_id,
            clicks.event_time <= od.order_time,
            clicks.event_time > od.order_time - ibis.interval(hours=attribution_hours),
        ],
    )
    j = j.select(od.order_id, clicks.event_time, clicks.content_type, clicks.content_id)
    j = j.mutate(
        rn=ibis.row_number().over(ibis.window(group_by=j.order_id, order_by=[ibis.desc(j.event_time), j.content_id]))
    )
    last = j.filter(j.rn == 0)
    conv = fd.execute(last.group_by("content_type").aggregate(orders=last.count())).set_index("content_type")
    out = per.join(conv, how="outer").fillna(0)
    for c in ("items", "views", "interactions", "shares", "orders"):
        out[c] = out[c].astype(int)
    items = out["items"].where(out["items"] > 0)
    out["interactions_per_item"] = out.interactions / items
    out["shares_per_item"] = out.shares / items
    out["orders_per_item"] = out.orders / items
    out.index.name = "content_type"
    return out.reset_index().sort_values("interactions_per_item", ascending=False, ignore_index=True)


def publishing_hours(fd: Any, w: Window) -> pd.DataFrame:
    """Interactions by weekday (0 = Monday) and hour of day in the window."""
    ev = fd.events.filter(
        (fd.events.event_time >= w.lit_start())
        & (fd.events.event_time < w.lit_end())
        & fd.events.event_type.isin(INTERACTION_TYPES)
    )
    df = fd.execute(
        ev.group_by(weekday=ev.event_time.day_of_week.index(), hour=ev.event_time.hour()).aggregate(
            interactions=ev.count()
        )
    )
    df = df.astype({"weekday": "int64", "hour": "int64"})
    full = pd.MultiIndex.from_product([range(7), range(24)], names=["weekday", "hour"])
    return df.set_index(["weekday", "hour"]).reindex(full, fill_value=0).reset_index()


def best_hours(hours: pd.DataFrame, n: int = 3) -> pd.DataFrame:
    """The ``n`` hours of day with the most interactions, with their share of all interactions."""
    by_hour = hours.groupby("hour").interactions.sum()
    total = by_hour.sum()
    top = by_hour.sort_values(ascending=False, kind="stable").head(n)
    return pd.DataFrame(
        {"hour": top.index, "interactions": top.values, "share": top.values / total if total else np.nan}
    )
