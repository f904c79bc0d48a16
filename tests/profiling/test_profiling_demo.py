"""The profiling recovers the demo's planted truths (20,000 fans, seed 7; see data/demo_truth.json).

The demo plants a latent behaviour segment per fan (core / active / potential / silent, 15/30/40/15%)
in table truth_fans; it drives activity, event mix, orders and spend.
"""

from __future__ import annotations

import duckdb
import pytest
from sklearn.metrics import adjusted_rand_score

from fanlib.data.fandata import connect
from fanlib.profiling import BehaviourSegments, fan_features, fan_profile, layer_shares, resolve_as_of, segment_inputs
from fanlib.profiling.layers import LAYERS


@pytest.fixture(scope="module")
def fd(demo_path):
    return connect(str(demo_path))


@pytest.fixture(scope="module")
def truth(demo_path):
    with duckdb.connect(str(demo_path), read_only=True) as con:
        return con.sql("SELECT fan_id, segment FROM truth_fans").df()


def test_behaviour_segments_recover_the_planted_segments(fd, truth):
    as_of = resolve_as_of(fd)
    X = fd.execute(segment_inputs(fan_features(fd, as_of, 180)))
    model = BehaviourSegments(n_bootstrap=5).fit(X)
    assert model.k_ == 4  # chosen by silhouette, not told
    assert model.scores_.silhouette.max() - model.scores_.set_index("k").silhouette[4] <= model.k_tolerance
    merged = X[["fan_id"]].assign(cluster=model.labels_).merge(truth, on="fan_id", validate="1:1")
    assert len(merged) == len(X) > 5000
    assert adjusted_rand_score(merged.segment, merged.cluster) >= 0.8
    assert model.ari_mean_ >= 0.8  # and stable under bootstrap resampling


def test_layer_shares_within_two_points_of_the_planted_shares(fd, truth, demo_truth):
    profile = fan_profile(fd, resolve_as_of(fd))
    shares = layer_shares(fd, profile.table)
    layered = fd.execute(profile.table.select("fan_id", "layer")).merge(truth, on="fan_id", validate="1:1")
    layered = layered[layered.layer.isin(LAYERS)]
    assert len(layered) == shares.n > 5000
    planted = layered.segment.value_counts(normalize=True)  # the planted segments of the same fans
    for layer in LAYERS:
        assert abs(shares.shares[layer] - planted[layer]) <= 0.02, layer
        # and the planted probabilities of the generator (15/30/40/15), within sampling noise
        assert abs(shares.shares[layer] - demo_truth["segments"]["probabilities"][layer]) <= 0.03, layer
    # each fan's layer, not just the shares, mostly matches the planted segment
    assert (layered.layer == layered.segment).mean() >= 0.9


def test_early_identification_beats_the_base_rate_on_later_joiners(fd):
    from fanlib.profiling import EarlyValueModel, early_features

    data = fd.execute(early_features(fd, resolve_as_of(fd), 14, 60))
    model = EarlyValueModel(14, 60).fit(data)
    m = model.metrics_
    train_last = data.sort_values(["join_time", "fan_id"]).join_time.iloc[m["train_fans"] - 1]
    assert (model.test_.join_time >= train_last).all()  # a time-based split: tested on later joiners
    assert m["train_fans"] + m["test_fans"] == len(data)
    assert (model.test_.flagged == (model.test_.score >= model.flag_threshold_)).all()  # threshold from training
    assert m["precision"] >= 2 * m["test_base_rate"] and m["recall"] >= 0.3
    assert m["auc"] > 0.7
