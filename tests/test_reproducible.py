"""The same data and parameters give the same summaries and exports, run after run."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fanlib.profiling import BehaviourSegments


def _fans(n: int = 1200, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    group = rng.integers(0, 3, n)
    return pd.DataFrame({
        "fan_id": [f"F{i:05d}" for i in range(n)],
        "interactions_per_active_day": rng.gamma(2.0, 1.0 + group, n),
        "interaction_share": rng.beta(2 + group, 3, n),
        "orders_per_30d": rng.poisson(0.5 + group, n).astype(float),
        "spend_per_30d": rng.gamma(1.5, 40.0 * (1 + group), n),
    })


def test_segments_do_not_depend_on_the_order_the_engine_returns_fans_in():
    X = _fans()
    shuffled = X.sample(frac=1.0, random_state=5).reset_index(drop=True)
    a = BehaviourSegments(n_bootstrap=6, fit_size=800, sample_size=500).fit(X)
    b = BehaviourSegments(n_bootstrap=6, fit_size=800, sample_size=500).fit(shuffled)
    assert a.ari_mean_ == b.ari_mean_ and (a.ari_ == b.ari_).all()
    assert a.k_ == b.k_ and a.scores_.equals(b.scores_)
    # labels stay one per input row, in the caller's order
    la = pd.Series(a.labels_, index=X["fan_id"])
    lb = pd.Series(b.labels_, index=shuffled["fan_id"])
    assert (la.sort_index() == lb.sort_index()).all()
    pd.testing.assert_frame_equal(a.centroids_, b.centroids_)
