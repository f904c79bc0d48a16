"""Per-fan behaviour features, computed in the engine.

One row per fan who had joined by the end of the window: activity, interaction
and purchase figures over the window, plus lifetime purchase figures up to the
analysis day. RFM, fan classes, layers and behaviour segments all read this table.
"""

from __future__ import annotations

from typing import Any

import ibis

from fanlib.data.contract import INTERACTION_TYPES  # the five interactions profiling counts
from fanlib.profiling.window import Window, days_between, window

#: Event types that count as speaking (posting something others can read).
SPEAKING_TYPES = ("comment", "message", "ugc_post")
#: Passive event types: browsing and watching without interacting.
PASSIVE_TYPES = ("view", "visit", "click", "live_watch")
#: The daily check-in ritual is counted on its own: it is a habit, not a conversation.
RITUAL_TYPES = ("checkin",)


def _count_if(cond):
    return cond.ifelse(1, 0).sum()


def fan_features(fd: Any, as_of: Any, window_days: int = 90) -> ibis.Table:
    """The per-fan feature table over the ``window_days`` ending on ``as_of`` (an ibis expression).

    Columns: fan_id, channel, community_id, join_time, tenure_days, observed_days (days of the
    window the fan was a member), present_days (from joining or the window start to the last event or
    order in the window; 0 without either), active_span_days (first to last event in the window), events,
    active_days, interactions, browsing, shares, clicks, ugc_posts, messages, speaking, checkins,
    interaction_share (interactions ÷ (interactions + browsing)), interactions_per_30d,
    interactions_per_present_30d and orders_per_present_30d (per 30 days of presence, at least 7),
    active_day_share, days_since_event, orders, spend, days_since_order (NULL for fans without an order in
    the window), orders_total, spend_total (lifetime up to as_of). Fans with no events or orders get zeros, not NULLs;
    without an events table (orders-only data) the event figures are NULL, and a fan whose join time is not known
    counts as a member.
    """
    w = window(as_of, window_days)
    return features_for_window(fd, w)


#: The per-fan figures read from ``events``; without an events table they are NULL (not zero: nobody knows).
EVENT_FIGURES = {
    "events": "int64",
    "active_days": "int64",
    "interactions": "int64",
    "browsing": "int64",
    "shares": "int64",
    "clicks": "int64",
    "ugc_posts": "int64",
    "messages": "int64",
    "speaking": "int64",
    "checkins": "int64",
    "first_event": "timestamp",
    "last_event": "timestamp",
}


def _event_figures(fd: Any, start: ibis.Expr, end: ibis.Expr) -> ibis.Table:
    """Per fan who did something in the window: the event figures (``EVENT_FIGURES``)."""
    ev = fd.events.filter((fd.events.event_time >= start) & (fd.events.event_time < end))
    et = ev.event_type
    return ev.group_by("fan_id").aggregate(
        events=ev.count(),
        active_days=ev.event_time.date().nunique(),
        interactions=_count_if(et.isin(INTERACTION_TYPES)),
        browsing=_count_if(et.isin(PASSIVE_TYPES)),
        shares=_count_if(et == "share"),
        clicks=_count_if(et == "click"),
        ugc_posts=_count_if(et == "ugc_post"),
        messages=_count_if(et == "message"),
        speaking=_count_if(et.isin(SPEAKING_TYPES)),
        checkins=_count_if(et == "checkin"),
        first_event=ev.event_time.min(),
        last_event=ev.event_time.max(),
    )


def features_for_window(fd: Any, w: Window) -> ibis.Table:
    start, end = w.lit_start(), w.lit_end()
    fans = fd.fans.filter(fd.fans.join_time.isnull() | (fd.fans.join_time < end))
    od = fd.orders.filter(fd.orders.order_time < end)
    in_w = od.order_time >= start
    od_agg = od.group_by("fan_id").aggregate(
        orders=_count_if(in_w),
        spend=in_w.ifelse(od.amount_cny, 0.0).sum(),
        last_order=in_w.ifelse(od.order_time, ibis.null("timestamp")).max(),
        orders_total=od.count(),
        spend_total=od.amount_cny.sum(),
    )
    if fd.has("events"):
        t = fans.left_join(_event_figures(fd, start, end), "fan_id").left_join(od_agg, "fan_id")
    else:  # orders-only data: the event figures are not known
        t = fans.left_join(od_agg, "fan_id").mutate(**{c: ibis.null(k) for c, k in EVENT_FIGURES.items()})
    t = t.select(
        "fan_id",
        "channel",
        "community_id",
        "join_time",
        "events",
        "active_days",
        "interactions",
        "browsing",
        "shares",
        "clicks",
        "ugc_posts",
        "messages",
        "speaking",
        "checkins",
        "first_event",
        "last_event",
        "orders",
        "spend",
        "last_order",
        "orders_total",
        "spend_total",
    )
    zero_int = [
        "events",
        "active_days",
        "interactions",
        "browsing",
        "shares",
        "clicks",
        "ugc_posts",
        "messages",
        "speaking",
        "checkins",
        "orders",
        "orders_total",
    ]
    if not fd.has("events"):  # the event figures stay NULL: an unknown count is not a zero
        zero_int = [c for c in zero_int if c not in EVENT_FIGURES]
    t = t.mutate(
        **{c: t[c].fill_null(0).cast("int64") for c in zero_int},
        spend=t.spend.fill_null(0.0).cast("float64"),
        spend_total=t.spend_total.fill_null(0.0).cast("float64"),
    )
    tenure = days_between(end, t.join_time)
    observed = ibis.least(tenure, float(w.days)).cast("float64")
    # Presence: from joining (or the window start) to the fan's last event or order in the window. A fan who stopped
    # coming mid-window is rated on the days they were there, not diluted by the days after they left.
    last_seen = ibis.greatest(t.last_event.fill_null(t.last_order), t.last_order.fill_null(t.last_event))
    present = days_between(last_seen, ibis.greatest(t.join_time, start)).fill_null(0.0)
    t = t.mutate(
        tenure_days=tenure,
        observed_days=observed,
        present_days=present,
        active_span_days=days_between(t.last_event, t.first_event).fill_null(0.0),
        days_since_event=days_between(end, t.last_event),
        days_since_order=days_between(end, t.last_order),
    )
    safe_obs = ibis.greatest(t.observed_days, 1.0)
    t = t.mutate(
        interaction_share=((t.interactions + t.browsing) > 0).ifelse(
            t.interactions / (t.interactions + t.browsing).cast("float64"), 0.0
        ),
        interactions_per_30d=t.interactions / safe_obs * 30.0,
        # Floor of one week: a fan seen on a single day is not rated as if that day were their habit.
        interactions_per_present_30d=t.interactions / ibis.greatest(t.present_days, 7.0) * 30.0,
        orders_per_present_30d=t.orders / ibis.greatest(t.present_days, 7.0) * 30.0,
        active_day_share=ibis.least(t.active_days / safe_obs, 1.0),
    )
    return t.drop("first_event", "last_event", "last_order")
