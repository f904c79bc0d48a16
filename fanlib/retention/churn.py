"""Churn prediction: features as of a cut-off date, out-of-time validation, calibrated models,
evaluation (ROC/PR-AUC, calibration and ECE, gains and lift) and a ranked at-risk list with
per-fan reasons.

Size: just over 600 lines, because features, models, evaluation and the at-risk list still share this
module; the package-layout issue gives retention its queries/models/summary shape and splits it.

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
from dataclasses import dataclass, field

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from fanlib.data import contract
from fanlib.present.i18n import catalogue

from .activity import (
    RetentionInputError,
    activity_days,
    activity_rows,
    data_end,
    resolve_as_of,
    warn_orders_without_events,
)
from .durations import is_negative_comment

__all__ = [
    "churn_features",
    "label_churn",
    "churn_dataset",
    "churn_datasets",
    "ChurnModel",
    "evaluate",
    "calibration_curve",
    "expected_calibration_error",
    "gains_table",
    "at_risk_list",
    "FEATURE_LABELS",
    "feature_label",
    "oot_cutoffs",
]

#: Training rows the churn models are fitted on at most (a stratified, seeded sample above it): the fit
#: time stops growing with the fan base, and the test-set metrics at this size match the full fit's
#: (see ``ChurnModel``).
MAX_TRAIN_ROWS = 200_000

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


def _cutoff(value) -> _dt.date:
    return pd.Timestamp(value).date()


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


def _label_expr(
    fd, cutoffs: dict[int, _dt.date], *, horizon_days: int, churn_days: int, basis: str = "activity"
) -> ir.Table:
    """(fan_id, position) of the fans active in the label window of each cut-off ``{position: cut-off}``
    (see module notes): activity rows joined on their day to a small table of label-window days."""
    shifts = range(horizon_days, horizon_days + churn_days)
    frame = pd.DataFrame(
        [(c + _dt.timedelta(days=k), position) for position, c in cutoffs.items() for k in shifts],
        columns=["day", "position"],
    ).astype({"day": "datetime64[s]", "position": "int64"})
    label_days = ibis.memtable(frame).cast({"day": "date"})
    a = activity_rows(fd, basis)
    a = a.filter(a.day >= ibis.date(frame["day"].min().date()), a.day <= ibis.date(frame["day"].max().date()))
    j = a.join(label_days, "day")
    return j.select("fan_id", "position").distinct()


def _check_label_window(c: _dt.date, end: _dt.date, horizon_days: int, churn_days: int) -> None:
    stop = c + _dt.timedelta(days=horizon_days + churn_days - 1)
    if stop > end:
        raise RetentionInputError(
            f"the label for cut-off {c} needs data up to {stop} ({horizon_days}-day horizon plus the "
            f"{churn_days}-day churn window), but the data ends {end}; use a cut-off on or before "
            f"{end - _dt.timedelta(days=horizon_days + churn_days - 1)}"
        )


def churn_datasets(
    fd,
    cutoffs,
    *,
    labelled: bool | list[bool] = True,
    horizon_days: int = 30,
    churn_days: int = 30,
    active_within_days: int | None = ACTIVE_WITHIN_DAYS,
    channels=None,
) -> pd.DataFrame:
    """Features (and, where ``labelled``, the churn label) for several cut-offs from ONE engine query.

    One row per (cut-off, eligible fan), ordered by cut-off (as given) then fan id, with a ``cutoff``
    column; every row equals ``churn_features`` / ``churn_dataset`` at that cut-off. ``labelled`` is one
    flag for all cut-offs or one per cut-off; unlabelled cut-offs (e.g. today) get ``churned`` = NaN.
    The label is an anti-join in the engine: a fan churned when they have no activity in the label window.
    """
    active_within_days = _check_active_within(active_within_days, churn_days)
    cuts_list = [_cutoff(c) for c in cutoffs]
    if not cuts_list:
        raise RetentionInputError("no cut-offs given")
    flags = [labelled] * len(cuts_list) if isinstance(labelled, bool) else list(labelled)
    if len(flags) != len(cuts_list):
        raise ValueError("labelled needs one flag per cut-off")
    end = data_end(fd)
    for c, flag in zip(cuts_list, flags):
        if c > end + _dt.timedelta(days=1):
            raise RetentionInputError(
                f"the cut-off {c} is after the data ends ({end}); features would be "
                "computed from data that does not exist — choose a cut-off on or before "
                "the last day"
            )
        if flag:
            _check_label_window(c, end, horizon_days, churn_days)
    cuts = _cutoff_table(cuts_list, active_within_days=active_within_days)
    t = _features_expr(fd, cuts, cuts_list)
    if any(flags):
        labelled_positions = [i for i, flag in enumerate(flags) if flag]
        seen = _label_expr(
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
    fd, cutoff, *, churn_days: int = 30, active_within_days: int | None = ACTIVE_WITHIN_DAYS, channels=None
) -> pd.DataFrame:
    """Per-fan features as of ``cutoff``, computed in the engine from data strictly before the cut-off.

    One row per eligible fan: joined before the cut-off and active in the
    ``active_within_days`` days before it (default ``churn_days``: every fan
    not yet churned). Channel becomes 0/1 columns ``channel_<code>``.
    """
    out = churn_datasets(
        fd, [cutoff], labelled=False, churn_days=churn_days, active_within_days=active_within_days, channels=channels
    ).drop(columns="cutoff")
    out.attrs.update(cutoff=_cutoff(cutoff), churn_days=churn_days)
    return out


def label_churn(
    fd, fan_ids: pd.Series | None, cutoff, *, horizon_days: int = 30, churn_days: int = 30, basis: str = "activity"
) -> pd.DataFrame:
    """1 if the fan churned within ``horizon_days`` after the cut-off (see module notes), else 0."""
    c = _cutoff(cutoff)
    _check_label_window(c, data_end(fd), horizon_days, churn_days)
    start = c + _dt.timedelta(days=horizon_days)
    stop = start + _dt.timedelta(days=churn_days - 1)
    a = activity_days(fd, basis)
    a = a.filter((a.day >= ibis.date(start)) & (a.day <= ibis.date(stop)))
    seen = fd.execute(a.select("fan_id").distinct(), label="retention:churn_label")
    ids = pd.Series(fan_ids, dtype="string")
    active = ids.isin(seen["fan_id"].astype("string"))
    return pd.DataFrame({"fan_id": ids.to_numpy(), "churned": (~active).astype(int).to_numpy()})


def churn_dataset(
    fd,
    cutoff,
    *,
    horizon_days: int = 30,
    churn_days: int = 30,
    active_within_days: int | None = ACTIVE_WITHIN_DAYS,
    channels=None,
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
    out.attrs.update(cutoff=_cutoff(cutoff))
    return out


def oot_cutoffs(
    fd,
    *,
    horizon_days: int = 30,
    churn_days: int = 30,
    n_train: int = 6,
    step_days: int = 30,
    test_cutoff=None,
    as_of=None,
) -> tuple[list[_dt.date], _dt.date]:
    """(train cut-offs, test cut-off): the test cut-off is the latest whose label is complete by ``as_of``
    (default: the data's last day); training labels are known by the test cut-off."""
    end, _ = resolve_as_of(fd, as_of)
    latest = end - _dt.timedelta(days=horizon_days + churn_days - 1)
    test = latest if test_cutoff is None else _cutoff(test_cutoff)
    if test > latest:
        raise RetentionInputError(
            f"the test cut-off {test} is too late: its label needs data up to "
            f"{test + _dt.timedelta(days=horizon_days + churn_days - 1)} and the analysis "
            f"date is {end}"
        )
    first = fd.date_range()[0]
    if first is not None and test <= first.date():
        raise RetentionInputError(
            f"the analysis date {end} is too early for the churn model: its test cut-off "
            f"{test} (as_of minus horizon_days and churn_days) is not after the data's first "
            f"day, {first.date()}; choose a later as_of or shorter windows"
        )
    first_train = test - _dt.timedelta(days=horizon_days + churn_days)
    return [first_train - _dt.timedelta(days=step_days * k) for k in range(n_train)], test


# --------------------------------------------------------------------------- models


def feature_columns(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if c in FEATURE_LABELS or c.startswith("channel_")]


def _check_labels(y: np.ndarray, what: str) -> None:
    if y.size == 0:
        raise RetentionInputError(f"{what}: no eligible fans")
    if y.min() == y.max():
        state = "churned" if y[0] == 1 else "stayed"
        raise RetentionInputError(
            f"{what}: every one of the {y.size:,} fans {state}, so a churn model cannot "
            "learn to tell them apart; check the cut-offs and the churn window"
        )


@dataclass
class ChurnModel:
    """A calibrated churn classifier: ``kind="logistic"`` (baseline) or ``"boosting"``.

    ``fit(train)`` returns self; ``predict_proba(df)`` gives P(churn within the
    horizon). Calibration: isotonic regression over 3-fold cross-fitting
    (scikit-learn's ``CalibratedClassifierCV``).

    ``max_train_rows`` caps the rows the model is fitted on: above the cap it
    fits on a random sample of that size, stratified by the label (each class
    keeps its share, rounded) and seeded by ``random_state``, so the fit time
    stops growing with the fan base. This is an approximation: the fitted
    model is the one a smaller training set gives (``n_fit_`` rows of
    ``n_train_``). Evaluation and scoring always use every test and current
    fan.
    """

    kind: str = "boosting"
    random_state: int = 0
    max_train_rows: int | None = None
    features_: list[str] = field(default_factory=list)

    def _estimator(self):
        if self.kind == "logistic":
            return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
        if self.kind == "boosting":
            return HistGradientBoostingClassifier(
                max_iter=200,
                learning_rate=0.05,
                max_leaf_nodes=15,
                min_samples_leaf=80,
                l2_regularization=1.0,
                random_state=self.random_state,
            )
        raise ValueError(f"kind must be 'logistic' or 'boosting'; got {self.kind!r}")

    def fit(self, train: pd.DataFrame) -> ChurnModel:
        self.features_ = feature_columns(train)
        y = train["churned"].to_numpy()
        _check_labels(y, "churn model training data")
        self.n_train_ = int(y.size)
        self.base_rate_ = float(y.mean())
        self.reference_ = train[self.features_].median()
        rows = stratified_sample(y, self.max_train_rows, self.random_state)
        if rows is not None:
            train, y = train.iloc[rows], y[rows]
        self.n_fit_ = int(y.size)
        X = train[self.features_].to_numpy(dtype=float)
        # One thread: OpenMP gradient boosting slows down badly on a shared, busy machine.
        with threadpool_limits(1):
            self.model_ = CalibratedClassifierCV(self._estimator(), method="isotonic", cv=3).fit(X, y)
        return self

    def predict_proba(self, df: pd.DataFrame) -> np.ndarray:
        missing = [c for c in self.features_ if c not in df]
        if missing:
            raise RetentionInputError(f"features missing for scoring: {', '.join(missing)}")
        with threadpool_limits(1):
            return self.model_.predict_proba(df[self.features_].to_numpy(dtype=float))[:, 1]

    def contributions(self, df: pd.DataFrame) -> pd.DataFrame:
        """Per-fan, per-feature contribution: how much the churn probability falls when that feature
        is reset to the training median (positive = the feature raises this fan's risk)."""
        X = df[self.features_].to_numpy(dtype=float)
        base = self.predict_proba(df)
        out = np.empty_like(X)
        for j, col in enumerate(self.features_):
            Xj = X.copy()
            Xj[:, j] = self.reference_[col]
            with threadpool_limits(1):
                out[:, j] = base - self.model_.predict_proba(Xj)[:, 1]
        return pd.DataFrame(out, columns=self.features_, index=df.index)


def stratified_sample(y, size: int | None, random_state: int = 0) -> np.ndarray | None:
    """Row positions of a random sample of ``size`` rows that keeps each label's share (rounded), in their
    original order; None when there are no more than ``size`` rows (use them all)."""
    y = np.asarray(y)
    if size is None or y.size <= size:
        return None
    if size < 2:
        raise ValueError("max_train_rows must be at least 2")
    rng = np.random.default_rng(random_state)
    labels, counts = np.unique(y, return_counts=True)
    take = np.maximum(np.round(counts / y.size * size).astype(int), 1)
    take[np.argmax(counts)] -= take.sum() - size  # rounding: the largest class absorbs the difference
    picked = [rng.choice(np.flatnonzero(y == label), n, replace=False) for label, n in zip(labels, take)]
    return np.sort(np.concatenate(picked))


def expected_calibration_error(y, p, bins: int = 10) -> float:
    """ECE over equal-frequency bins: Σ_b (n_b/N)·|mean(p)_b − mean(y)_b|."""
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    table = calibration_curve(y, p, bins)
    return float(np.sum(table["n"] / table["n"].sum() * np.abs(table["predicted"] - table["observed"])))


def calibration_curve(y, p, bins: int = 10) -> pd.DataFrame:
    """Mean predicted vs observed churn in equal-frequency bins of the prediction."""
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    order = np.argsort(p, kind="stable")
    groups = np.array_split(order, bins)
    return pd.DataFrame(
        [
            {"bin": i + 1, "n": g.size, "predicted": p[g].mean(), "observed": y[g].mean()}
            for i, g in enumerate(groups)
            if g.size
        ]
    )


def gains_table(y, p, groups: int = 10) -> pd.DataFrame:
    """Deciles by predicted risk (1 = highest): churn rate, lift, cumulative share of churners caught."""
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    order = np.argsort(-p, kind="stable")
    parts = np.array_split(order, groups)
    total, rate = y.sum(), y.mean()
    rows, caught, seen = [], 0.0, 0
    for i, g in enumerate(parts):
        caught += y[g].sum()
        seen += g.size
        rows.append(
            {
                "decile": i + 1,
                "fans": g.size,
                "churn_rate": y[g].mean(),
                "lift": y[g].mean() / rate,
                "cumulative_fans_share": seen / y.size,
                "cumulative_churn_captured": caught / total,
            }
        )
    return pd.DataFrame(rows)


def evaluate(y, p) -> dict:
    """ROC-AUC, PR-AUC, ECE, base rate and top-decile lift of predictions ``p`` for labels ``y``."""
    y, p = np.asarray(y), np.asarray(p)
    _check_labels(y, "churn model evaluation data")
    g = gains_table(y, p)
    return {
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "ece": expected_calibration_error(y, p),
        "base_rate": float(np.mean(y)),
        "top_decile_lift": float(g["lift"].iloc[0]),
        "n": int(y.size),
    }


def _messages(T):
    from .narrative import catalogue

    return T if T is not None else catalogue("zh")


def feature_label(col: str, T=None) -> str:
    """A churn feature's display name from the ``retention`` catalogue (``feat_<column>``)."""
    T = _messages(T)
    if col.startswith("channel_"):
        return T("feat_channel", channel=T.label(col.removeprefix("channel_")))
    return T.label(f"feat_{col}", col)


def _reason_text(col: str, value: float, T=None) -> str:
    from fanlib.present.i18n import fmt_number

    T = _messages(T)
    if col.startswith("channel_"):
        return T("reason_channel", channel=T.label(col.removeprefix("channel_")))
    label = feature_label(col, T)
    if col in ("checkin_ever",):
        return f"{label}{'：' if T.lang == 'zh' else ': '}{T('reason_yes') if value >= 0.5 else T('reason_no')}"
    if col.endswith("share"):
        return f"{label} {value:.0%}"
    if col == "spend_90":
        return f"{label} ¥{value:,.0f}"
    return f"{label} {fmt_number(value, 'number', 'en', 0)}"


def at_risk_list(
    model: ChurnModel,
    scored: pd.DataFrame,
    *,
    top: int | None = None,
    reasons: int = 3,
    min_probability: float = 0.0,
    T=None,
) -> pd.DataFrame:
    """Fans ranked by churn probability, with each fan's top reasons (largest positive contributions),
    worded in the language of the ``retention`` catalogue ``T`` (Chinese when not given)."""
    T = _messages(T)
    p = model.predict_proba(scored)
    df = scored.assign(churn_probability=p)
    df = df[df["churn_probability"] >= min_probability].sort_values("churn_probability", ascending=False)
    if top is not None:
        df = df.head(top)
    contrib = model.contributions(df)
    values = df[model.features_]
    texts = []
    for i in range(len(df)):
        row = contrib.iloc[i]
        pos = row[row > 0.001].sort_values(ascending=False).head(reasons)
        texts.append(
            T("reason_sep").join(_reason_text(c, values.iloc[i][c], T) for c in pos.index) or T("reason_overall")
        )
    out = pd.DataFrame(
        {
            "rank": np.arange(1, len(df) + 1),
            "fan_id": df["fan_id"].to_numpy(),
            "channel": df["channel"].to_numpy(),
            "churn_probability": df["churn_probability"].to_numpy(),
            "top_reasons": texts,
            "days_since_active": df["days_since_active"].to_numpy(),
            "spend_90": df["spend_90"].to_numpy(),
        }
    )
    return out.reset_index(drop=True)


def write_at_risk(list_df: pd.DataFrame, folder, name: str = "03_retention_at_risk", T=None, created=None) -> dict:
    """Write the at-risk list as CSV (UTF-8 with BOM, so Excel shows Chinese) and as .xlsx, with column
    headers in the catalogue's language; ``created`` (the as-of date) dates the workbook, so reruns match."""
    from pathlib import Path

    from fanlib.present.xlsx import write_xlsx

    T = _messages(T)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    csv_path, xlsx_path = folder / f"{name}.csv", folder / f"{name}.xlsx"
    shown = list_df.rename(columns={c: T(f"col_{c}") for c in list_df.columns if f"col_{c}" in T})
    shown.to_csv(csv_path, index=False, encoding="utf-8-sig")
    write_xlsx(xlsx_path, [(T("at_risk_sheet"), shown)], created=created)
    return {"csv": str(csv_path), "xlsx": str(xlsx_path)}


# --------------------------------------------------------------------------- the whole workflow


@dataclass
class ChurnResult:
    """Everything the report shows about churn prediction (small tables only)."""

    train_cutoffs: list
    test_cutoff: _dt.date
    score_date: _dt.date
    horizon_days: int
    churn_days: int
    active_within_days: int
    metrics: pd.DataFrame  # one row per model: roc_auc, pr_auc, ece, base_rate, top_decile_lift, n, n_train, n_fit
    calibration: dict  # model -> calibration table
    gains: dict  # model -> gains table
    best: str
    model: ChurnModel
    test: pd.DataFrame  # test features, label and each model's prediction
    current: pd.DataFrame  # fans scored as of score_date
    importance: pd.Series  # mean |contribution| over the test set, best model


def run_churn_models(
    fd,
    *,
    horizon_days: int = 30,
    churn_days: int = 30,
    active_within_days: int = ACTIVE_WITHIN_DAYS,
    n_train: int = 6,
    test_cutoff=None,
    kinds=("logistic", "boosting"),
    max_train_rows: int | None = MAX_TRAIN_ROWS,
    as_of=None,
) -> ChurnResult:
    """Build out-of-time train/test sets, fit the calibrated models, evaluate, and score the fans as of
    ``as_of`` (default: the data's last day; later data is used neither to train nor to score).

    The models are fitted on at most ``max_train_rows`` training rows (a stratified sample above it, see
    ``ChurnModel``; None fits on all); the metrics' ``n_train`` counts every training row and ``n_fit``
    the rows fitted on.
    """
    warn_orders_without_events(fd, "activity")
    end, _ = resolve_as_of(fd, as_of)
    trains, test_c = oot_cutoffs(
        fd, horizon_days=horizon_days, churn_days=churn_days, n_train=n_train, test_cutoff=test_cutoff, as_of=end
    )
    score_date = end + _dt.timedelta(days=1)
    # one engine query: every training cut-off, the test cut-off (both labelled) and today (unlabelled)
    everything = churn_datasets(
        fd,
        [*trains, test_c, score_date],
        labelled=[True] * (len(trains) + 1) + [False],
        horizon_days=horizon_days,
        churn_days=churn_days,
        active_within_days=active_within_days,
    )
    in_train = everything["cutoff"].isin(trains).to_numpy()
    channels = sorted(everything.loc[in_train, "channel"].dropna().unique())
    # channel indicators: the training cut-offs' channels only (a channel first seen later scores as none)
    unseen = [c for c in everything.columns if c.startswith("channel_") and c.removeprefix("channel_") not in channels]
    everything = everything.drop(columns=unseen)
    train = everything[in_train].drop(columns="cutoff").reset_index(drop=True)
    train["churned"] = train["churned"].astype(int)
    test = everything[(everything["cutoff"] == test_c).to_numpy()].drop(columns="cutoff").reset_index(drop=True)
    test["churned"] = test["churned"].astype(int)
    current = everything[(everything["cutoff"] == score_date).to_numpy()].drop(columns=["cutoff", "churned"])
    current = current.reset_index(drop=True)
    current.attrs.update(cutoff=score_date, churn_days=churn_days, channels=channels)
    rows, calib, gains, models = [], {}, {}, {}
    for kind in kinds:
        m = ChurnModel(kind, max_train_rows=max_train_rows).fit(train)
        p = m.predict_proba(test)
        test[f"p_{kind}"] = p
        ev = evaluate(test["churned"], p)
        rows.append({"model": kind, **ev, "n_train": m.n_train_, "n_fit": m.n_fit_})
        calib[kind] = calibration_curve(test["churned"], p)
        gains[kind] = gains_table(test["churned"], p)
        models[kind] = m
    metrics = pd.DataFrame(rows).set_index("model")
    best = str(metrics["roc_auc"].idxmax())
    sample = test.sample(min(len(test), 2000), random_state=0)
    importance = models[best].contributions(sample).abs().mean().sort_values(ascending=False)
    return ChurnResult(
        trains,
        test_c,
        score_date,
        horizon_days,
        churn_days,
        active_within_days,
        metrics,
        calib,
        gains,
        best,
        models[best],
        test,
        current,
        importance,
    )
