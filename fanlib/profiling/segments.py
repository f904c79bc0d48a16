"""Data-driven behaviour segments: k-means on standardized, log-transformed RFM and engagement features.

Recency is left out of the clustering: it is undefined for fans who never bought, and for
buyers it mostly reflects when a single order happened; it stays in the RFM scores.

The number of clusters is chosen by the mean silhouette on a fixed random sample
(the k with the highest silhouette wins; ties go to the smaller k). Stability is the
adjusted Rand index (ARI) between the full fit and fits on bootstrap resamples, each
labelling every fan. Clusters are described in plain words from their centroids.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, silhouette_score
from threadpoolctl import threadpool_limits

from fanlib.profiling.window import ProfilingDataError

#: Feature → (log-transform?, words for high, words for low). Rates are per 30 days of membership in the window.
FEATURES = {
    "interactions_per_30d": (True, "互动频繁 interacts a lot", "很少互动 rarely interacts"),
    "interaction_share": (False, "以互动为主 mostly interacts", "以浏览为主 mostly browses"),
    "active_day_share": (False, "经常在线 often present", "很少出现 seldom present"),
    "speaking_per_30d": (True, "常发言 posts often", "少发言 rarely posts"),
    "clicks_per_30d": (True, "常点击商品 clicks often", "很少点击 rarely clicks"),
    "orders_per_30d": (True, "购买频次高 buys often", "很少购买 rarely buys"),
    "spend_per_30d": (True, "消费金额高 spends a lot", "消费少 spends little"),
}
#: Default window of the segment features: half a year, long enough to average out chance.
SEGMENT_WINDOW_DAYS = 180


def segment_inputs(features: ibis.Table, min_observed_days: float = 30.0) -> ibis.Table:
    """The clustering inputs per fan (computed in the engine), with fan_id.

    Only fans with at least one event in the window and ``min_observed_days`` of membership in it
    are clustered; the others have no behaviour to segment yet.
    """
    t = features.filter((features.events > 0) & (features.observed_days >= min_observed_days))
    obs = ibis.greatest(t.observed_days, 1.0)
    return t.select(
        "fan_id", "interactions_per_30d", "interaction_share", "active_day_share",
        speaking_per_30d=t.speaking / obs * 30.0, clicks_per_30d=t.clicks / obs * 30.0,
        orders_per_30d=t.orders / obs * 30.0, spend_per_30d=t.spend / obs * 30.0,
    )


def _transform(X: pd.DataFrame) -> np.ndarray:
    cols = []
    for name, (log, _, _) in FEATURES.items():
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

    def fit(self, X: pd.DataFrame) -> "BehaviourSegments":
        """Choose k, fit the clusters, and measure their bootstrap stability (X: one row per fan)."""
        # One BLAS/OpenMP thread: k-means on a few thousand rows is far slower with threads on a busy machine.
        with threadpool_limits(limits=1):
            return self._fit(X)

    def _fit(self, X: pd.DataFrame) -> "BehaviourSegments":
        missing = [c for c in FEATURES if c not in X.columns]
        if missing:
            raise ProfilingDataError(f"segment features are missing columns {missing}")
        if len(X) < max(10, 2 * max(self.k_values)):
            raise ProfilingDataError(
                f"only {len(X)} fans to cluster; behaviour segments need at least {max(10, 2 * max(self.k_values))}")
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
        self.k_ = int(self.scores_.sort_values(["silhouette", "k"], ascending=[False, True]).k.iloc[0])
        self.model_ = KMeans(n_clusters=self.k_, n_init=10, random_state=self.random_state).fit(Z[fit_idx])
        labels = self.model_.predict(Z)
        # Number clusters by engagement (interactions per 30 days), highest first, so labels read the same each run.
        eng = pd.Series(Z[:, list(FEATURES).index("interactions_per_30d")]).groupby(labels).mean()
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

    def describe(self, threshold: float = 0.5, top: int = 3) -> pd.Series:
        """A plain-words description per cluster: its most distinctive features (|z| ≥ threshold)."""
        out = {}
        for c, row in self._z_centroids.iterrows():
            picks = row[row.abs() >= threshold].abs().sort_values(ascending=False).index[:top]
            words = [FEATURES[f][1] if row[f] > 0 else FEATURES[f][2] for f in picks]
            out[c] = "，".join(words) if words else "各项接近平均 close to average on every feature"
        return pd.Series(out, name="description")

    @property
    def summary(self) -> pd.DataFrame:
        """One row per cluster: size, share, centroid (original units) and description."""
        s = self.centroids_.copy()
        s.insert(0, "share", self.sizes_ / self.sizes_.sum())
        s.insert(0, "fans", self.sizes_.astype(int))
        s["description"] = self.describe()
        return s.reset_index()
