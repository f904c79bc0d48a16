"""Churn-prediction data: per-fan features as of a cut-off date, with the churn label, from engine queries
(the label and the cut-offs themselves: :mod:`.churn_labels`).

Definitions
-----------
* **Cut-off** c: features use only data with timestamps before c (00:00 of that day).
* **Eligible fans** (``population``): ``active`` — joined before c and active in the
  ``active_within_days`` days before c (not churned yet by the report's own definition); ``ever_bought``
  — every fan with an order before c, however long ago (the scoring population of the lifetime-value
  models and of most churn benchmarks).
* **Activity** (``basis``): any event or order, or orders only; a source without events has orders only.
* **Label** "churns within the next ``horizon_days``": no activity in the
  ``churn_days`` days from c + horizon_days on. Such a fan's last activity
  before that quiet spell lies before c + horizon_days, so they churned within
  the horizon. The label needs data up to c + horizon_days + churn_days − 1.
* **Features**: recent behaviour (events and orders in the last 30 and 90 days, check-ins, comments),
  lifetime orders and spend, tenure, the channel, and any declared fan attributes (``attributes``:
  numeric as they are, categorical one 0/1 column per level; see :mod:`.churn_encoding`). Without an
  events table, the event features are left out, not set to zero.
* **Out-of-time validation**: models train on earlier cut-offs whose labels are
  complete before the test cut-off, and are scored on the test cut-off.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from fanlib.data.asof import to_date
from fanlib.present.i18n import catalogue

from .activity import BASES, last_activity_day
from .churn_encoding import ATTRIBUTE_PREFIX, attribute_expr, finish_features
from .churn_labels import check_label_window, label_expr
from .durations import is_negative_comment
from .errors import RetentionInputError
from .queries_churn import INTERACTIVE, cutoff_table, event_aggregates, last_event_ever

__all__ = [
    "ACTIVE_WITHIN_DAYS",
    "INTERACTIVE",
    "FEATURES",
    "EVENT_FEATURES",
    "FEATURE_LABELS",
    "POPULATIONS",
    "churn_features",
    "churn_dataset",
    "churn_datasets",
    "feature_columns",
]

#: Who is scored at each cut-off: fans active shortly before it, or every fan who ever bought.
POPULATIONS = ("active", "ever_bought")

#: Fans scored by the model: active in the last week before the cut-off. Fans quiet for longer are
#: reported separately (their risk is mostly that they have already gone).
ACTIVE_WITHIN_DAYS = 7


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
    "orders_total",
    "spend_total",
    "comments_total",
    "negative_comments",
    "negative_share",
)
#: The features read from the events table (left out when the source has none).
EVENT_FEATURES = (
    "active_days_30",
    "events_30",
    "events_90",
    "interactive_share_30",
    "checkin_days_30",
    "checkin_ever",
)
FEATURE_LABELS = {f: catalogue("retention")[f"feat_{f}"]["zh"] for f in FEATURES}


def _check_choices(basis: str, population: str) -> None:
    if basis not in BASES:
        raise RetentionInputError(f"churn_basis must be one of {', '.join(BASES)}; got {basis!r}")
    if population not in POPULATIONS:
        raise RetentionInputError(f"churn_population must be one of {', '.join(POPULATIONS)}; got {population!r}")


def _check_active_within(active_within_days: int | None, churn_days: int) -> int:
    active_within_days = churn_days if active_within_days is None else active_within_days
    if not 1 <= active_within_days <= churn_days:
        raise RetentionInputError("active_within_days must lie between 1 and churn_days")
    return active_within_days


def _features_expr(
    fd, cuts: ir.Table, cutoffs: list[_dt.date], *, basis: str, population: str, attributes: dict[str, str]
) -> ir.Table:
    """Per (fan, cut-off) features, from data strictly before each cut-off, for every cut-off in ``cuts``.

    Each cut-off reads only the 90 days of events before it; ``checkin_ever`` comes from each fan's first
    check-in, and ``last_event`` is only needed within ``active_within_days`` (≤ 90) of the cut-off, where
    the eligibility test uses it (for every buyer, the last event ever), so every value equals a scan of
    all earlier events. Orders give the 90-day and the lifetime counts and spend.
    """
    since = lambda cut, day: cut.delta(day, unit="day")  # noqa: E731 - days before the cut-off
    events = fd.has("events")
    o = fd.orders
    od = o.select("fan_id", "amount_cny", day=o.order_time.date())
    od = od.join(cuts, od.day < cuts.cutoff)
    o90 = od.day >= od.start_90
    o_agg = od.group_by("fan_id", "position").aggregate(
        last_order=od.day.max(),
        orders_90=o90.ifelse(1, 0).sum(),
        spend_90=o90.ifelse(od.amount_cny, 0.0).sum(),
        orders_total=od.count(),
        spend_total=od.amount_cny.sum(),
    )
    f = fd.fans
    t = f.select("fan_id", "channel", "join_time").cross_join(
        cuts.select("position", "cutoff", "cutoff_ts", "start_active")
    )
    t = t.filter(t.join_time < t.cutoff_ts)
    keys = ["fan_id", "position"]

    def attach(t, agg):
        return t.left_join(agg, keys).select(t, *[agg[k] for k in agg.columns if k not in keys])

    if events:
        ev_agg, first_ck = event_aggregates(fd, cutoffs)
        if population == "ever_bought":
            ev_agg = ev_agg.drop("last_event")
        t = attach(t, ev_agg)
        if population == "ever_bought":
            t = attach(t, last_event_ever(fd, cuts))
    t = attach(t, o_agg)
    old = ibis.date("1900-01-01")
    if events and basis == "activity":
        t = t.mutate(last_active=ibis.greatest(t.last_event.fill_null(old), t.last_order.fill_null(old)))
    else:
        t = t.mutate(last_active=t.last_order.fill_null(old))
    # eligible: still a fan by the churn definition at the cut-off, or any fan who has bought
    t = t.filter(t.last_active >= t.start_active) if population == "active" else t.filter(t.last_order.notnull())
    if events:
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
    if attributes:
        t = attach(t, attribute_expr(fd, attributes, cutoffs))
    t = t.mutate(days_since_active=since(t.cutoff, t.last_active), tenure_days=since(t.cutoff, t.join_time.date()))
    # No NULL leaves the engine: a column with any NULL comes back through Python lists, slowly. Counts
    # without rows are 0; never ordered counts as one day longer ago than the fan's tenure (a neutral,
    # finite value for the models).
    zero_counts = [
        *(["active_mask_30", "events_30", "events_90", "inter_30", "checkin_mask_30"] if events else []),
        "orders_90",
        "orders_total",
        *(["comments_total", "negative_comments"] if fd.has("comments") else []),
    ]
    t = t.mutate(
        days_since_order=since(t.cutoff, t.last_order).fill_null(t.tenure_days + 1),
        spend_90=t.spend_90.fill_null(0.0),
        spend_total=t.spend_total.fill_null(0.0),
        **{c: t[c].fill_null(0) for c in zero_counts},
    )
    drop = ["join_time", "cutoff", "cutoff_ts", "start_active", "last_order", "last_active"]
    drop += ["last_event", "first_checkin"] if events else []
    return t.drop(*drop)


def churn_datasets(
    fd: Any,
    cutoffs: Sequence[Any],
    *,
    labelled: bool | list[bool] = True,
    horizon_days: int = 30,
    churn_days: int = 30,
    active_within_days: int | None = ACTIVE_WITHIN_DAYS,
    channels: Sequence[str] | None = None,
    basis: str = "activity",
    population: str = "active",
    attributes: Sequence[str] = (),
) -> pd.DataFrame:
    """Features (and, where ``labelled``, the churn label) for several cut-offs from ONE engine query.

    One row per (cut-off, eligible fan), ordered by cut-off (as given) then fan id, with a ``cutoff``
    column; every row equals ``churn_features`` / ``churn_dataset`` at that cut-off. ``labelled`` is one
    flag for all cut-offs or one per cut-off; unlabelled cut-offs (e.g. today) get ``churned`` = NaN.
    The label is an anti-join in the engine: a fan churned when they have no activity in the label window.
    ``basis``, ``population`` and ``attributes``: see the module notes.
    """
    _check_choices(basis, population)
    active_within_days = _check_active_within(active_within_days, churn_days)
    kinds = _attribute_kinds(fd, attributes)
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
    cuts = cutoff_table(cuts_list, active_within_days=active_within_days)
    t = _features_expr(fd, cuts, cuts_list, basis=basis, population=population, attributes=kinds)
    if any(flags):
        labelled_positions = [i for i, flag in enumerate(flags) if flag]
        seen = label_expr(
            fd,
            {i: cuts_list[i] for i in labelled_positions},
            horizon_days=horizon_days,
            churn_days=churn_days,
            basis=basis,
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
        who = (
            f"no fan was active in the {active_within_days} days before the cut-off"
            if population == "active"
            else "no fan had bought before the cut-off"
        )
        raise RetentionInputError(f"{who} {', '.join(empty)}; there is nobody to score")
    features = [f for f in FEATURES if fd.has("events") or f not in EVENT_FEATURES]
    out, channels = finish_features(
        df, cuts_list, channels, features=features, attributes=kinds, extra=["churned"] if any(flags) else []
    )
    if all(flags):
        out["churned"] = out["churned"].astype(int)
    out.attrs.update(
        churn_days=churn_days,
        channels=channels,
        horizon_days=horizon_days,
        cutoffs=cuts_list,
        basis=basis,
        population=population,
        attributes=kinds,
    )
    return out


def _attribute_kinds(fd: Any, attributes: Sequence[str]) -> dict[str, str]:
    """``{column: numeric | categorical}`` of the declared fan attributes named (refused when unknown)."""
    if not attributes:
        return {}
    from fanlib.data.attributes import declared_columns, fan_attributes

    fan_attributes(fd, list(attributes))  # refuses an undeclared column, naming the ones there are
    declared = declared_columns(fd)
    # the channel is a feature already (one indicator per channel)
    return {col: declared[col] for col in dict.fromkeys(attributes) if col != "channel"}


def churn_features(
    fd: Any,
    cutoff: Any,
    *,
    churn_days: int = 30,
    active_within_days: int | None = ACTIVE_WITHIN_DAYS,
    channels: Sequence[str] | None = None,
    **options: Any,
) -> pd.DataFrame:
    """Per-fan features as of ``cutoff``, computed in the engine from data strictly before the cut-off.

    One row per eligible fan: joined before the cut-off and active in the
    ``active_within_days`` days before it (default ``churn_days``: every fan
    not yet churned). Channel becomes 0/1 columns ``channel_<code>``. ``options``: ``basis``,
    ``population`` and ``attributes`` of :func:`churn_datasets`.
    """
    out = churn_datasets(
        fd,
        [cutoff],
        labelled=False,
        churn_days=churn_days,
        active_within_days=active_within_days,
        channels=channels,
        **options,
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
    **options: Any,
) -> pd.DataFrame:
    """Features as of ``cutoff`` with the churn label attached (``options``: as :func:`churn_features`)."""
    out = churn_datasets(
        fd,
        [cutoff],
        horizon_days=horizon_days,
        churn_days=churn_days,
        active_within_days=active_within_days,
        channels=channels,
        **options,
    ).drop(columns="cutoff")
    out.attrs.update(cutoff=to_date(cutoff))
    return out


def feature_columns(df: pd.DataFrame) -> list[str]:
    """The model's feature columns of ``df``: the named features, one indicator per channel and the
    declared fan attributes (``attr:<column>``, ``attr:<column>=<level>``)."""
    return [c for c in df.columns if c in FEATURE_LABELS or c.startswith(("channel_", ATTRIBUTE_PREFIX))]
