"""BG/NBD and Gamma-Gamma: CDNOW's published parameters, recovery from simulation, the formulas."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

from fanlib.retention import clv, clv_models

CDNOW_CSV = "lifetimes/datasets/cdnow_customers_summary_with_transactions.csv"


@pytest.fixture(scope="session")
def cdnow() -> pd.DataFrame:
    """The CDNOW sample (2,357 customers, 39-week calibration) shipped by the lifetimes package (dev extra).

    Read as a file of the installed distribution, without importing lifetimes itself."""
    path = Path(str(metadata.distribution("lifetimes").locate_file(CDNOW_CSV)))
    return pd.read_csv(path)


def test_bgnbd_reproduces_cdnow(cdnow):
    assert len(cdnow) == 2357
    m = clv_models.BetaGeoModel().fit(cdnow["x"], cdnow["t_x"], cdnow["T"])
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    for k, v in published.items():
        assert m.params_[k] == pytest.approx(v, rel=0.005), k
    assert m.loglik_ == pytest.approx(-9582.4, rel=0.005)
    assert abs(m.loglik_ - -9582.4) < 0.1
    assert m.converged_
    s = m.summary
    assert ((s["ci_low"] < s["estimate"]) & (s["estimate"] < s["ci_high"])).all()


def test_gamma_gamma_reproduces_cdnow(cdnow):
    g = clv_models.GammaGammaModel().fit(cdnow["x"], cdnow["zbar"])
    for k, v in {"p": 6.25, "q": 3.74, "gamma": 15.44}.items():
        assert g.params_[k] == pytest.approx(v, rel=0.005), k
    assert g.n_customers_ == int((cdnow["x"] > 0).sum())


def test_bgnbd_gradient_is_analytic_and_correct():
    sim = clv_models.simulate_bgnbd(3000, 0.5, 8.0, 0.8, 3.0, T=np.linspace(20, 60, 3000), seed=1)
    x, tx, T = (sim[c].to_numpy() for c in ("frequency", "recency", "T"))
    w = np.ones_like(x)
    for point in (np.log([0.3, 5, 0.7, 2.0]), np.log([1.2, 20, 2.0, 6.0])):
        f = lambda p: clv_models._bgnbd_negll_and_grad(p, x, tx, T, w)[0]  # noqa: E731
        g = lambda p: clv_models._bgnbd_negll_and_grad(p, x, tx, T, w)[1]  # noqa: E731
        num = optimize.approx_fprime(point, f, 1e-6)
        np.testing.assert_allclose(g(point), num, rtol=1e-4, atol=1e-2)
    m = sim.assign(mv=clv_models.simulate_gamma_gamma(sim["frequency"], 6, 4, 15, seed=2))
    m = m[m["frequency"] > 0]
    xs, ms = m["frequency"].to_numpy(), m["mv"].to_numpy()
    point = np.log([5.0, 3.0, 10.0])
    f = lambda p: clv_models._gg_negll_and_grad(p, xs, ms, np.ones_like(xs))[0]  # noqa: E731
    num = optimize.approx_fprime(point, f, 1e-6)
    np.testing.assert_allclose(
        clv_models._gg_negll_and_grad(point, xs, ms, np.ones_like(xs))[1], num, rtol=1e-4, atol=1e-2
    )


@pytest.mark.slow
def test_recovers_simulated_parameters_at_one_million_customers():
    n = 1_000_000
    true = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    T = np.random.default_rng(5).uniform(20, 60, n)
    sim = clv_models.simulate_bgnbd(n, **true, T=T, seed=6)
    m = clv_models.BetaGeoModel().fit(sim["frequency"], sim["recency"], sim["T"])
    for k, v in true.items():
        assert m.params_[k] == pytest.approx(v, rel=0.02), k
    gg_true = {"p": 6.25, "q": 3.74, "gamma": 15.44}
    mv = clv_models.simulate_gamma_gamma(sim["frequency"], **gg_true, seed=7)
    g = clv_models.GammaGammaModel().fit(sim["frequency"], mv)
    for k, v in gg_true.items():
        assert g.params_[k] == pytest.approx(v, rel=0.02), k


def test_p_alive_and_will_not_buy_again_score(cdnow):
    m = clv_models.BetaGeoModel().fit(cdnow["x"], cdnow["t_x"], cdnow["T"])
    r, alpha, a, b = m.params_
    x, tx, T = (cdnow[c].to_numpy(float) for c in ("x", "t_x", "T"))
    pa = m.p_alive(x, tx, T)
    assert np.all(pa[x == 0] == 1.0)  # why 1 − P(alive) is a poor churn score
    has = x > 0
    hand = 1 / (1 + a / (b + x[has] - 1) * ((alpha + T[has]) / (alpha + tx[has])) ** (r + x[has]))
    np.testing.assert_allclose(pa[has], hand, rtol=1e-12)
    t = 26.0
    score = m.p_no_purchase(t, x, tx, T)
    np.testing.assert_allclose(score, 1 - pa + pa * ((alpha + T) / (alpha + T + t)) ** (r + x), rtol=1e-12)
    # 1 − P(alive) ties every one-time buyer at 0; this score spreads them by how long they have been quiet
    one = x == 0
    assert np.all(1 - pa[one] == 0) and np.ptp(score[one]) > 0.01
    order = np.argsort(T[one])
    assert np.all(np.diff(score[one][order]) >= 0)
    assert np.all((score >= 0) & (score <= 1))


def simulate_purchase_times(n, r, alpha, a, b, horizon, seed, max_purchases=150):
    """Explicit BG/NBD purchase times (slow but obvious): repeat purchases at Poisson times, dropout after each."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(r, 1 / alpha, n)
    p = rng.beta(a, b, n)
    times = np.cumsum(rng.exponential(1 / lam[:, None], (n, max_purchases)), axis=1)
    dropout = rng.geometric(p)
    alive = np.arange(1, max_purchases + 1)[None, :] <= dropout[:, None]
    return np.where(alive & (times <= horizon), times, np.inf)


def test_expected_purchases_agree_with_simulation():
    """E[X(t)] for a new customer, and E[purchases in (T, T+t] | history] per frequency, agree with Monte Carlo."""
    params = dict(r=0.5, alpha=10.0, a=0.8, b=3.0)
    m = clv_models.BetaGeoModel()
    m.params_ = pd.Series(params)
    times = simulate_purchase_times(100_000, **params, horizon=60.0, seed=3)
    cal = times <= 40
    x = cal.sum(axis=1).astype(float)
    tx = np.where(x > 0, np.where(cal, times, 0).max(axis=1), 0.0)
    holdout = ((times > 40) & (times <= 60)).sum(axis=1)
    assert np.isfinite(times).sum(axis=1).mean() == pytest.approx(float(m.expected_purchases_new(60.0)), rel=0.02)
    rfm = pd.DataFrame({"frequency": x, "recency": tx, "T": 40.0, "holdout_frequency": holdout, "holdout_length": 20.0})
    check = clv.calibration_holdout(m, rfm, max_frequency=4)
    np.testing.assert_allclose(check["predicted"], check["actual"], rtol=0.06)
    assert check["customers"].sum() == 100_000


def test_clv_discounting_and_holdout_check():
    params = dict(r=0.6, alpha=12.0, a=0.9, b=3.5)
    n = 20_000
    sim = clv_models.simulate_bgnbd(n, **params, T=np.random.default_rng(9).uniform(30, 90, n), seed=10)
    bg = clv_models.BetaGeoModel().fit(sim["frequency"], sim["recency"], sim["T"])
    mv = clv_models.simulate_gamma_gamma(sim["frequency"], 6.0, 4.0, 100.0, seed=11)
    gg = clv_models.GammaGammaModel().fit(sim["frequency"], mv)
    args = (sim["frequency"], sim["recency"], sim["T"], mv)
    v0 = clv.customer_lifetime_value(bg, gg, *args, horizon=360, period=30, discount_rate=0.0)
    v1 = clv.customer_lifetime_value(bg, gg, *args, horizon=360, period=30, discount_rate=0.01)
    undiscounted = bg.expected_purchases(360, sim["frequency"], sim["recency"], sim["T"]) * gg.expected_order_value(
        sim["frequency"], mv
    )
    np.testing.assert_allclose(v0, undiscounted, rtol=1e-10)
    assert np.all(v1 <= v0 + 1e-12) and v1.sum() < v0.sum()
    with pytest.raises(ValueError, match="discount_rate"):
        clv.customer_lifetime_value(bg, gg, *args, horizon=360, period=30, discount_rate=-0.1)


def test_bad_rfm_input_messages():
    with pytest.raises(ValueError, match="recency must lie between 0 and T"):
        clv_models.BetaGeoModel().fit([1, 2], [5, 50], [10, 20])
    with pytest.raises(ValueError, match="no customer made a repeat purchase"):
        clv_models.BetaGeoModel().fit([0, 0, 0], [0, 0, 0], [10, 20, 30])
    with pytest.raises(ValueError, match="positive average repeat-order value"):
        clv_models.GammaGammaModel().fit([1, 2, 3, 1], [10.0, 0.0, 5.0, 3.0])
