"""The readout's statistics equal statsmodels' on the same data (to 1e-8)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW, ttest_ind

from fanlib.ab import did, power
from fanlib.ab.cuped import cuped, regression_adjusted_ols
from fanlib.ab.lifts import absolute_lift
from fanlib.ab.multiple import adjust
from fanlib.ab.stats import Moments, RatioStats, SampleStats
from fanlib.stats.ols import ols

TOL = 1e-8


def _revenue(rng, n, scale=1.0):
    buys = rng.random(n) < 0.3
    return np.where(buys, rng.lognormal(4.0, 1.1, n) * scale, 0.0)


def test_welch_equals_statsmodels_ttest_ind():
    rng = np.random.default_rng(1)
    y1, y0 = _revenue(rng, 3_000, 1.05), _revenue(rng, 2_500)
    t = SampleStats.from_moments(Moments.from_arrays(["y"], y1), "y")
    c = SampleStats.from_moments(Moments.from_arrays(["y"], y0), "y")
    got = absolute_lift(t, c, alpha=0.05)
    stat, p, df = ttest_ind(y1, y0, usevar="unequal")
    lo, hi = CompareMeans(DescrStatsW(y1), DescrStatsW(y0)).tconfint_diff(alpha=0.05, usevar="unequal")
    assert got.statistic == pytest.approx(stat, abs=TOL)
    assert got.p_value == pytest.approx(p, abs=TOL)
    assert got.df == pytest.approx(df, abs=1e-6)
    assert (got.low, got.high) == (pytest.approx(lo, abs=TOL), pytest.approx(hi, abs=TOL))
    assert got.estimate == pytest.approx(y1.mean() - y0.mean(), abs=TOL)


def test_proportion_z_equals_statsmodels():
    rng = np.random.default_rng(2)
    y1, y0 = (rng.random(4_000) < 0.13).astype(float), (rng.random(4_100) < 0.11).astype(float)
    t = SampleStats(len(y1), y1.sum(), y1.sum(), "proportion")
    c = SampleStats(len(y0), y0.sum(), y0.sum(), "proportion")
    got = absolute_lift(t, c)
    stat, p = proportions_ztest([y1.sum(), y0.sum()], [len(y1), len(y0)])
    lo, hi = confint_proportions_2indep(y1.sum(), len(y1), y0.sum(), len(y0), method="wald", compare="diff")
    assert got.statistic == pytest.approx(stat, abs=TOL)
    assert got.p_value == pytest.approx(p, abs=TOL)
    assert got.low == pytest.approx(lo, abs=TOL) and got.high == pytest.approx(hi, abs=TOL)


def test_regression_adjustment_equals_statsmodels_ols_with_covariates():
    rng = np.random.default_rng(3)
    n1, n0 = 2_000, 1_800
    x1 = rng.normal(size=(n1, 2)) * [3, 1]
    x0 = rng.normal(size=(n0, 2)) * [3, 1]
    y1 = 1.0 + 0.5 + x1 @ [0.8, -0.3] + rng.normal(size=n1)
    y0 = 1.0 + x0 @ [0.8, -0.3] + rng.normal(size=n0)
    names = ["y", "a", "b"]
    mt, mc = Moments.from_arrays(names, y1, *x1.T), Moments.from_arrays(names, y0, *x0.T)
    fit = regression_adjusted_ols(mt, mc, "y", ["a", "b"])
    X = np.column_stack([np.ones(n1 + n0), np.r_[np.ones(n1), np.zeros(n0)], np.vstack([x1, x0])])
    ref = sm.OLS(np.r_[y1, y0], X).fit()
    np.testing.assert_allclose(fit.params, ref.params, rtol=0, atol=TOL)
    np.testing.assert_allclose(fit.bse, ref.bse, rtol=0, atol=TOL)
    # CUPED's estimate is the OLS treatment coefficient
    cu = cuped(mt, mc, "y", ["a", "b"])
    assert cu.absolute.estimate == pytest.approx(ref.params[1], abs=TOL)
    # and its Welch-type standard error equals HC2-free by-arm variances of the adjusted outcome
    theta = ref.params[2:]
    adj1, adj0 = y1 - x1 @ theta, y0 - x0 @ theta
    assert cu.absolute.se == pytest.approx(np.sqrt(adj1.var(ddof=1) / n1 + adj0.var(ddof=1) / n0), abs=TOL)


def test_ratio_metric_delta_method_matches_direct_formula():
    rng = np.random.default_rng(4)
    orders = rng.poisson(0.6, 5_000).astype(float)
    revenue = orders * rng.lognormal(4, 0.5, 5_000)
    r = RatioStats.from_moments(Moments.from_arrays(["rev", "ord"], revenue, orders), "rev", "ord")
    mn, md = revenue.mean(), orders.mean()
    cov = np.cov(revenue, orders, ddof=1)
    grad = np.array([1 / md, -mn / md**2])
    assert r.mean == pytest.approx(revenue.sum() / orders.sum(), rel=1e-12)
    assert r.se**2 == pytest.approx(grad @ cov @ grad / len(orders), rel=1e-9)


@pytest.mark.parametrize("method,sm_method", [("holm", "holm"), ("bh", "fdr_bh")])
def test_corrections_equal_statsmodels(method, sm_method):
    p = np.random.default_rng(5).uniform(0, 0.2, 17)
    p[3] = p[7]  # ties
    np.testing.assert_allclose(adjust(p, method), multipletests(p, method=sm_method)[1], atol=TOL)


def test_correction_ignores_missing_p_values():
    got = adjust([0.01, np.nan, 0.04], "holm")
    assert np.isnan(got[1]) and got[0] == pytest.approx(0.02) and got[2] == pytest.approx(0.04)


def test_power_equals_statsmodels():
    n = power.sample_size_per_arm(sd=2.0, mde=0.1, alpha=0.05, power=0.8)["control"]
    ref = NormalIndPower().solve_power(effect_size=0.05, alpha=0.05, power=0.8, ratio=1.0)
    assert n == int(np.ceil(ref))
    se = 2.0 * np.sqrt(2 / 5_000)
    ref_power = NormalIndPower().power(effect_size=0.1 / 2.0, nobs1=5_000, alpha=0.05, ratio=1.0)
    assert power.achieved_power(se, 0.1) == pytest.approx(ref_power, abs=TOL)
    assert power.achieved_power(se, power.mde_for(se, power=0.8)) == pytest.approx(0.8, abs=1e-4)


def _panel(rng, n_units=40, n_periods=12):
    units = np.repeat([f"C{i:03d}" for i in range(n_units)], n_periods)
    period = np.tile(np.arange(-6, n_periods - 6), n_units)
    treated = np.isin(units, [f"C{i:03d}" for i in range(8)])
    fe = np.repeat(rng.normal(5, 1, n_units), n_periods)
    # heteroskedastic, unit-correlated errors
    shock = np.repeat(rng.normal(0, 0.2, n_units), n_periods) * (period >= 0)
    y = fe + 0.02 * period + 0.14 * treated * (period >= 0) + shock + rng.normal(0, 0.1 + 0.1 * treated, len(units))
    return units, period, treated, y


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0", "HC1", "cluster"])
def test_did_ols_covariances_equal_statsmodels(cov_type):
    rng = np.random.default_rng(6)
    units, period, treated, y = _panel(rng)
    X = pd.get_dummies(pd.DataFrame({"u": units, "p": period.astype(str)}), drop_first=True, dtype=float)
    X.insert(0, "treated_post", (treated & (period >= 0)).astype(float))
    X.insert(0, "const", 1.0)
    kw = {"groups": units} if cov_type == "cluster" else {}
    got = ols(y, X.to_numpy(), cov_type=cov_type, **kw)
    sm_kw = {"cov_kwds": {"groups": pd.factorize(units)[0]}} if cov_type == "cluster" else {}
    ref = sm.OLS(y, X.to_numpy()).fit(cov_type=cov_type, **sm_kw)
    np.testing.assert_allclose(got.params, ref.params, atol=TOL)
    np.testing.assert_allclose(got.bse, ref.bse, atol=TOL)


def test_did_weighted_cluster_equals_statsmodels_wls():
    rng = np.random.default_rng(8)
    units, period, treated, y = _panel(rng)
    w = pd.Series(rng.uniform(20, 300, 40), index=pd.unique(units)).loc[units].to_numpy()
    X = pd.get_dummies(pd.DataFrame({"u": units, "p": period.astype(str)}), drop_first=True, dtype=float)
    X.insert(0, "treated_post", (treated & (period >= 0)).astype(float))
    X.insert(0, "const", 1.0)
    got = ols(y, X.to_numpy(), cov_type="cluster", groups=units, weights=w)
    ref = sm.WLS(y, X.to_numpy(), weights=w).fit(cov_type="cluster", cov_kwds={"groups": pd.factorize(units)[0]})
    np.testing.assert_allclose(got.params, ref.params, atol=TOL)
    np.testing.assert_allclose(got.bse, ref.bse, atol=TOL)


def test_fit_did_recovers_effect_on_simulated_panel():
    rng = np.random.default_rng(7)
    units, period, treated, y = _panel(rng)
    panel = pd.DataFrame({"unit": units, "period": period, "events_per_fan": np.exp(y)})
    res = did.fit_did(panel, [f"C{i:03d}" for i in range(8)])
    assert res.low < 0.14 < res.high
    assert res.pretrend_p > 0.05  # no differential pre-trend was simulated
    assert res.n_units == 40 and res.n_treated == 8


def test_fit_did_effect_and_pretrend_equal_statsmodels_cluster_robust_wls():
    """The DiD readout itself (not only the OLS helper) equals statsmodels on the same panel."""
    from scipy import stats

    rng = np.random.default_rng(9)
    units, period, treated, y = _panel(rng)
    fans = np.repeat(rng.integers(20, 400, 40), 12)
    panel = pd.DataFrame({"unit": units, "period": period, "events_per_fan": np.exp(y), "fans": fans})
    treated_units = [f"C{i:03d}" for i in range(8)]
    res = did.fit_did(panel, treated_units)
    w = did.unit_weights(panel)
    X = pd.get_dummies(pd.DataFrame({"u": units, "p": period.astype(str)}), drop_first=True, dtype=float)
    X.insert(0, "treated_post", (treated & (period >= 0)).astype(float))
    X.insert(0, "const", 1.0)
    ref = sm.WLS(y, X, weights=w).fit(cov_type="cluster", cov_kwds={"groups": pd.factorize(units)[0]})
    assert res.effect == pytest.approx(ref.params["treated_post"], abs=TOL)
    assert res.se == pytest.approx(ref.bse["treated_post"], abs=TOL)
    assert res.p_value == pytest.approx(2 * stats.t.sf(abs(ref.tvalues["treated_post"]), 39), abs=TOL)
    # pre-trend: differential linear slope before the start, same clustering
    pre = period < 0
    Xp = pd.get_dummies(pd.DataFrame({"u": units[pre], "p": period[pre].astype(str)}), drop_first=True, dtype=float)
    Xp.insert(0, "slope", treated[pre] * period[pre].astype(float))
    Xp.insert(0, "const", 1.0)
    refp = sm.WLS(y[pre], Xp, weights=w[pre]).fit(cov_type="cluster", cov_kwds={"groups": pd.factorize(units[pre])[0]})
    assert res.pretrend_t == pytest.approx(refp.tvalues["slope"], abs=1e-7)
    assert res.pretrend_p == pytest.approx(2 * stats.t.sf(abs(refp.tvalues["slope"]), 39), abs=TOL)
