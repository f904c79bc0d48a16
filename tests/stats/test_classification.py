"""Calibration and gains of a probability model: the one home of the churn models' and the sentiment
model card's quality tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fanlib.stats.classification import calibration_bins, expected_calibration_error, gains_table


def test_quantile_bins_hold_equal_shares_of_the_predictions_in_order():
    p = np.arange(10) / 10
    y = np.array([0, 0, 0, 0, 0, 1, 0, 1, 1, 1])
    t = calibration_bins(y, p, bins=5)
    assert t["bin"].tolist() == [1, 2, 3, 4, 5] and t["n"].tolist() == [2] * 5
    assert t["predicted"].tolist() == pytest.approx([0.05, 0.25, 0.45, 0.65, 0.85])
    assert t["observed"].tolist() == [0.0, 0.0, 0.5, 0.5, 1.0]
    # Σ (n_b/N)·|predicted − observed|, by hand
    assert expected_calibration_error(y, p, bins=5) == pytest.approx((0.05 + 0.25 + 0.05 + 0.15 + 0.15) / 5)


def test_uniform_bins_cut_the_probability_scale_and_leave_out_empty_bins():
    p = np.array([0.05, 0.08, 0.51, 0.55, 0.99, 1.0])
    y = np.array([0, 0, 1, 0, 1, 1])
    t = calibration_bins(y, p, bins=10, strategy="uniform")
    assert t["low"].tolist() == [0.0, 0.5, 0.9] and t["high"].tolist() == [0.1, 0.6, 1.0]
    assert t["n"].tolist() == [2, 2, 2]  # a probability of exactly 1 falls in the top bin
    expected = (2 * 0.065 + 2 * abs(0.53 - 0.5) + 2 * abs(0.995 - 1.0)) / 6
    assert expected_calibration_error(y, p, strategy="uniform") == pytest.approx(expected)


def test_a_calibrated_model_has_an_ece_near_zero_and_an_overconfident_one_does_not():
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 1, 200_000)
    y = (rng.uniform(0, 1, p.size) < p).astype(int)
    for strategy in ("quantile", "uniform"):
        assert expected_calibration_error(y, p, strategy=strategy) < 0.01
        assert expected_calibration_error(y, np.clip(p * 2 - 0.5, 0, 1), strategy=strategy) > 0.1


def test_the_sentiment_card_ece_is_the_shared_equal_width_one():
    from fanlib.sentiment.card import expected_calibration_error as card_ece
    from fanlib.sentiment.card import reliability_table

    rng = np.random.default_rng(3)
    p = rng.uniform(0, 1, 500)
    y = (rng.uniform(0, 1, 500) < p**2).astype(int)
    card = reliability_table(y, p)
    by_hand = float((card["n"] / card["n"].sum() * (card["mean_predicted"] - card["observed"]).abs()).sum())
    assert card_ece(y, p) == by_hand == expected_calibration_error(y, p, strategy="uniform")


def test_an_unknown_binning_is_refused():
    with pytest.raises(ValueError, match="strategy must be one of quantile, uniform"):
        calibration_bins([0, 1], [0.2, 0.8], strategy="kmeans")


def test_gains_rank_the_highest_predictions_first_and_catch_every_positive_by_the_end():
    p = np.linspace(1, 0, 100, endpoint=False)
    y = np.r_[np.ones(20), np.zeros(80)]  # the 20 highest predictions are the positives
    g = gains_table(y, p)
    assert isinstance(g, pd.DataFrame) and g["decile"].tolist() == list(range(1, 11))
    assert g["churn_rate"].iloc[:2].tolist() == [1.0, 1.0] and g["churn_rate"].iloc[2:].eq(0).all()
    assert g["lift"].iloc[0] == pytest.approx(5.0)
    assert g["cumulative_churn_captured"].iloc[1] == 1.0 and g["cumulative_fans_share"].iloc[-1] == 1.0
