"""Statistical properties by simulation: A/A false positives, interval coverage, CUPED, peeking.

Simulations draw the per-variant sufficient statistics (or unit data in numpy blocks)
with fixed seeds, then run the readout's own functions on them.
"""

from __future__ import annotations

import numpy as np
import pytest

from fanlib.ab.cuped import cuped
from fanlib.ab.lifts import absolute_lift, relative_lift
from fanlib.ab.sequential import default_tau2, halfwidth, msprt_p_value
from fanlib.ab.stats import Moments, SampleStats

SPLITS = 2_000


def _zero_inflated_revenue(rng, shape, buy=0.3, mu=4.0, sigma=1.3, scale=1.0):
    """Revenue per fan: most fans spend nothing, buyers' spend is log-normal (heavy-tailed)."""
    buys = rng.random(shape) < buy
    return np.where(buys, rng.lognormal(mu, sigma, shape) * scale, 0.0)


def _revenue_stats(rng, sims, n, buy=0.3, mu=4.0, sigma=1.3, scale=1.0):
    """(sum, sum of squares) of n fans' zero-inflated log-normal revenue for each simulated arm.

    Only the buyers' amounts are drawn: k ~ Binomial(n, buy) buyers per arm, then k amounts.
    """
    k = rng.binomial(n, buy, sims)
    amounts = rng.lognormal(mu, sigma, int(k.sum())) * scale
    starts = np.r_[0, np.cumsum(k)[:-1]]
    sums = np.add.reduceat(amounts, starts) * (k > 0)
    sqs = np.add.reduceat(amounts * amounts, starts) * (k > 0)
    return sums, sqs


def _lifts(n1, s1, q1, n0, s0, q0, kind):
    return [
        absolute_lift(SampleStats(n1, a, b, kind), SampleStats(n0, c, d, kind))
        for a, b, c, d in zip(s1, q1, s0, q0, strict=True)
    ]


def test_aa_false_positive_rate_proportion():
    rng = np.random.default_rng(11)
    n = 5_000
    x1, x0 = rng.binomial(n, 0.08, SPLITS), rng.binomial(n, 0.08, SPLITS)
    p = np.array([r.p_value for r in _lifts(n, x1, x1, n, x0, x0, "proportion")])
    assert 0.04 <= (p < 0.05).mean() <= 0.06


def test_aa_false_positive_rate_heavy_tailed_revenue():
    rng = np.random.default_rng(12)
    n = 5_000
    s1, q1 = _revenue_stats(rng, SPLITS, n)
    s0, q0 = _revenue_stats(rng, SPLITS, n)
    p = np.array([r.p_value for r in _lifts(n, s1, q1, n, s0, q0, "mean")])
    assert 0.04 <= (p < 0.05).mean() <= 0.06


def test_aa_false_positive_rate_cuped_revenue():
    """The regression-adjusted test keeps its false-positive rate too."""
    rng = np.random.default_rng(13)
    n, block, hits = 2_000, 100, 0
    for _ in range(SPLITS // block):
        pre = _zero_inflated_revenue(rng, (block, 2, n))
        post = 0.5 * pre + _zero_inflated_revenue(rng, (block, 2, n))
        z = np.stack([post, pre], axis=-1)  # (block, arm, fan, column)
        sums = z.sum(axis=2)
        cross = np.einsum("bafi,bafj->baij", z, z)
        for b in range(block):
            m1 = Moments(n, ("y", "x"), sums[b, 0], cross[b, 0])
            m0 = Moments(n, ("y", "x"), sums[b, 1], cross[b, 1])
            hits += cuped(m1, m0, "y", ["x"]).absolute.p_value < 0.05
    assert 0.04 <= hits / SPLITS <= 0.06


def test_absolute_interval_coverage_at_1000_per_arm():
    rng = np.random.default_rng(21)
    n, sims = 1_000, 4_000
    p0, p1 = 0.10, 0.12
    x1, x0 = rng.binomial(n, p1, sims), rng.binomial(n, p0, sims)
    cover = np.mean([r.low <= p1 - p0 <= r.high for r in _lifts(n, x1, x1, n, x0, x0, "proportion")])
    assert 0.94 <= cover <= 0.96
    s1, q1 = _revenue_stats(rng, sims, n, scale=1.1)
    s0, q0 = _revenue_stats(rng, sims, n)
    true_mean = 0.3 * np.exp(4.0 + 1.3**2 / 2)
    cover = np.mean([r.low <= 0.1 * true_mean <= r.high for r in _lifts(n, s1, q1, n, s0, q0, "mean")])
    assert 0.94 <= cover <= 0.96


@pytest.mark.parametrize("method", ["fieller", "log"])
def test_relative_interval_coverage_at_5000_per_arm(method):
    rng = np.random.default_rng(31)
    n, sims = 5_000, 4_000
    p0, p1 = 0.05, 0.06
    x1, x0 = rng.binomial(n, p1, sims), rng.binomial(n, p0, sims)
    hits = 0
    for a, b in zip(x1, x0, strict=True):
        t, c = SampleStats(n, a, a, "proportion"), SampleStats(n, b, b, "proportion")
        r = relative_lift(t.mean, t.se, c.mean, c.se, n_min=n, method=method)
        hits += r.low <= p1 / p0 - 1 <= r.high
    assert hits / sims >= 0.94
    s1, q1 = _revenue_stats(rng, sims, n, scale=1.05)
    s0, q0 = _revenue_stats(rng, sims, n)
    hits = 0
    for a, b, c, d in zip(s1, q1, s0, q0, strict=True):
        t, ctl = SampleStats(n, a, b), SampleStats(n, c, d)
        r = relative_lift(t.mean, t.se, ctl.mean, ctl.se, n_min=n, method=method)
        hits += r.low <= 0.05 <= r.high
    assert hits / sims >= 0.94


def test_relative_lift_flags_small_samples():
    t, c = SampleStats(200, 12, 12, "proportion"), SampleStats(200, 10, 10, "proportion")
    r = relative_lift(t.mean, t.se, c.mean, c.se, n_min=200)
    assert not r.trusted and "200" in r.note
    big_t, big_c = SampleStats(50_000, 6_000, 6_000, "proportion"), SampleStats(50_000, 5_000, 5_000, "proportion")
    assert relative_lift(big_t.mean, big_t.se, big_c.mean, big_c.se, n_min=50_000).trusted


@pytest.mark.parametrize("rho", [0.3, 0.6, 0.85])
def test_cuped_variance_reduction_is_rho_squared(rho):
    rng = np.random.default_rng(41)
    n = 50_000
    x = rng.normal(size=(2, n))
    y = rho * x + np.sqrt(1 - rho**2) * rng.normal(size=(2, n)) + [[0.02], [0.0]]
    m1, m0 = Moments.from_arrays(["y", "x"], y[0], x[0]), Moments.from_arrays(["y", "x"], y[1], x[1])
    res = cuped(m1, m0, "y", ["x"])
    assert res.applied
    assert res.variance_reduction == pytest.approx(rho**2, abs=0.02)


def test_cuped_never_widens_the_interval():
    rng = np.random.default_rng(42)
    for _ in range(200):
        x, y = rng.normal(size=(2, 2, 400))  # covariate unrelated to the outcome
        m1, m0 = Moments.from_arrays(["y", "x"], y[0], x[0]), Moments.from_arrays(["y", "x"], y[1], x[1])
        raw = absolute_lift(SampleStats.from_moments(m1, "y"), SampleStats.from_moments(m0, "y"))
        adj = cuped(m1, m0, "y", ["x"]).absolute
        assert adj.high - adj.low <= (raw.high - raw.low) * (1 + 1e-3)


def _sequential_aa(rng, sims=2_000, looks=14, per_day=500, p=0.1):
    """Cumulative conversion counts per arm after each daily look: A/A, new fans every day."""
    x = rng.binomial(per_day, p, (2, sims, looks)).cumsum(axis=2)
    n = per_day * np.arange(1, looks + 1)
    p1, p0 = x[0] / n, x[1] / n
    est = p1 - p0
    var = (p1 * (1 - p1) + p0 * (1 - p0)) / n
    return est, var


def test_peeking_safe_mode_keeps_false_positives_under_5_percent_over_14_looks():
    rng = np.random.default_rng(51)
    est, var = _sequential_aa(rng)
    with np.errstate(divide="ignore", invalid="ignore"):
        naive_p = 2 * (1 - __import__("scipy").stats.norm.cdf(np.abs(est / np.sqrt(var))))
    naive_fpr = (naive_p < 0.05).any(axis=1).mean()
    tau2 = default_tau2(float(np.median(var[:, -1])))
    always_valid = (msprt_p_value(est, var, tau2) < 0.05).any(axis=1).mean()
    outside = (np.abs(est) > halfwidth(var, tau2, 0.05)).any(axis=1).mean()
    assert 0.18 <= naive_fpr <= 0.26  # what peeking at a fixed-horizon test does
    assert always_valid <= 0.05
    assert outside == pytest.approx(always_valid, abs=1e-12)  # the sequence and the p-value agree
