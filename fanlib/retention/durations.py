"""Per-fan survival data computed in the engine: time to churn (or censoring) and drivers.

Churn is a parameter: a fan has churned once they go ``churn_days`` days
without activity (``basis="activity"``: any event or order) or without an
order (``basis="order"``). The churn day is the fan's last active day. A churn
can only be confirmed ``churn_days`` after it happens, so follow-up ends at
``as_of − churn_days``: fans active after that day are censored there.

For the Cox model the clock starts at a *landmark* (default 30 days after the
start): drivers such as check-in participation and negative comments are
measured in the first ``landmark_days`` only, and only fans still active at
the landmark are followed. This avoids immortal-time bias (a fan must live to
write comments) and keeps every driver known before the follow-up it explains.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from .activity import activity_rows, analysis_date, effective_basis, start_days, warn_orders_without_events
from .errors import RetentionInputError

__all__ = ["NEGATIVE_PATTERN", "negative_comments", "is_negative_comment", "fan_durations"]

#: Words and emoticons of Chinese e-commerce complaints; used where a comment has no human label.
NEGATIVE_PATTERN = (
    "差评|失望|避雷|退货|退款|不会再买|再也不|太差|很差|差劲|假货|假的|被坑|很坑|骗人|气死|生气|"
    "难受|糟糕|恶劣|垃圾|过敏|坏了|烂了|难闻|太贵|不值|亏了|好烦|很烦|无语|"
    r"\[怒\]|\[流泪\]|\[衰\]|\[抓狂\]|😡|😤|👎|💔"
)


def negative_comments(fd: Any, pattern: str = NEGATIVE_PATTERN) -> ir.Table | None:
    """Comments judged negative: the human label where there is one, else the complaint-word pattern.

    Returns (fan_id, comment_time) rows, or None when the source has no comments table.
    """
    if not fd.has("comments"):
        return None
    c = fd.comments
    return c.filter(is_negative_comment(c, pattern)).select("fan_id", "comment_time")


def is_negative_comment(c: ir.Table, pattern: str = NEGATIVE_PATTERN) -> ir.BooleanValue:
    """Whether each comment of ``c`` is negative: its human label where there is one, else the pattern."""
    return ibis.cases((c.label.notnull(), c.label == "negative"), else_=c.text.fill_null("").re_search(pattern))


def fan_durations(
    fd: Any,
    *,
    churn_days: int = 30,
    basis: str = "activity",
    cohort_by: str = "join",
    as_of: Any = None,
    landmark_days: int = 0,
    negative_min: int = 2,
) -> pd.DataFrame:
    """One row per fan followed: duration (days from start + landmark), event (churn observed) and drivers.

    Columns: fan_id, channel, city_tier, community_id, start_day, duration,
    event, checkin (took part in check-ins within the first ``landmark_days``,
    or ever before follow-up ends when the landmark is 0; only when the source
    has events), negative_comments (count in the same window, only when it has
    comments), negative_commenter (≥ ``negative_min``).
    """
    if churn_days < 1:
        raise RetentionInputError("churn_days must be at least 1")
    if landmark_days < 0:
        raise RetentionInputError("landmark_days must be ≥ 0")
    as_of = analysis_date(fd, as_of).day
    follow_end = as_of - _dt.timedelta(days=churn_days)
    warn_orders_without_events(fd, basis)
    s = start_days(fd, cohort_by)
    end_lit = ibis.date(follow_end)
    s = (
        s.filter(s.start_day.delta(end_lit, unit="day") <= -landmark_days)
        if landmark_days
        else s.filter(s.start_day <= end_lit)
    )
    a = activity_rows(fd, basis)  # duplicates kept: only each fan's last day is needed
    a = a.filter(a.day <= ibis.date(as_of))
    j = a.join(s.select("fan_id", "start_day"), "fan_id")
    j = j.filter(j.day >= j.start_day)
    last = j.group_by("fan_id").aggregate(last_day=j.day.max())
    t = s.left_join(last, "fan_id").select(s, last.last_day)
    last_off = t.last_day.delta(t.start_day, unit="day").fill_null(0)
    churned = t.last_day.isnull() | (t.last_day <= end_lit)
    end_off = end_lit.delta(t.start_day, unit="day")
    t = t.mutate(event=churned, duration=ibis.cases((churned, last_off), else_=end_off) - landmark_days)
    t = t.filter(t.duration >= 0)  # still active at the landmark
    # drivers, measured before follow-up starts (check-ins only when the source has events)
    window_days = landmark_days if landmark_days else None
    events = fd.has("events")
    if events:
        e = fd.events
        ck = e.filter(e.event_type == "checkin").select(fan_id=e.fan_id, day=e.event_time.date())
        ck = ck.join(s.select("fan_id", "start_day"), "fan_id")
        ck = ck.filter(_in_window(ck.day, ck.start_day, window_days, end_lit))
        ck = ck.group_by("fan_id").aggregate(checkins=ck.count())  # only whether there was one matters
        t = t.left_join(ck, "fan_id").select(t, ck.checkins)
    neg = negative_comments(fd)
    if neg is not None:
        n2 = neg.mutate(day=neg.comment_time.date()).join(s.select("fan_id", "start_day"), "fan_id")
        n2 = n2.filter(_in_window(n2.day, n2.start_day, window_days, end_lit))
        n2 = n2.group_by("fan_id").aggregate(negative_comments=n2.count())
        t = t.left_join(n2, "fan_id").select(t, n2.negative_comments)
    # no NULL leaves the engine (a column with one comes back through Python lists, slowly)
    t = t.mutate(
        **({"checkins": t.checkins.fill_null(0)} if events else {}),
        **({"negative_comments": t.negative_comments.fill_null(0)} if neg is not None else {}),
    )
    out = fd.execute(t.drop("last_day"), label="retention:fan_durations")
    if out.empty:
        raise RetentionInputError(
            f"no fans can be followed: none started at least {landmark_days} days before {follow_end} "
            f"(the analysis date {as_of} minus the {churn_days}-day churn window) and was still active then"
        )
    out["event"] = out["event"].astype(bool)
    out["duration"] = out["duration"].astype(float)
    if events:
        out["checkin"] = (out.pop("checkins").fillna(0) > 0).astype(int)
    if "negative_comments" in out:
        out["negative_comments"] = out["negative_comments"].fillna(0).astype(int)
        out["negative_commenter"] = (out["negative_comments"] >= negative_min).astype(int)
    out["city_tier"] = out["city_tier"].astype("Int64").astype("string")
    out.attrs.update(
        as_of=as_of,
        follow_end=follow_end,
        churn_days=churn_days,
        basis=effective_basis(fd, basis),
        landmark_days=landmark_days,
    )
    return out.sort_values("fan_id").reset_index(drop=True)


def _in_window(day, start_day, window_days, end_lit):
    if window_days is None:
        return (day >= start_day) & (day <= end_lit)
    return (day >= start_day) & (day.delta(start_day, unit="day") < window_days)
