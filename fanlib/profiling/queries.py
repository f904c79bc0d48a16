"""Community health KPIs, computed in the engine, against the planning documents' benchmarks.

All figures cover the KPI window ``[as_of - window_days + 1, as_of]`` (whole days) unless said
otherwise. A *member* on a day is a fan who joined on or before that day. Groups (community,
channel) are the fan's own attributes from table ``fans``.

Definitions:

* daily active rate: mean over the window's days of (fans with any event that day ÷ members that day);
* DAU: mean daily active fans; WAU / MAU: distinct fans with an event in the last 7 / 30 days
  ending on as_of; stickiness: DAU ÷ MAU;
* active speaking rate: members who commented, messaged or posted UGC in the window ÷ members at its end;
* UGC share of content: UGC posts ÷ (UGC posts + distinct brand content items acted on in the window);
* messages per 1,000 members per day: message events ÷ member-days × 1,000;
* retention at N days: among fans who joined at least N + ``retention_span_days`` days before the
  window end, the share with any event in days [N, N + span) after joining;
* repurchase rate: buyers in the window with two or more orders in it ÷ buyers in it; repurchase
  interval: median days between a fan's consecutive orders, for orders in the window; AOV: GMV ÷ orders;
* funnel: members who viewed → of them, who clicked → of them, who ordered, all in the window;
* touch-to-purchase steps: per order in the window, 1 + the fan's events in the
  ``touch_lookback_days`` before it (and after their previous order); the mean over orders;
* content performance and publishing hours: :mod:`fanlib.profiling.queries_content`; the scorecard against
  the planning documents' figures: :mod:`fanlib.profiling.benchmarks`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import ibis
import numpy as np
import pandas as pd

from fanlib.data.asof import to_date
from fanlib.profiling.benchmarks import BENCHMARKS, scorecard
from fanlib.profiling.errors import ProfilingDataError
from fanlib.profiling.queries_content import content_performance, publishing_hours
from fanlib.profiling.queries_features import SPEAKING_TYPES
from fanlib.profiling.window import Note, Window, days_between, require_events, window

RETENTION_DAYS = (7, 30, 90)


def _group(t, by: str | None):
    return t[by].cast("string").fill_null("(none)") if by else ibis.literal("all")


def _members_by_day(fd, w: Window, by: str | None) -> pd.DataFrame:
    """Members per group on each day of the window (group × day), from join counts."""
    fans = fd.fans.filter(fd.fans.join_time < w.lit_end())
    day = ibis.greatest(fans.join_time.date(), ibis.literal(w.start.date()))
    joins = fd.execute(fans.group_by(group=_group(fans, by), day=day).aggregate(joins=fans.count()))
    days = pd.date_range(w.start.date(), w.as_of, freq="D").date
    if joins.empty:
        return pd.DataFrame(0, index=pd.Index([], name="group"), columns=days)
    joins["day"] = pd.to_datetime(joins["day"]).dt.date
    m = joins.pivot_table(index="group", columns="day", values="joins", aggfunc="sum", fill_value=0)
    return m.reindex(columns=days, fill_value=0).cumsum(axis=1)


def _scoped_events(fd, w: Window, by: str | None, start: dt.datetime | None = None):
    s = ibis.literal(start or w.start, type="timestamp")
    ev = fd.events.filter((fd.events.event_time >= s) & (fd.events.event_time < w.lit_end()))
    if by:
        f = fd.fans.select("fan_id", _grp=_group(fd.fans, by))
        ev = ev.join(f, "fan_id")
        return ev.mutate(group=ev._grp).drop("_grp")
    return ev.mutate(group=ibis.literal("all"))


def activity_kpis(fd: Any, w: Window, by: str | None = None) -> pd.DataFrame:
    """Members, daily active rate, DAU/WAU/MAU, stickiness, speaking rate, UGC share and messages per group."""
    members = _members_by_day(fd, w, by)
    early = min(w.start, w.end - dt.timedelta(days=30))
    ev = _scoped_events(fd, w, by, start=early)
    in_w = ev.event_time >= w.lit_start()
    last7 = ev.event_time >= ibis.literal(w.end - dt.timedelta(days=7), type="timestamp")
    agg = fd.execute(
        ev.group_by("group").aggregate(
            wau=ev.fan_id.nunique(where=last7),
            mau=ev.fan_id.nunique(),
            speakers=ev.fan_id.nunique(where=in_w & ev.event_type.isin(SPEAKING_TYPES)),
            messages=(in_w & (ev.event_type == "message")).ifelse(1, 0).sum(),
            ugc_posts=(in_w & (ev.event_type == "ugc_post")).ifelse(1, 0).sum(),
            brand_items=ev.content_id.nunique(where=in_w & (ev.event_type != "ugc_post")),
            events=in_w.ifelse(1, 0).sum(),
        )
    ).set_index("group")
    evw = ev.filter(in_w)
    daily = fd.execute(evw.group_by("group", day=evw.event_time.date()).aggregate(active=evw.fan_id.nunique()))
    days = list(members.columns)
    if not daily.empty:
        daily["day"] = pd.to_datetime(daily["day"]).dt.date
        active = daily.pivot_table(index="group", columns="day", values="active", aggfunc="sum", fill_value=0)
    else:
        active = pd.DataFrame(index=pd.Index([], name="group"))
    groups = members.index.union(agg.index)
    active = active.reindex(index=groups, columns=days, fill_value=0)
    members = members.reindex(index=groups, fill_value=0)
    agg = agg.reindex(groups).fillna(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        day_rate = (active / members.where(members > 0)).to_numpy(dtype=float)
    out = pd.DataFrame(index=groups)
    out.index.name = "group"
    out["members"] = members.iloc[:, -1].astype(int) if len(days) else 0
    out["member_days"] = members.sum(axis=1).astype(int)
    out["dau"] = active.mean(axis=1)
    out["dau_rate"] = pd.Series([np.nanmean(r) if np.isfinite(r).any() else np.nan for r in day_rate], index=groups)
    for c in ("wau", "mau", "speakers", "messages", "ugc_posts", "brand_items", "events"):
        out[c] = agg[c].astype(int)
    m = out.members.where(out.members > 0)
    out["stickiness"] = out.dau / out.mau.where(out.mau > 0)
    out["speaking_rate"] = out.speakers / m
    content = out.ugc_posts + out.brand_items
    out["ugc_share"] = out.ugc_posts / content.where(content > 0)
    out["messages_per_1k_day"] = out.messages / out.member_days.where(out.member_days > 0) * 1000.0
    return out.reset_index()


def retention_kpis(
    fd: Any, w: Window, by: str | None = None, days: Sequence[int] = RETENTION_DAYS, span_days: int = 7
) -> pd.DataFrame:
    """Cohort size and retention at each N in ``days`` per group (see the module docstring)."""
    fans = fd.fans.select("fan_id", "join_time", group=_group(fd.fans, by))
    ev = fd.events.filter(fd.events.event_time < w.lit_end())
    out = None
    for n in days:
        cohort = fans.filter(fans.join_time + ibis.interval(days=n + span_days) <= w.lit_end())
        j = cohort.join(
            ev,
            [
                cohort.fan_id == ev.fan_id,
                ev.event_time >= cohort.join_time + ibis.interval(days=n),
                ev.event_time < cohort.join_time + ibis.interval(days=n + span_days),
            ],
        )
        kept = j.select(cohort.fan_id).distinct().mutate(kept=1)
        c = cohort.left_join(kept, "fan_id")
        df = fd.execute(
            c.group_by("group").aggregate(**{f"cohort_{n}d": c.count(), f"retained_{n}d": c.kept.fill_null(0).sum()})
        ).set_index("group")
        out = df if out is None else out.join(df, how="outer")
    out = out.fillna(0)
    for n in days:
        out[f"cohort_{n}d"] = out[f"cohort_{n}d"].astype(int)
        out[f"retained_{n}d"] = out[f"retained_{n}d"].astype(int)
        out[f"retention_{n}d"] = out[f"retained_{n}d"] / out[f"cohort_{n}d"].where(out[f"cohort_{n}d"] > 0)
    out.index.name = "group"
    return out.reset_index()


def value_kpis(fd: Any, w: Window, by: str | None = None) -> pd.DataFrame:
    """Buyers, repurchase rate, median repurchase interval, GMV, AOV and the view → click → order funnel."""
    fans = fd.fans.select("fan_id", group=_group(fd.fans, by))
    od = fd.orders.filter(fd.orders.order_time < w.lit_end())
    od = od.mutate(
        prev=od.order_time.lag().over(ibis.window(group_by=od.fan_id, order_by=[od.order_time, od.order_id]))
    )
    odw = od.filter(od.order_time >= w.lit_start()).join(fans, "fan_id")
    odw = odw.mutate(gap=days_between(odw.order_time, odw.prev))
    per_fan = odw.group_by("group", "fan_id").aggregate(n=odw.count(), gmv=odw.amount_cny.sum())
    a = fd.execute(
        per_fan.group_by("group").aggregate(
            buyers=per_fan.count(),
            repeat_buyers=(per_fan.n >= 2).ifelse(1, 0).sum(),
            orders=per_fan.n.sum(),
            gmv=per_fan.gmv.sum(),
        )
    ).set_index("group")
    gaps = odw.filter(odw.gap.notnull())
    g = fd.execute(
        gaps.group_by("group").aggregate(repurchase_interval_days=gaps.gap.median(), intervals=gaps.count())
    ).set_index("group")
    ev = _scoped_events(fd, w, by)
    step = ev.group_by("group", "fan_id").aggregate(
        viewed=(ev.event_type == "view").any(), clicked=(ev.event_type == "click").any()
    )
    buyers = odw.select("fan_id").distinct().mutate(bought=True)
    step = step.left_join(buyers, "fan_id")
    step = step.mutate(bought=step.bought.fill_null(False))
    f = fd.execute(
        step.group_by("group").aggregate(
            viewers=step.viewed.ifelse(1, 0).sum(),
            clickers=(step.viewed & step.clicked).ifelse(1, 0).sum(),
            converted=(step.viewed & step.clicked & step.bought).ifelse(1, 0).sum(),
            viewer_buyers=(step.viewed & step.bought).ifelse(1, 0).sum(),
        )
    ).set_index("group")
    out = a.join(g, how="outer").join(f, how="outer")
    for c in ("buyers", "repeat_buyers", "orders", "intervals", "viewers", "clickers", "converted", "viewer_buyers"):
        out[c] = out[c].fillna(0).astype(int) if c in out else 0
    out["gmv"] = out.gmv.fillna(0.0)
    out["repurchase_rate"] = out.repeat_buyers / out.buyers.where(out.buyers > 0)
    out["aov"] = out.gmv / out.orders.where(out.orders > 0)
    out["click_rate"] = out.clickers / out.viewers.where(out.viewers > 0)
    out["click_to_order"] = out.converted / out.clickers.where(out.clickers > 0)
    out["conversion_rate"] = out.viewer_buyers / out.viewers.where(out.viewers > 0)
    out.index.name = "group"
    return out.reset_index()


def touch_steps(fd: Any, w: Window, lookback_days: int = 7) -> dict:
    """Mean and median touches to purchase over orders in the window (1 + events before each order)."""
    od = fd.orders.filter(fd.orders.order_time < w.lit_end())
    od = od.mutate(
        prev=od.order_time.lag().over(ibis.window(group_by=od.fan_id, order_by=[od.order_time, od.order_id]))
    )
    od = od.filter(od.order_time >= w.lit_start()).select("order_id", "fan_id", "order_time", "prev")
    since = ibis.greatest(
        od.order_time - ibis.interval(days=lookback_days),
        od.prev.fill_null(ibis.literal(dt.datetime(1900, 1, 1), type="timestamp")),
    )
    od = od.mutate(since=since)
    ev = fd.events
    j = od.left_join(ev, [od.fan_id == ev.fan_id, ev.event_time < od.order_time, ev.event_time >= od.since])
    per = j.group_by(od.order_id).aggregate(touches=j.event_time.count())
    r = fd.execute(
        per.aggregate(orders=per.count(), mean_touches=per.touches.mean(), median_touches=per.touches.median())
    ).iloc[0]
    n = int(r["orders"])
    return {
        "orders": n,
        "touch_steps": float(r["mean_touches"]) + 1 if n else None,
        "median_steps": float(r["median_touches"]) + 1 if n else None,
        "lookback_days": lookback_days,
    }


@dataclass
class CommunityKPIs:
    """All KPIs for one window: overall, by community, by channel, plus tables and notes."""

    window: Window
    overall: dict
    by_community: pd.DataFrame
    by_channel: pd.DataFrame
    content: pd.DataFrame
    hours: pd.DataFrame
    funnel: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    def scorecard(self, T: Any = None) -> pd.DataFrame:
        """One row per KPI: value, today's figure, target, good/bad and the relative gap to target."""
        return scorecard(self.overall, T)


GROUP_COLUMNS = [
    "group",
    "members",
    "dau_rate",
    "wau",
    "mau",
    "stickiness",
    "speaking_rate",
    "ugc_share",
    "messages_per_1k_day",
    "retention_7d",
    "buyers",
    "repurchase_rate",
    "aov",
    "conversion_rate",
]


def _grouped(fd, w: Window, by: str, span_days: int) -> pd.DataFrame:
    a = activity_kpis(fd, w, by).set_index("group")
    r = retention_kpis(fd, w, by, days=(7,), span_days=span_days).set_index("group")
    v = value_kpis(fd, w, by).set_index("group")
    out = a.join(r, how="left").join(v, how="left").reset_index()
    return out


def community_kpis(
    fd: Any, as_of: Any, window_days: int = 30, *, retention_span_days: int = 7, touch_lookback_days: int = 7
) -> CommunityKPIs:
    """Every community KPI over the window, overall, by community and by channel."""
    w = window(as_of, window_days)
    require_events(fd, w)
    notes: list[Note] = []
    act = activity_kpis(fd, w).iloc[0].to_dict()
    if act["members"] == 0:
        raise ProfilingDataError(
            f"table 'fans' has no member who joined by {w.as_of} (check: join_time): community rates are not defined",
            "no_members",
            as_of=w.as_of,
        )
    ret = retention_kpis(fd, w, span_days=retention_span_days)
    ret = ret.iloc[0].to_dict() if len(ret) else {}
    val = value_kpis(fd, w).iloc[0].to_dict() if True else {}
    steps = touch_steps(fd, w, touch_lookback_days)
    overall = {**act, **ret, **val, **steps, "window_days": w.days, "window_start": w.start.date(), "as_of": w.as_of}
    overall.pop("group", None)
    for n in RETENTION_DAYS:
        if not overall.get(f"cohort_{n}d"):
            notes.append(
                Note("no_retention_cohort", {"n": str(n), "days": str(n + retention_span_days), "as_of": w.as_of})
            )
    if not overall.get("orders"):
        notes.append(Note("no_orders_kpis", {"period": w.period}))
    elif overall.get("gmv", 0) == 0:
        notes.append(Note("zero_spend_kpis", {"period": w.period}))
    by_comm = (
        _grouped(fd, w, "community_id", retention_span_days)
        if "community_id" in fd.fans.columns
        else pd.DataFrame(columns=GROUP_COLUMNS)
    )
    by_comm, comm_notes = _check_communities(fd, w, by_comm)
    notes += comm_notes
    by_chan = _grouped(fd, w, "channel", retention_span_days)
    by_chan = by_chan[by_chan.members > 0]
    funnel = pd.DataFrame(
        {
            "step": ["view", "click", "order"],
            "fans": [overall["viewers"], overall["clickers"], overall["converted"]],
        }
    )
    funnel["share_of_viewers"] = funnel.fans / funnel.fans.iloc[0] if funnel.fans.iloc[0] else np.nan
    return CommunityKPIs(
        w,
        overall,
        by_comm[[c for c in GROUP_COLUMNS if c in by_comm]],
        by_chan[[c for c in GROUP_COLUMNS if c in by_chan]],
        content_performance(fd, w),
        publishing_hours(fd, w),
        funnel,
        notes,
    )


def _check_communities(fd, w: Window, by_comm: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Drop communities without members (rates undefined) and say which ones and why."""
    notes = []
    ev = fd.events.filter(
        (fd.events.event_time >= w.lit_start())
        & (fd.events.event_time < w.lit_end())
        & fd.events.community_id.notnull()
    )
    seen = fd.execute(ev.select("community_id").distinct())["community_id"].astype(str)
    known = set(by_comm.loc[by_comm.members > 0, "group"]) if len(by_comm) else set()
    empty = sorted(set(seen) - known) + sorted(set(by_comm.loc[by_comm.members == 0, "group"]) - set(seen))
    if empty:
        shown = ", ".join(empty[:5]) + (" …" if len(empty) > 5 else "")
        notes.append(Note("empty_communities", {"n": len(empty), "as_of": w.as_of, "examples": shown}))
    return by_comm[by_comm.members > 0].reset_index(drop=True), notes


def kpi_trend(fd: Any, as_of: Any, months: int = 12) -> pd.DataFrame:
    """Monthly daily active rate, speaking rate, messages per 1,000 members per day and UGC share."""
    end_day = to_date(as_of)
    first = (pd.Timestamp(end_day).to_period("M") - (months - 1)).to_timestamp().date()
    w = Window(dt.datetime.combine(first, dt.time()), dt.datetime.combine(end_day + dt.timedelta(days=1), dt.time()))
    require_events(fd, w)
    members = _members_by_day(fd, w, None)
    mem = members.iloc[0]
    ev = _scoped_events(fd, w, None)
    month = ev.event_time.truncate("M").date()
    daily = fd.execute(ev.group_by(day=ev.event_time.date()).aggregate(active=ev.fan_id.nunique()))
    monthly = fd.execute(
        ev.group_by(month=month).aggregate(
            speakers=ev.fan_id.nunique(where=ev.event_type.isin(SPEAKING_TYPES)),
            messages=(ev.event_type == "message").ifelse(1, 0).sum(),
            ugc_posts=(ev.event_type == "ugc_post").ifelse(1, 0).sum(),
            brand_items=ev.content_id.nunique(where=ev.event_type != "ugc_post"),
        )
    )
    daily["day"] = pd.to_datetime(daily["day"]).dt.date
    frame = pd.DataFrame({"members": mem.values}, index=pd.Index(mem.index, name="day"))
    frame["active"] = daily.set_index("day").active.reindex(frame.index).fillna(0)
    frame["rate"] = frame.active / frame.members.where(frame.members > 0)
    frame["month"] = [pd.Timestamp(d).to_period("M").to_timestamp().date() for d in frame.index]
    g = frame.groupby("month").agg(
        dau_rate=("rate", "mean"), member_days=("members", "sum"), members=("members", "last")
    )
    monthly["month"] = pd.to_datetime(monthly["month"]).dt.date
    g = g.join(monthly.set_index("month"), how="left").fillna(
        {"speakers": 0, "messages": 0, "ugc_posts": 0, "brand_items": 0}
    )
    g["speaking_rate"] = g.speakers / g.members.where(g.members > 0)
    g["messages_per_1k_day"] = g.messages / g.member_days.where(g.member_days > 0) * 1000
    content = g.ugc_posts + g.brand_items
    g["ugc_share"] = g.ugc_posts / content.where(content > 0)
    return g.reset_index()[["month", "members", "dau_rate", "speaking_rate", "messages_per_1k_day", "ugc_share"]]


#: BENCHMARKS is read here by older callers; its home is fanlib.profiling.benchmarks.
__all__ = [
    "BENCHMARKS",
    "CommunityKPIs",
    "activity_kpis",
    "community_kpis",
    "kpi_trend",
    "retention_kpis",
    "touch_steps",
    "value_kpis",
]
