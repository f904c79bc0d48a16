"""Heterogeneous effects (interaction test + correction), guardrails and the power planner."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.meta_analysis import combine_effects
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower

from fanlib.ab import hte, power
from fanlib.ab.guardrails import AT_RISK, FINE, VIOLATED, check_guardrail
from fanlib.ab.stats import SampleStats

TOL = 1e-8


def _segment_stats(rng, rates_control, rates_treatment, n):
    """{segment: {variant: SampleStats}} of conversions drawn per segment."""
    out = {}
    for i, (pc, pt) in enumerate(zip(rates_control, rates_treatment, strict=True)):
        xc, xt = rng.binomial(n, pc), rng.binomial(n, pt)
        out[f"s{i}"] = {
            "control": SampleStats(n, xc, xc, "proportion"),
            "treatment": SampleStats(n, xt, xt, "proportion"),
        }
    return out


def test_interaction_q_equals_statsmodels_homogeneity_test():
    rng = np.random.default_rng(1)
    stats = _segment_stats(rng, [0.10, 0.12, 0.08, 0.15], [0.11, 0.16, 0.08, 0.15], 3_000)
    eff = hte.segment_effects(stats, "control", "treatment")
    q, df, p = hte.interaction_test(eff)
    ref = combine_effects(eff["estimate"].to_numpy(), eff["se"].to_numpy() ** 2).test_homogeneity()
    assert q == pytest.approx(float(ref.statistic), abs=TOL)
    assert p == pytest.approx(float(ref.pvalue), abs=TOL) and df == ref.df


def test_interaction_test_holds_its_level_and_detects_planted_heterogeneity():
    rng = np.random.default_rng(2)
    sims, n, base = 2_000, 2_000, [0.10, 0.12, 0.08, 0.15]
    null_p, alt_p = [], []
    for _ in range(sims):
        same = _segment_stats(rng, base, [b + 0.01 for b in base], n)  # one effect everywhere
        null_p.append(hte.interaction_test(hte.segment_effects(same, "control", "treatment"))[2])
    for _ in range(200):
        differ = _segment_stats(rng, base, [0.10, 0.12, 0.08, 0.20], n)  # only the last segment responds
        alt_p.append(hte.interaction_test(hte.segment_effects(differ, "control", "treatment"))[2])
    assert 0.04 <= np.mean(np.array(null_p) < 0.05) <= 0.06
    assert np.mean(np.array(alt_p) < 0.05) > 0.9


def test_every_segment_is_reported_and_corrections_cover_all_of_them():
    rng = np.random.default_rng(3)
    by_dim = {
        "tier": _segment_stats(rng, [0.1, 0.1, 0.1], [0.12, 0.1, 0.1], 4_000),
        "channel": _segment_stats(rng, [0.1, 0.2], [0.1, 0.2], 4_000),
    }
    # a tiny segment: shown, but left out of the interaction test and of the correction
    by_dim["channel"]["tiny"] = {
        "control": SampleStats(30, 3, 3, "proportion"),
        "treatment": SampleStats(25, 4, 4, "proportion"),
    }
    segments, tests = hte.heterogeneity(by_dim, "control", "treatment", correction="holm")
    assert len(segments) == 6 and set(segments["dimension"]) == {"tier", "channel"}
    tiny = segments[segments["segment"] == "tiny"].iloc[0]
    assert not tiny["tested"] and math.isnan(tiny["p_adjusted"]) and math.isfinite(tiny["p_value"])
    tested = segments[segments["tested"]]
    np.testing.assert_allclose(tested["p_adjusted"], multipletests(tested["p_value"], method="holm")[1], atol=TOL)
    np.testing.assert_allclose(tests["p_adjusted"], multipletests(tests["p_value"], method="holm")[1], atol=TOL)
    assert tests.set_index("dimension").loc["channel", "segments_tested"] == 2
    bh, _ = hte.heterogeneity(by_dim, "control", "treatment", correction="bh")
    t = bh[bh["tested"]]
    np.testing.assert_allclose(t["p_adjusted"], multipletests(t["p_value"], method="fdr_bh")[1], atol=TOL)


def test_segment_readout_on_the_demo_covers_every_segment(small_demo_path):
    from fanlib.ab.metrics import METRICS
    from fanlib.ab.readout import experiment_readout
    from fanlib.data.fandata import connect

    fd = connect(small_demo_path)
    ro, units = experiment_readout(
        fd, "exp_coupon", planned_split={"control": 1, "treatment": 1}, metrics=["conversion"]
    )
    segments, tests = hte.segment_readout(
        fd, units, METRICS["conversion"], ["channel", "tenure"], control="control", treatment="treatment"
    )
    per_dim = fd.execute(units.group_by("channel").aggregate(n=units.count()))
    assert set(segments[segments["dimension"] == "channel"]["segment"]) == set(per_dim["channel"].astype(str))
    assert set(tests["dimension"]) == {"channel", "tenure"}
    assert segments[["n_control", "n_treatment"]].to_numpy().sum() == sum(ro.srm.counts.values()) * 2


@pytest.mark.parametrize(
    "low,high,higher_is_better,status",
    [
        (-0.5, 1.0, True, FINE),  # the whole interval is above -margin (margin = 1.0)
        (-1.5, 0.5, True, AT_RISK),  # a drop beyond the margin is not ruled out
        (-3.0, -1.2, True, VIOLATED),  # the whole interval is below -margin
        (-1.0, 0.5, False, FINE),  # lower is better: the whole interval is below +margin
        (0.5, 1.5, False, AT_RISK),
        (1.2, 2.0, False, VIOLATED),
    ],
)
def test_guardrail_non_inferiority(low, high, higher_is_better, status):
    g = check_guardrail(
        "active",
        "treatment",
        (low + high) / 2,
        low,
        high,
        control_mean=20.0,
        margin=0.05,
        higher_is_better=higher_is_better,
    )
    assert g.margin_abs == pytest.approx(1.0) and g.status == status
    assert g.worst_bound == (low if higher_is_better else high)


def test_guardrail_violation_stops_a_ship():
    from fanlib.ab.verdict import decide

    primary = {
        "metric": "conversion",
        "name": "conversion",
        "estimate": 0.02,
        "low": 0.01,
        "high": 0.03,
        "p_adjusted": 0.001,
        "unit": "pct",
        "higher_is_better": True,
    }
    fine = check_guardrail("active", "treatment", 0.0, -0.1, 0.1, 20.0, 0.05)
    bad = check_guardrail("active", "treatment", -2.0, -3.0, -1.2, 20.0, 0.05)
    risky = check_guardrail("active", "treatment", -0.5, -1.5, 0.5, 20.0, 0.05)
    assert decide("treatment", primary, [], [fine], srm_failed=False).decision == "ship"
    assert decide("treatment", primary, [], [bad], srm_failed=False).decision == "don't ship"
    assert decide("treatment", primary, [], [risky], srm_failed=False).decision == "inconclusive"
    assert decide("treatment", primary, [], [fine], srm_failed=True).decision == "withheld"
    with pytest.raises(ValueError, match="non-negative"):
        check_guardrail("active", "treatment", 0.0, -1.0, 1.0, 20.0, -0.05)


def test_planner_equals_statsmodels_and_achieved_power_is_consistent():
    plan = power.planner(sd=0.49, baseline=0.41, mde_relatives=(0.02, 0.05), alpha=0.05, power=0.8)
    for r in plan.itertuples():
        ref = NormalIndPower().solve_power(effect_size=r.mde / 0.49, alpha=0.05, power=0.8, ratio=1.0)
        assert r.per_arm == math.ceil(ref) and r.total == 2 * r.per_arm
    # an experiment of the planned size has (at least) the planned power for that effect
    r = plan.iloc[1]
    se = 0.49 * math.sqrt(2 / r["per_arm"])
    assert 0.8 <= power.achieved_power(se, r["mde"]) < 0.8005
    n = power.sample_size_for_proportion(0.41, 0.05, relative=True)["control"]
    assert n == math.ceil(
        NormalIndPower().solve_power(effect_size=0.05 * 0.41 / math.sqrt(0.41 * 0.59), alpha=0.05, power=0.8)
    )
    with pytest.raises(ValueError, match="standard deviation"):
        power.planner(sd=0.0, baseline=0.4)


def test_readout_reports_achieved_power_and_detectable_effect():
    from fanlib.ab.comparison import analyze
    from fanlib.ab.metrics import Metric
    from fanlib.ab.stats import Moments

    rng = np.random.default_rng(4)
    y1, y0 = (rng.random(5_000) < 0.11).astype(float), (rng.random(5_000) < 0.10).astype(float)
    mom = {
        "conversion": {
            "treatment": Moments.from_arrays(["converted"], y1),
            "control": Moments.from_arrays(["converted"], y0),
        }
    }
    ro = analyze(
        mom, {"conversion": Metric("conversion", "proportion", "converted")}, control="control", mde_relative=0.10
    )
    row = ro.power.iloc[0]
    lift = ro.lifts.iloc[0]
    assert row["achieved_power"] == pytest.approx(power.achieved_power(lift["se"], 0.10 * lift["control_mean"]))
    assert row["detectable_absolute"] == pytest.approx(power.mde_for(lift["se"]))
    assert row["n_per_arm"] == 5_000 and row["n_per_arm_needed"] > 0
    assert isinstance(pd.DataFrame(ro.power), pd.DataFrame)


@pytest.mark.parametrize("correction,sm_method", [("holm", "holm"), ("bh", "fdr_bh")])
def test_correction_runs_across_every_arm_and_metric(correction, sm_method):
    """Two treatment arms × three metrics: one family of six p-values, and six summary rows."""
    from fanlib.ab.comparison import analyze
    from fanlib.ab.metrics import Metric
    from fanlib.ab.stats import Moments

    rng = np.random.default_rng(5)
    metrics = {
        "conversion": Metric("conversion", "proportion", "converted"),
        "revenue_per_fan": Metric("revenue_per_fan", "mean", "revenue"),
        "revenue_per_order": Metric("revenue_per_order", "ratio", "revenue", denominator="orders"),
    }
    mom: dict = {name: {} for name in metrics}
    for arm, lift in (("control", 0.0), ("b", 0.01), ("c", 0.03)):
        orders = rng.poisson(0.2 + lift * 3, 6_000).astype(float)
        revenue = orders * rng.lognormal(4, 0.8, 6_000)
        converted = (orders > 0).astype(float)
        m = Moments.from_arrays(["converted", "revenue", "orders"], converted, revenue, orders)
        mom["conversion"][arm] = Moments(m.n, ("converted",), m.sums[:1], m.cross[:1, :1])
        mom["revenue_per_fan"][arm] = Moments(m.n, ("revenue",), m.sums[1:2], m.cross[1:2, 1:2])
        mom["revenue_per_order"][arm] = Moments(m.n, ("revenue", "orders"), m.sums[1:], m.cross[1:, 1:])
    ro = analyze(mom, metrics, control="control", correction=correction, planned_split={"control": 1, "b": 1, "c": 1})
    assert len(ro.lifts) == 6
    np.testing.assert_allclose(
        ro.lifts["p_adjusted"], multipletests(ro.lifts["p_value"], method=sm_method)[1], atol=TOL
    )
    summary = ro.summary()
    rows = {(m["metric"], m["variant"]): m for m in summary["metrics"]}
    assert set(rows) == {(m, v) for m in metrics for v in ("b", "c")}
    for m in rows.values():
        for key in (
            "absolute",
            "absolute_low",
            "absolute_high",
            "relative",
            "relative_low",
            "relative_high",
            "p_value",
            "p_adjusted",
        ):
            assert math.isfinite(m[key])
        assert m["absolute_low"] <= m["absolute"] <= m["absolute_high"]
        assert m["relative_low"] <= m["relative"] <= m["relative_high"]
    assert summary["settings"]["correction"] == correction and "p_value" in summary["srm"]
    assert len(ro.verdicts) == 2 and summary["verdict"]["decision"] in ("ship", "don't ship", "inconclusive")
