"""Churn models: a calibrated classifier (logistic baseline or gradient boosting), fitted on a capped,
stratified sample of the training rows, and its evaluation on the out-of-time test set.

Calibration and gains tables are the shared ones of :mod:`fanlib.stats.classification`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from fanlib.stats.classification import expected_calibration_error, gains_table

from .churn_features import feature_columns
from .errors import RetentionInputError

__all__ = ["MAX_TRAIN_ROWS", "ChurnModel", "stratified_sample", "evaluate"]

#: Training rows the churn models are fitted on at most (a stratified, seeded sample above it): the fit
#: time stops growing with the fan base, and the test-set metrics at this size match the full fit's
#: (see ``ChurnModel``).
MAX_TRAIN_ROWS = 200_000


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
        raise RetentionInputError(f"kind must be 'logistic' or 'boosting'; got {self.kind!r}")

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


def stratified_sample(y: Sequence[int] | np.ndarray, size: int | None, random_state: int = 0) -> np.ndarray | None:
    """Row positions of a random sample of ``size`` rows that keeps each label's share (rounded), in their
    original order; None when there are no more than ``size`` rows (use them all)."""
    y = np.asarray(y)
    if size is None or y.size <= size:
        return None
    if size < 2:
        raise RetentionInputError("max_train_rows must be at least 2")
    rng = np.random.default_rng(random_state)
    labels, counts = np.unique(y, return_counts=True)
    take = np.maximum(np.round(counts / y.size * size).astype(int), 1)
    take[np.argmax(counts)] -= take.sum() - size  # rounding: the largest class absorbs the difference
    picked = [rng.choice(np.flatnonzero(y == label), n, replace=False) for label, n in zip(labels, take, strict=True)]
    return np.sort(np.concatenate(picked))


def evaluate(y: Sequence[int] | np.ndarray, p: Sequence[float] | np.ndarray) -> dict[str, float]:
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
