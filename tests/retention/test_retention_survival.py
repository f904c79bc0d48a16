"""Kaplan–Meier, log-rank and Cox: equal to statsmodels and to hand computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.duration.hazard_regression import PHReg
from statsmodels.duration.survfunc import SurvfuncRight, survdiff

from fanlib.retention.cox import CoxPH, concordance_index, design_matrix
from fanlib.retention.survival import KaplanMeier, SurvivalInputError, logrank_test

# A tiny data set worked by hand: times with ties and censoring.
T = np.array([2, 3, 3, 3, 5, 6, 6, 8, 9, 9, 12, 12], dtype=float)
E = np.array([1, 1, 1, 0, 1, 0, 1, 1, 0, 1, 1, 0])
G = np.array(["a", "b", "a", "b", "a", "b", "a", "b", "a", "b", "a", "b"])


def simulated(n=2000, seed=0, ties=True):
    rng = np.random.default_rng(seed)
    X = np.column_stack([rng.binomial(1, 0.4, n), rng.normal(size=n), rng.binomial(1, 0.2, n)])
    lam = 0.01 * np.exp(X @ np.array([-0.6, 0.3, 0.5]))
    t_true, c = rng.exponential(1 / lam), rng.uniform(20, 200, n)
    if ties:
        t_true, c = np.ceil(t_true), np.ceil(c)
    return X, np.minimum(t_true, c), (t_true <= c).astype(int)


def test_kaplan_meier_by_hand():
    km = KaplanMeier().fit(T, E)
    s = km.survival_
    # event times 2,3,5,6,8,9,12 with (at risk, deaths):
    # (12,1) (11,2) (8,1) (7,1) (5,1) (4,1) (2,1)
    expected = np.cumprod([1 - 1 / 12, 1 - 2 / 11, 1 - 1 / 8, 1 - 1 / 7, 1 - 1 / 5, 1 - 1 / 4, 1 - 1 / 2])
    np.testing.assert_allclose(s["survival"], expected, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(s["at_risk"], [12, 11, 8, 7, 5, 4, 2])
    gw = np.cumsum([1 / (12 * 11), 2 / (11 * 9), 1 / (8 * 7), 1 / (7 * 6), 1 / (5 * 4), 1 / (4 * 3), 1 / (2 * 1)])
    np.testing.assert_allclose(s["se"], expected * np.sqrt(gw), atol=1e-12)
    assert km.median_ == 8.0  # first time S ≤ 0.5: S(8) = 0.468…
    np.testing.assert_array_equal(km.at_risk([0, 3, 4, 12, 13]), [12, 11, 8, 2, 0])
    assert ((s["ci_low"] <= s["survival"]) & (s["survival"] <= s["ci_high"])).all()


@pytest.mark.parametrize("seed", [0, 1])
def test_kaplan_meier_equals_statsmodels(seed):
    _, t, e = simulated(seed=seed)
    km = KaplanMeier().fit(t, e)
    ref = SurvfuncRight(t, e)
    np.testing.assert_allclose(km.survival_["time"], ref.surv_times, atol=1e-10)
    np.testing.assert_allclose(km.survival_["survival"], ref.surv_prob, atol=1e-10)
    np.testing.assert_allclose(km.survival_["se"], ref.surv_prob_se, atol=1e-10)
    np.testing.assert_array_equal(km.survival_["at_risk"], ref.n_risk)
    np.testing.assert_array_equal(km.survival_["events"], ref.n_events)


def test_logrank_by_hand_and_equals_statsmodels():
    res = logrank_test(T, E, G)
    # two groups by hand: Σ(O_a − E_a)² / Σ V_a over the distinct event times
    o_minus_e = v = 0.0
    for t in np.unique(T[E == 1]):
        at = T >= t
        n, n_a = at.sum(), (at & (G == "a")).sum()
        d, d_a = ((T == t) & (E == 1)).sum(), ((T == t) & (E == 1) & (G == "a")).sum()
        o_minus_e += d_a - d * n_a / n
        v += d * (n_a / n) * (1 - n_a / n) * (n - d) / (n - 1) if n > 1 else 0
    assert res.statistic == pytest.approx(o_minus_e**2 / v, abs=1e-10)
    chisq, p = survdiff(T, E, G)
    assert res.statistic == pytest.approx(chisq, abs=1e-10)
    assert res.p_value == pytest.approx(p, abs=1e-10)


def test_logrank_three_groups_equals_statsmodels():
    _, t, e = simulated(seed=4)
    g = np.random.default_rng(4).integers(0, 3, t.size)
    res = logrank_test(t, e, g)
    chisq, p = survdiff(t, e, g)
    assert res.df == 2
    assert res.statistic == pytest.approx(chisq, abs=1e-10)
    assert res.p_value == pytest.approx(p, abs=1e-10)
    assert res.table["observed"].sum() == pytest.approx(res.table["expected"].sum())


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_cox_equals_statsmodels_phreg(ties):
    X, t, e = simulated(n=3000, seed=2)
    assert len(np.unique(t[e == 1])) < e.sum()  # plenty of tied churn days
    m = CoxPH(ties=ties).fit(X, t, e)
    ref = PHReg(t, X, status=e, ties=ties).fit()
    np.testing.assert_allclose(m.params_, ref.params, atol=1e-6)
    np.testing.assert_allclose(m.standard_errors_, ref.bse, atol=1e-6)
    assert m.loglik_ == pytest.approx(ref.llf, abs=1e-6)


def test_efron_differs_from_breslow_with_ties():
    X, t, e = simulated(n=3000, seed=2)
    efron = CoxPH("efron").fit(X, t, e).params_.to_numpy()
    breslow = CoxPH("breslow").fit(X, t, e).params_.to_numpy()
    assert np.max(np.abs(efron - breslow)) > 1e-3


def test_baseline_cumulative_hazard_is_breslow_and_not_lagged():
    X, t, e = simulated(n=500, seed=6)
    m = CoxPH().fit(X, t, e)
    beta = m.params_.to_numpy()
    risk = np.exp(X @ beta)
    times = np.unique(t[e == 1])
    hand = np.cumsum([((t == s) & (e == 1)).sum() / risk[t >= s].sum() for s in times])
    bch = m.baseline_cumulative_hazard_
    np.testing.assert_allclose(bch["time"], times)
    np.testing.assert_allclose(bch["cumulative_hazard"], hand, rtol=1e-10)
    # H0 already includes the jump at the first event time (statsmodels 0.15 shows 0 there)
    assert m.cumulative_hazard_at([times[0]])[0] == pytest.approx(hand[0])
    assert m.cumulative_hazard_at([times[0] - 1e-9])[0] == 0.0
    sm = PHReg(t, X, status=e, ties="efron").fit().baseline_cumulative_hazard[0]
    sm_h = np.asarray(sm[1])
    assert sm_h[0] == 0.0  # statsmodels lags by one event time …
    np.testing.assert_allclose(sm_h[1:], hand[:-1], rtol=1e-6)  # … with the same values
    # predictions use the non-lagged hazard
    surv = m.predict_survival(X[:3], times[:4])
    np.testing.assert_allclose(surv.to_numpy(), np.exp(-np.outer(hand[:4], risk[:3])), rtol=1e-10)


def test_concordance_equals_brute_force():
    X, t, e = simulated(n=400, seed=7)
    m = CoxPH().fit(X, t, e)
    score = -(X @ m.params_.to_numpy())
    conc = tied = comp = 0.0
    for i in range(t.size):
        if not e[i]:
            continue
        later = t > t[i]
        comp += later.sum()
        conc += (score[later] > score[i]).sum()
        tied += (score[later] == score[i]).sum()
    assert concordance_index(t, score, e) == pytest.approx((conc + 0.5 * tied) / comp, abs=1e-12)
    assert m.concordance_ == pytest.approx((conc + 0.5 * tied) / comp, abs=1e-12)
    assert 0.6 < m.concordance_ < 0.8


def test_proportional_hazards_check_flags_a_time_varying_effect():
    rng = np.random.default_rng(11)
    n = 4000
    x = rng.binomial(1, 0.5, n)
    # x = 1 multiplies the hazard by 4 early and by 0.25 late: not proportional
    early = rng.exponential(1 / (0.02 * np.where(x == 1, 4.0, 1.0)))
    late = 30 + rng.exponential(1 / (0.02 * np.where(x == 1, 0.25, 1.0)))
    t_true = np.where(early < 30, early, late)
    c = rng.uniform(50, 150, n)
    t, e = np.ceil(np.minimum(t_true, c)), (t_true <= c).astype(int)
    bad = CoxPH().fit(x, t, e).check_proportional_hazards()
    assert bad["p"].iloc[0] < 1e-6 and not bad["proportional"].iloc[0]
    X, t, e = simulated(n=3000, seed=12)
    good = CoxPH().fit(X, t, e).check_proportional_hazards()
    assert (good["p"] > 0.01).all()


def test_hazard_ratio_intervals_cover_the_truth():
    X, t, e = simulated(n=5000, seed=13)
    s = CoxPH().fit(pd.DataFrame(X, columns=["a", "b", "c"]), t, e).summary
    truth = np.exp([-0.6, 0.3, 0.5])
    assert ((s["hr_low"] < truth) & (truth < s["hr_high"])).all()


def test_design_matrix_and_bad_input():
    df = pd.DataFrame({"channel": ["wechat", "douyin", "weibo", "douyin"], "checkin": [1, 0, 1, 0]})
    X = design_matrix(df, numeric=["checkin"], categorical={"channel": "wechat"})
    assert list(X.columns) == ["checkin", "channel[douyin]", "channel[weibo]"]
    with pytest.raises(ValueError, match="reference level 'qq'"):
        design_matrix(df, categorical={"channel": "qq"})
    with pytest.raises(ValueError, match="without variation"):
        design_matrix(df.assign(checkin=1), numeric=["checkin"])
    with pytest.raises(SurvivalInputError, match="no churn events at all"):
        CoxPH().fit(np.arange(5.0), np.arange(1.0, 6.0), np.zeros(5))
    with pytest.raises(SurvivalInputError, match="negative or missing"):
        KaplanMeier().fit([1, -2, 3], [1, 0, 1])
    with pytest.raises(SurvivalInputError, match="at least two groups"):
        logrank_test([1, 2], [1, 1], ["a", "a"])
    # every fan churned is valid input: the curve reaches 0
    km = KaplanMeier().fit([1, 2, 3], [1, 1, 1])
    assert km.survival_["survival"].iloc[-1] == 0.0


def _efron_loglik_by_hand(beta: float, t, e, x) -> float:
    """Efron's partial log-likelihood written out term by term for one covariate."""
    ll = 0.0
    for s in np.unique(t[e == 1]):
        dead = (t == s) & (e == 1)
        d = int(dead.sum())
        risk = np.exp(beta * x[t >= s]).sum()
        tied = np.exp(beta * x[dead]).sum()
        ll += beta * x[dead].sum() - sum(np.log(risk - j / d * tied) for j in range(d))
    return ll


def test_efron_coefficient_and_standard_error_by_hand():
    """On the small tied data set: the maximiser of the hand-written Efron likelihood and the inverse of
    its curvature give the same coefficient and standard error to 1e-6."""
    from scipy.optimize import minimize_scalar

    x = np.array([1, 0, 1, 1, 0, 0, 1, 0, 1, 0, 1, 1], dtype=float)
    best = minimize_scalar(lambda b: -_efron_loglik_by_hand(b, T, E, x), bracket=(-2, 0, 2), options={"xtol": 1e-12})
    h = 1e-4
    curvature = (
        _efron_loglik_by_hand(best.x + h, T, E, x)
        - 2 * _efron_loglik_by_hand(best.x, T, E, x)
        + _efron_loglik_by_hand(best.x - h, T, E, x)
    ) / h**2
    m = CoxPH(ties="efron").fit(x, T, E)
    assert m.params_.iloc[0] == pytest.approx(best.x, abs=1e-6)
    assert m.standard_errors_.iloc[0] == pytest.approx(1 / np.sqrt(-curvature), abs=1e-6)
    assert m.loglik_ == pytest.approx(_efron_loglik_by_hand(m.params_.iloc[0], T, E, x), abs=1e-10)
    # Breslow differs here: the same data with ties handled the other way
    assert abs(CoxPH(ties="breslow").fit(x, T, E).params_.iloc[0] - best.x) > 1e-3


def test_block_cross_products_equal_summed_outer_products():
    """The Hessian's per-block Σ w x xᵀ equal np.add.reduceat over the n×p×p outer products it replaces."""
    from fanlib.retention.cox import _block_cross

    rng = np.random.default_rng(4)
    X = rng.normal(size=(500, 4))
    w = rng.exponential(size=500)
    starts = np.array([3, 40, 41, 200, 499])
    expected = np.add.reduceat(w[:, None, None] * X[:, :, None] * X[:, None, :], starts, axis=0)
    np.testing.assert_allclose(_block_cross(w[:, None] * X, X, starts), expected, rtol=1e-12)
