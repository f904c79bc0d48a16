"""Churn-prediction data: per-fan features as of a cut-off date, with the churn label, from engine queries
(the label and the cut-offs themselves: :mod:`.churn_labels`).

Definitions
-----------
* **Cut-off** c: features use only data with timestamps before c (00:00 of that day).
* **Eligible fans**: joined before c and active in the ``churn_days`` days before c
  (not churned yet by the report's own definition).
* **Label** "churns within the next ``horizon_days``": no activity in the
  ``churn_days`` days from c + horizon_days on. Such a fan's last activity
  before that quiet spell lies before c + horizon_days, so they churned within
  the horizon. The label needs data up to c + horizon_days + churn_days − 1.
* **Out-of-time validation**: models train on earlier cut-offs whose labels are
  complete before the test cut-off, and are scored on the test cut-off.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from fanlib.data import contract
from fanlib.data.asof import to_date
from fanlib.present.i18n import catalogue

from .activity import last_activity_day
from .churn_labels import check_label_window, label_expr
from .durations import is_negative_comment
from .errors import RetentionInputError

__all__ = [
    "ACTIVE_WITHIN_DAYS",
    "INTERACTIVE",
    "FEATURES",
    "FEATURE_LABELS",
    "churn_features",
    "churn_dataset",
    "churn_datasets",
    "feature_columns",
]

#: Fans scored by the model: active in the last week before the cut-off. Fans quiet for longer are
#: reported separately (their risk is mostly that they have already gone).
ACTIVE_WITHIN_DAYS = 7

INTERACTIVE = contract.ENGAGED_TYPES

#: The model's features (besides one indicator per channel), each named in the ``retention`` catalogue
#: as ``feat_<feature>``; FEATURE_LABELS holds the Chinese names.
FEATURES = (
    "tenure_days",
    "active_days_30",
    "events_30",
    "events_90",
    "interactive_share_30",
    "checkin_days_30",
    "checkin_ever",
    "orders_90",
    "spend_90",
    "days_since_order",
    "comments_total",
    "negative_comments",
    "negative_share",
)
FEATURE_LABELS = {f: catalogue("retention")[f"feat_{f}"]["zh"] for f in FEATURES}


def _check_active_within(active_within_days: int | None, churn_days: int) -> int:
    active_within_days = churn_days if active_within_days is None else active_within_days
    if not 1 <= active_within_days <= churn_days:
        raise RetentionInputError("active_within_days must lie between 1 and churn_days")
    return active_within_days


def _cutoff_table(cutoffs: list[_dt.date], *, active_within_days: int) -> ir.Table:
    """One row per cut-off with the first day of each window it needs, computed here so the engine
    compares plain columns."""
    day = _dt.timedelta(days=1)
    windows = {"cutoff": 0, "start_90": -90, "start_active": -active_within_days}
    frame = pd.DataFrame(
        {"position": np.arange(len(cutoffs), dtype="int64")}
        | {name: pd.to_datetime([c + shift * day for c in cutoffs]) for name, shift in windows.items()}
    )
    frame["cutoff_ts"] = frame["cutoff"]  # 00:00 of the day, to compare with join and comment times
    return ibis.memtable(frame).cast({name: "date" for name in windows} | {"cutoff_ts": "timestamp"})


def _window_days(cutoffs: list[_dt.date]) -> ir.Table:
    """(day, position, in30, bit): each day of each cut-off's 90-day window. ``in30`` marks the last 30
    days; ``bit`` is 1 << (k − 1) for the day k days before the cut-off within them (0 before), so a fan's
    distinct active days are the popcount of one OR of these bits per (fan, cut-off)."""
    rows = [
        (c - _dt.timedelta(days=k), position, int(k <= 30), (1 << (k - 1)) if k <= 30 else 0)
        for position, c in enumerate(cutoffs)
        for k in range(1, 91)
    ]
    frame = pd.DataFrame(rows, columns=["day", "position", "in30", "bit"]).astype(
        {"day": "datetime64[s]", "position": "int64", "in30": "int64", "bit": "int64"}
    )
    return ibis.memtable(frame).cast({"day": "date"})


def _features_expr(fd, cuts: ir.Table, cutoffs: list[_dt.date]) -> ir.Table:
    """Per (fan, cut-off) features, from data strictly before each cut-off, for every cut-off in ``cuts``.

    Each cut-off reads only the 90 days of events before it; ``checkin_ever`` comes from each fan's first
    check-in, and ``last_event`` is only needed within ``active_within_days`` (≤ 90) of the cut-off, where
    the eligibility test uses it, so every value equals a scan of all earlier events. Each event meets
    only the few cut-offs whose 90-day window holds its day (a join on the day to a small table of
    window days, see ``_window_days``).
    """
    since = lambda cut, day: cut.delta(day, unit="day")  # noqa: E731 - days before the cut-off
    window_days = _window_days(cutoffs)
    e = fd.events
    first_day, last_cutoff = min(cutoffs) - _dt.timedelta(days=90), max(cutoffs)
    e = e.filter(
        e.event_time >= ibis.timestamp(pd.Timestamp(first_day).to_pydatetime()),
        e.event_time < ibis.timestamp(pd.Timestamp(last_cutoff).to_pydatetime()),
    )
    # event-type flags per event, before the join multiplies the rows by the windows holding them
    e = e.select(
        "fan_id",
        day=e.event_time.date(),
        inter=e.event_type.isin(INTERACTIVE).ifelse(1, 0),
        ck=(e.event_type == "checkin").ifelse(1, 0),
    )  # PostgreSQL cannot cast boolean to bigint
    w = e.join(window_days, "day")
    ev_agg = w.group_by("fan_id", "position").aggregate(
        last_event=w.day.max(),
        active_mask_30=w.bit.bit_or(),
        events_30=w.in30.sum(),
        events_90=w.count(),
        inter_30=(w.inter * w.in30).sum(),
        checkin_mask_30=(w.ck * w.bit).bit_or(),
    )
    ev = fd.events
    first_ck = (
        ev.filter(ev.event_type == "checkin").group_by("fan_id").aggregate(first_checkin=ev.event_time.min().date())
    )
    o = fd.orders
    od = o.select("fan_id", "amount_cny", day=o.order_time.date())
    od = od.join(cuts, od.day < cuts.cutoff)
    o90 = od.day >= od.start_90
    o_agg = od.group_by("fan_id", "position").aggregate(
        last_order=od.day.max(),
        orders_90=o90.ifelse(1, 0).sum(),
        spend_90=o90.ifelse(od.amount_cny, 0.0).sum(),
    )
    f = fd.fans
    t = f.select("fan_id", "channel", "join_time").cross_join(
        cuts.select("position", "cutoff", "cutoff_ts", "start_active")
    )
    t = t.filter(t.join_time < t.cutoff_ts)
    keys = ["fan_id", "position"]
    t = t.left_join(ev_agg, keys).select(t, *[ev_agg[k] for k in ev_agg.columns if k not in keys])
    t = t.left_join(o_agg, keys).select(t, *[o_agg[k] for k in o_agg.columns if k not in keys])
    old = ibis.date("1900-01-01")
    t = t.mutate(last_active=ibis.greatest(t.last_event.fill_null(old), t.last_order.fill_null(old)))
    # eligible: still a fan by the churn definition at the cut-off
    t = t.filter(t.last_active >= t.start_active)
    t = t.left_join(first_ck, "fan_id").select(t, first_ck.first_checkin)
    t = t.mutate(checkin_ever=(t.first_checkin < t.cutoff).ifelse(1, 0))
    if fd.has("comments"):
        c = fd.comments
        cm = c.select("fan_id", "comment_time", negative=is_negative_comment(c).ifelse(1, 0))
        cm = cm.join(cuts, cm.comment_time < cuts.cutoff_ts)
        c_agg = cm.group_by("fan_id", "position").aggregate(
            comments_total=cm.count(), negative_comments=cm.negative.sum()
        )
        t = t.left_join(c_agg, keys).select(t, c_agg.comments_total, c_agg.negative_comments)
    t = t.mutate(days_since_active=since(t.cutoff, t.last_active), tenure_days=since(t.cutoff, t.join_time.date()))
    # No NULL leaves the engine: a column with any NULL comes back through Python lists, slowly. Counts
    # without rows are 0; never ordered counts as one day longer ago than the fan's tenure (a neutral,
    # finite value for the models).
    zero_counts = [
        "active_mask_30",
        "events_30",
        "events_90",
        "inter_30",
        "checkin_mask_30",
        "orders_90",
        *(["comments_total", "negative_comments"] if fd.has("comments") else []),
    ]
    t = t.mutate(
        days_since_order=since(t.cutoff, t.last_order).fill_null(t.tenure_days + 1),
        spend_90=t.spend_90.fill_null(0.0),
        **{c: t[c].fill_null(0) for c in zero_counts},
    )
    return t.drop(
        "join_time", "cutoff", "cutoff_ts", "start_active", "last_event", "last_order", "last_active", "first_checkin"
    )


def churn_datasets(
    fd: Any,
    cutoffs: Sequence[Any],
    *,
    labelled: bool | list[bool] = True,
    horizon_days: int = 30,
    churn_days: int = 30,
    active_within_days: int | None = ACTIVE_WITHIN_DAYS,
    channels: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Features (and, where ``labelled``, the churn label) for several cut-offs from ONE engine query.

    One row per (cut-off, eligible fan), ordered by cut-off (as given) then fan id, with a ``cutoff``
    column; every row equals ``churn_features`` / ``churn_dataset`` at that cut-off. ``labelled`` is one
    flag for all cut-offs or one per cut-off; unlabelled cut-offs (e.g. today) get ``churned`` = NaN.
    The label is an anti-join in the engine: a fan churned when they have no activity in the label window.
    """
    active_within_days = _check_active_within(active_within_days, churn_days)
    cuts_list = [to_date(c) for c in cutoffs]
    if not cuts_list:
        raise RetentionInputError("no cut-offs given")
    flags = [labelled] * len(cuts_list) if isinstance(labelled, bool) else list(labelled)
    if len(flags) != len(cuts_list):
        raise RetentionInputError("labelled needs one flag per cut-off")
    end = last_activity_day(fd)
    for c, flag in zip(cuts_list, flags, strict=True):
        if c > end + _dt.timedelta(days=1):
            raise RetentionInputError(
                f"the cut-off {c} is after the data ends ({end}); features would be "
                "computed from data that does not exist — choose a cut-off on or before "
                "the last day"
            )
        if flag:
            check_label_window(c, end, horizon_days, churn_days)
    cuts = _cutoff_table(cuts_list, active_within_days=active_within_days)
    t = _features_expr(fd, cuts, cuts_list)
    if any(flags):
        labelled_positions = [i for i, flag in enumerate(flags) if flag]
        seen = label_expr(
            fd, {i: cuts_list[i] for i in labelled_positions}, horizon_days=horizon_days, churn_days=churn_days
        ).mutate(seen=ibis.literal(1))
        t = t.left_join(seen, ["fan_id", "position"]).select(t, seen.seen)
        # −1: no label (today); NaN in pandas below
        t = t.mutate(
            churned=ibis.cases((~t.position.isin(labelled_positions), -1), (t.seen.isnull(), 1), else_=0)
        ).drop("seen")
    df = fd.execute(t.order_by("position", "fan_id"), label="retention:churn_datasets")
    if any(flags):
        df["churned"] = df["churned"].where(df["churned"] >= 0)
    counts = df["position"].value_counts()
    empty = [str(c) for i, c in enumerate(cuts_list) if counts.get(i, 0) == 0]
    if empty:
        raise RetentionInputError(
            f"no fan was active in the {active_within_days} days before the cut-off "
            f"{', '.join(empty)}; there is nobody to score"
        )
    out, channels = _finish_features(df, cuts_list, channels, extra=["churned"] if any(flags) else [])
    if all(flags):
        out["churned"] = out["churned"].astype(int)
    out.attrs.update(churn_days=churn_days, channels=channels, horizon_days=horizon_days, cutoffs=cuts_list)
    return out


def _ordered(position: np.ndarray, fan_id: np.ndarray) -> bool:
    """Whether rows are sorted by position, then fan id as Python orders strings."""
    if position.size < 2:
        return True
    step = np.diff(position)
    same = step == 0
    return bool((step >= 0).all() and (fan_id[1:][same] > fan_id[:-1][same]).all())


def _finish_features(df: pd.DataFrame, cutoffs: list, channels, extra=()) -> tuple[pd.DataFrame, list]:
    """Engine aggregates to model features (missing counts are 0), ordered by (position, fan_id)."""
    for mask, col in (("active_mask_30", "active_days_30"), ("checkin_mask_30", "checkin_days_30")):
        df[col] = np.bitwise_count(df.pop(mask).fillna(0).to_numpy(dtype=np.int64))
    for col in (
        "active_days_30",
        "events_30",
        "events_90",
        "inter_30",
        "checkin_days_30",
        "checkin_ever",
        "orders_90",
        "comments_total",
        "negative_comments",
    ):
        if col not in df:
            df[col] = 0
        df[col] = df[col].fillna(0).astype(float)
    df["spend_90"] = df["spend_90"].fillna(0.0).astype(float)
    df["interactive_share_30"] = np.where(df["events_30"] > 0, df["inter_30"] / df["events_30"].clip(lower=1), 0.0)
    df["negative_share"] = np.where(
        df["comments_total"] > 0, df["negative_comments"] / df["comments_total"].clip(lower=1), 0.0
    )
    # never ordered: as long ago as the fan's tenure (a neutral, finite value for the models)
    df["days_since_order"] = df["days_since_order"].fillna(df["tenure_days"] + 1).astype(float)
    df["days_since_active"] = df["days_since_active"].astype(float)
    df["tenure_days"] = df["tenure_days"].astype(float)
    channels = list(channels) if channels is not None else sorted(df["channel"].dropna().unique())
    for ch in channels:
        df[f"channel_{ch}"] = (df["channel"] == ch).astype(float)
    keep = ["fan_id", "channel", "days_since_active", *FEATURE_LABELS, *[f"channel_{ch}" for ch in channels], *extra]
    if not _ordered(df["position"].to_numpy(), df["fan_id"].to_numpy()):  # the engine's collation may differ
        df = df.sort_values(["position", "fan_id"], kind="stable")
    out = df[keep].reset_index(drop=True)
    out.insert(0, "cutoff", np.asarray(cutoffs, dtype=object)[df["position"].to_numpy()])
    return out, channels


def churn_features(
    fd: Any,
    cutoff: Any,
    *,
    churn_days: int = 30,
    active_within_days: int | None = ACTIVE_WITHIN_DAYS,
    channels: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Per-fan features as of ``cutoff``, computed in the engine from data strictly before the cut-off.

    One row per eligible fan: joined before the cut-off and active in the
    ``active_within_days`` days before it (default ``churn_days``: every fan
    not yet churned). Channel becomes 0/1 columns ``channel_<code>``.
    """
    out = churn_datasets(
        fd, [cutoff], labelled=False, churn_days=churn_days, active_within_days=active_within_days, channels=channels
    ).drop(columns="cutoff")
    out.attrs.update(cutoff=to_date(cutoff), churn_days=churn_days)
    return out


def churn_dataset(
    fd: Any,
    cutoff: Any,
    *,
    horizon_days: int = 30,
    churn_days: int = 30,
    active_within_days: int | None = ACTIVE_WITHIN_DAYS,
    channels: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Features as of ``cutoff`` with the churn label attached."""
    out = churn_datasets(
        fd,
        [cutoff],
        horizon_days=horizon_days,
        churn_days=churn_days,
        active_within_days=active_within_days,
        channels=channels,
    ).drop(columns="cutoff")
    out.attrs.update(cutoff=to_date(cutoff))
    return out


def feature_columns(df: pd.DataFrame) -> list[str]:
    """The model's feature columns of ``df``: the named features and one indicator per channel."""
    return [c for c in df.columns if c in FEATURE_LABELS or c.startswith("channel_")]
