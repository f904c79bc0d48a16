"""Data-driven behaviour segments: k-means on standardized, log-transformed RFM and engagement features.

The features are rates over each fan's span of activity in the window (first to last event), so a
fan who left early or joined late is described by how they behaved while there: interactions per
active day, the interaction share of their events, and orders and spend per 30 days (frequency and
monetary value). Only fans whose activity spans at least ``min_span_days`` are clustered: shorter
histories are mostly chance. Recency is left out: it is undefined for fans who never bought, and for
buyers it mostly reflects when a single order happened; it stays in the RFM scores.

The number of clusters is chosen by the mean silhouette on a fixed random sample: the smallest k
whose silhouette is within ``k_tolerance`` (0.01) of the best. Near-ties are common when one
cluster can be split in two at almost no cost, and the simpler description is then preferred. Stability is the
adjusted Rand index (ARI) between the full fit and fits on bootstrap resamples, each
labelling every fan. Clusters are described in plain words from their centroids.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ibis
import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, silhouette_score
from threadpoolctl import threadpool_limits

from fanlib.profiling.errors import ProfilingDataError

#: Feature → (log-transform?, words for high, words for low). Rates are per 30 days of membership in the window.
#: Feature → log-transform? The words for a high and a low value are ``seg_<feature>_high``/``_low``
#: in the ``fan_profiling`` message catalogue.
FEATURES = {
    "interactions_per_active_day": True,
    "interaction_share": False,
    "orders_per_30d": True,
    "spend_per_30d": True,
}
#: Default window of the segment features: half a year, long enough to average out chance.
SEGMENT_WINDOW_DAYS = 180


def segment_inputs(features: ibis.Table, min_span_days: float = 60.0) -> ibis.Table:
    """The clustering inputs per fan (computed in the engine), with fan_id.

    Only fans whose events in the window span at least ``min_span_days`` are clustered; the others
    have too short a history to segment.
    """
    t = features.filter(features.active_span_days >= min_span_days)
    span = ibis.greatest(t.active_span_days, 1.0)
    return t.select(
        "fan_id",
        "interaction_share",
        interactions_per_active_day=t.interactions / ibis.greatest(t.active_days, 1).cast("float64"),
        orders_per_30d=t.orders / span * 30.0,
        spend_per_30d=t.spend / span * 30.0,
    )


def _transform(X: pd.DataFrame) -> np.ndarray:
    cols = []
    for name, log in FEATURES.items():
        v = X[name].to_numpy(dtype=float)
        cols.append(np.log1p(np.clip(v, 0, None)) if log else v)
    return np.column_stack(cols)


@dataclass
class BehaviourSegments:
    """K-means behaviour segments with k chosen by silhouette and bootstrap ARI stability.

    Fitted attributes: ``k_``, ``scores_`` (silhouette per k), ``labels_`` (one per input row),
    ``centroids_`` (feature means per cluster, original units), ``ari_`` (bootstrap ARIs),
    ``mean_``/``scale_`` (standardization).
    """

    k_values: tuple[int, ...] = (2, 3, 4, 5, 6, 7, 8)
    n_bootstrap: int = 20
    sample_size: int = 3000  # silhouette sample
    fit_size: int = 50_000  # fans the k-means fits use; every fan is then labelled by nearest centroid
    random_state: int = 0
    k_tolerance: float = 0.01  # smallest k whose silhouette is within this of the best

    def fit(self, X: pd.DataFrame) -> BehaviourSegments:
        """Choose k, fit the clusters, and measure their bootstrap stability (X: one row per fan)."""
        # One BLAS/OpenMP thread: k-means on a few thousand rows is far slower with threads on a busy machine.
        # The samples and resamples are drawn by row position: fit in fan_id order, so the same fans
        # give the same segments and stability whatever order the engine returned them in.
        order = None
        if "fan_id" in X.columns:
            order = np.argsort(X["fan_id"].astype(str).to_numpy(), kind="stable")
            X = X.iloc[order]
        with threadpool_limits(limits=1):
            self._fit(X)
        if order is not None:
            labels = np.empty_like(self.labels_)
            labels[order] = self.labels_
            self.labels_ = labels
        return self

    def _fit(self, X: pd.DataFrame) -> BehaviourSegments:
        missing = [c for c in FEATURES if c not in X.columns]
        if missing:
            raise ProfilingDataError(f"segment features are missing columns {missing}")
        if len(X) < max(10, 2 * max(self.k_values)):
            need = max(10, 2 * max(self.k_values))
            raise ProfilingDataError(
                f"only {len(X)} fans to cluster; behaviour segments need at least {need}",
                "too_few_to_cluster",
                n=len(X),
                need=need,
            )
        rng = np.random.default_rng(self.random_state)
        raw = _transform(X)
        self.mean_ = raw.mean(axis=0)
        scale = raw.std(axis=0)
        self.scale_ = np.where(scale > 0, scale, 1.0)  # a constant feature (e.g. all-zero spend) stays 0
        Z = (raw - self.mean_) / self.scale_
        fit_idx = rng.choice(len(Z), size=min(self.fit_size, len(Z)), replace=False)
        sil_idx = rng.choice(len(Z), size=min(self.sample_size, len(Z)), replace=False)
        scores = []
        for k in self.k_values:
            km = KMeans(n_clusters=k, n_init=4, random_state=self.random_state).fit(Z[fit_idx])
            lab = km.predict(Z[sil_idx])
            s = silhouette_score(Z[sil_idx], lab) if len(set(lab)) > 1 else -1.0
            scores.append({"k": k, "silhouette": float(s), "inertia": float(km.inertia_)})
        self.scores_ = pd.DataFrame(scores)
        best = self.scores_.silhouette.max()
        self.k_ = int(self.scores_.loc[self.scores_.silhouette >= best - self.k_tolerance, "k"].min())
        self.model_ = KMeans(n_clusters=self.k_, n_init=10, random_state=self.random_state).fit(Z[fit_idx])
        labels = self.model_.predict(Z)
        # Number clusters by engagement (interactions per 30 days), highest first, so labels read the same each run.
        eng = pd.Series(Z[:, list(FEATURES).index("interactions_per_active_day")]).groupby(labels).mean()
        order = {old: new for new, old in enumerate(eng.sort_values(ascending=False).index)}
        self._relabel = order
        self.labels_ = np.array([order[v] for v in labels])
        aris = []
        for b in range(self.n_bootstrap):
            boot = rng.choice(fit_idx, size=len(fit_idx), replace=True)
            km = KMeans(n_clusters=self.k_, n_init=2, random_state=self.random_state + 1 + b).fit(Z[boot])
            aris.append(adjusted_rand_score(self.labels_, km.predict(Z)))
        self.ari_ = np.array(aris)
        frame = X[list(FEATURES)].copy()
        frame["cluster"] = self.labels_
        self.centroids_ = frame.groupby("cluster").mean()
        self._z_centroids = pd.DataFrame(Z).groupby(self.labels_).mean()
        self._z_centroids.columns = list(FEATURES)
        self.sizes_ = frame.groupby("cluster").size()
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Cluster of new fans, by nearest centroid."""
        missing = [c for c in FEATURES if c not in X.columns]
        if missing:
            raise ProfilingDataError(f"segment features are missing columns {missing}")
        Z = (_transform(X) - self.mean_) / self.scale_
        return np.array([self._relabel[v] for v in self.model_.predict(Z)])

    @property
    def ari_mean_(self) -> float:
        return float(np.mean(self.ari_)) if len(self.ari_) else float("nan")

    def describe(self, T: Any = None, threshold: float = 0.5, top: int = 3) -> pd.Series:
        """A plain-words description per cluster: its most distinctive features (|z| ≥ threshold).

        ``T`` is the ``fan_profiling`` :class:`fanlib.present.i18n.Messages` (Chinese when omitted).
        """
        if T is None:
            from fanlib.present.i18n import messages

            T = messages("fan_profiling")
        sep = T("segment_sep")
        out = {}
        for c, row in self._z_centroids.iterrows():
            picks = row[row.abs() >= threshold].abs().sort_values(ascending=False).index[:top]
            words = [T(f"seg_{f}_{'high' if row[f] > 0 else 'low'}") for f in picks]
            out[c] = sep.join(words) if words else T("seg_average")
        return pd.Series(out, name="description")

    @property
    def summary(self) -> pd.DataFrame:
        """One row per cluster: size, share, centroid (original units) and description."""
        s = self.centroids_.copy()
        s.insert(0, "share", self.sizes_ / self.sizes_.sum())
        s.insert(0, "fans", self.sizes_.astype(int))
        s["description"] = self.describe()
        return s.reset_index()
