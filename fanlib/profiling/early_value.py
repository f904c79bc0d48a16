"""Early identification of high-value fans from their first days.

From each fan's first ``early_days`` (14) after joining, predict whether they will be
high-value by day ``horizon_days`` (60): spend in their first 60 days at or above the
top ``top_share`` quantile of 60-day spend among the training fans (and above zero).

Only fans who joined at least ``horizon_days`` before the analysis date are used, so
every label is observed. The split is by time: the earliest ``train_share`` of joiners
train the model, the later ones test it (as it would be used). The model is a
logistic regression on log-transformed counts and the acquisition channel; the flag
threshold is chosen on the training fans to maximise F1 and then applied unchanged to
the test fans.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import ibis
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import precision_recall_curve, precision_score, recall_score, roc_auc_score
from sklearn.preprocessing import StandardScaler

from fanlib.data.asof import to_date
from fanlib.data.contract import CHANNELS
from fanlib.profiling.errors import ProfilingDataError
from fanlib.profiling.queries_features import INTERACTION_TYPES
from fanlib.profiling.window import Note

EARLY_COLUMNS = ("events", "active_days", "interactions", "shares", "speaking", "checkins", "orders", "spend")


def early_features(fd: Any, as_of: Any, early_days: int = 14, horizon_days: int = 60) -> ibis.Table:
    """Per fan who joined ≥ horizon_days before as_of: first-``early_days`` activity and the ``horizon`` spend."""
    end = dt.datetime.combine(to_date(as_of) + dt.timedelta(days=1), dt.time())
    cutoff = ibis.literal(end - dt.timedelta(days=horizon_days), type="timestamp")
    fans = fd.fans.filter(fd.fans.join_time < cutoff).select("fan_id", "join_time", "channel")
    ev = fd.events
    j = fans.join(
        ev,
        [
            fans.fan_id == ev.fan_id,
            ev.event_time >= fans.join_time,
            ev.event_time < fans.join_time + ibis.interval(days=early_days),
        ],
    )
    et = j.event_type
    ev_agg = j.group_by(fans.fan_id).aggregate(
        events=j.count(),
        active_days=j.event_time.date().nunique(),
        interactions=et.isin(INTERACTION_TYPES).ifelse(1, 0).sum(),
        shares=(et == "share").ifelse(1, 0).sum(),
        speaking=et.isin(("comment", "message", "ugc_post")).ifelse(1, 0).sum(),
        checkins=(et == "checkin").ifelse(1, 0).sum(),
    )
    od = fd.orders
    jo = fans.join(
        od,
        [
            fans.fan_id == od.fan_id,
            od.order_time >= fans.join_time,
            od.order_time < fans.join_time + ibis.interval(days=horizon_days),
        ],
    )
    early = jo.order_time < jo.join_time + ibis.interval(days=early_days)
    od_agg = jo.group_by(fans.fan_id).aggregate(
        orders=early.ifelse(1, 0).sum(),
        spend=early.ifelse(jo.amount_cny, 0.0).sum(),
        horizon_spend=jo.amount_cny.sum(),
    )
    t = fans.left_join(ev_agg, "fan_id").left_join(od_agg, "fan_id")
    t = t.select("fan_id", "join_time", "channel", *EARLY_COLUMNS, "horizon_spend")
    return t.mutate(**{c: t[c].fill_null(0) for c in (*EARLY_COLUMNS, "horizon_spend")})


def _design(df: pd.DataFrame) -> np.ndarray:
    counts = np.log1p(df[list(EARLY_COLUMNS)].to_numpy(dtype=float).clip(0))
    chan = np.column_stack([(df.channel == c).to_numpy(dtype=float) for c in CHANNELS[1:]])
    return np.hstack([counts, chan])


@dataclass
class EarlyValueModel:
    """Flags future high-value fans from their first ``early_days``.

    Fitted attributes: ``threshold_spend_`` (the high-value line, in the report's currency), ``flag_threshold_``
    (probability cut-off), ``split_date_``, ``metrics_`` (dict), ``test_`` (test fans with scores).
    """

    early_days: int = 14
    horizon_days: int = 60
    top_share: float = 0.10
    train_share: float = 0.7
    notes: list[str] = field(default_factory=list)

    def fit(self, data: pd.DataFrame) -> EarlyValueModel:
        """Fit on the per-fan frame from :func:`early_features` (small: one row per fan)."""
        df = data.sort_values(["join_time", "fan_id"]).reset_index(drop=True)
        if len(df) < 50:
            raise ProfilingDataError(
                f"only {len(df)} fans joined at least {self.horizon_days} days before the analysis date; "
                "early identification needs at least 50",
                "too_few_early",
                n=len(df),
                horizon=str(self.horizon_days),
            )
        n_train = int(len(df) * self.train_share)
        train, test = df.iloc[:n_train], df.iloc[n_train:]
        self.split_date_ = pd.Timestamp(test.join_time.iloc[0]).date()
        buyers = train.horizon_spend[train.horizon_spend > 0]
        if buyers.empty:
            raise ProfilingDataError(
                f"no training fan spent anything in their first {self.horizon_days} days "
                "(orders.amount_cny): nobody is high-value, so there is nothing to predict",
                "no_early_spend",
                horizon=str(self.horizon_days),
            )
        self.threshold_spend_ = float(np.quantile(train.horizon_spend, 1 - self.top_share))
        self.threshold_spend_ = max(self.threshold_spend_, float(buyers.min()))
        y_train = (train.horizon_spend >= self.threshold_spend_).to_numpy()
        y_test = (test.horizon_spend >= self.threshold_spend_).to_numpy()
        if y_train.all() or not y_train.any():
            raise ProfilingDataError(
                "the high-value label is constant among training fans; cannot fit a model", "constant_label"
            )
        self.scaler_ = StandardScaler().fit(_design(train))
        self.model_ = LogisticRegression(max_iter=2000).fit(self.scaler_.transform(_design(train)), y_train)
        p_train = self.predict_proba(train)
        prec, rec, thr = precision_recall_curve(y_train, p_train)
        f1 = 2 * prec * rec / np.where(prec + rec > 0, prec + rec, 1)
        self.flag_threshold_ = float(thr[int(np.argmax(f1[:-1]))])
        p_test = self.predict_proba(test)
        flag = p_test >= self.flag_threshold_
        self.test_ = test.assign(score=p_test, flagged=flag, high_value=y_test)
        self.metrics_ = {
            "train_fans": int(len(train)),
            "test_fans": int(len(test)),
            "split_date": self.split_date_,
            "high_value_spend_cny": self.threshold_spend_,
            "test_base_rate": float(y_test.mean()),
            "flag_threshold": self.flag_threshold_,
            "flagged": int(flag.sum()),
            "precision": float(precision_score(y_test, flag, zero_division=0)),
            "recall": float(recall_score(y_test, flag, zero_division=0)),
            "auc": float(roc_auc_score(y_test, p_test)) if 0 < y_test.sum() < len(y_test) else None,
            "early_days": self.early_days,
            "horizon_days": self.horizon_days,
        }
        if not y_test.any():
            self.notes.append(Note("no_test_high_value"))
        return self

    def predict_proba(self, df: pd.DataFrame) -> np.ndarray:
        return self.model_.predict_proba(self.scaler_.transform(_design(df)))[:, 1]

    @property
    def summary(self) -> pd.DataFrame:
        """Model coefficients on the standardized features (positive = more likely high-value)."""
        names = [f"log1p({c})" for c in EARLY_COLUMNS] + [f"channel={c}" for c in CHANNELS[1:]]
        return (
            pd.DataFrame({"feature": names, "coefficient": self.model_.coef_[0]})
            .sort_values("coefficient", ascending=False, key=abs)
            .reset_index(drop=True)
        )
