"""The A/B report says what is so: the real reason a relative interval is not trusted, no "guardrails fine"
without guardrails, no "CUPED-adjusted" at no variance reduction, the test each metric used, and a rate's
lift in percentage points on the index page."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fanlib.ab import narrative, tables
from fanlib.ab.comparison import analyze
from fanlib.ab.cuped import MIN_VARIANCE_REDUCTION, cuped
from fanlib.ab.metrics import Metric
from fanlib.ab.stats import Moments
from fanlib.ab.summary import fill_summary
from fanlib.ab.verdict import SHIP, decide
from fanlib.present.i18n import messages
from fanlib.present.notebook import Summary

EN, ZH = messages("ab_campaign", "en"), messages("ab_campaign", "zh")
RATE = Metric("rate", "proportion", "y", covariates=("x",), unit="pct")


def _rate_moments(n: int, control_hits: int, treat_hits: int, seed: int = 0, x_of_y: float = 0.0) -> dict:
    """Two arms of a 0/1 outcome y and a covariate x = noise + x_of_y · y."""
    rng = np.random.default_rng(seed)
    out = {}
    for arm, hits in (("control", control_hits), ("treatment", treat_hits)):
        y = np.zeros(n)
        y[rng.choice(n, hits, replace=False)] = 1
        x = rng.normal(size=n) + x_of_y * y
        out[arm] = Moments.from_arrays(("y", "x"), y, x)
    return {"rate": out}


def test_an_uncertain_control_mean_is_named_as_the_reason_not_the_sample_size():
    # n = 21,306 per arm is far above the small-sample bar; a 0.1% control rate is what makes the ratio unstable
    ro = analyze(_rate_moments(21_306, 20, 31), {"rate": RATE}, control="control", use_cuped=False)
    row = ro.lifts.iloc[0]
    assert not row["relative_trusted"] and [c for c, _ in row["relative_codes"]] == ["rel_uncertain_control"]
    en, zh = narrative.lift_sentence(row, EN), narrative.lift_sentence(row, ZH)
    assert "the control mean is too uncertain for a stable ratio" in en and "sample too small" not in en
    assert "对照组均值太不确定" in zh and "样本太小" not in zh


def test_a_small_sample_is_named_when_it_is_the_reason():
    ro = analyze(_rate_moments(400, 160, 180), {"rate": RATE}, control="control", use_cuped=False)
    row = ro.lifts.iloc[0]
    assert [c for c, _ in row["relative_codes"]] == ["rel_small_n"]
    assert "only 400 units in the smaller variant" in narrative.lift_sentence(row, EN)


def _primary(p=0.001):
    return {"name": "conversion", "metric": "conversion", "estimate": 0.02, "low": 0.01, "high": 0.03,
            "p_adjusted": p, "unit": "pct", "higher_is_better": True, "se": 0.005, "n_min": 5_000}  # fmt: skip


@pytest.mark.parametrize("T", [EN, ZH], ids=["en", "zh"])
def test_no_guardrail_is_never_called_fine(T):
    v = decide("treatment", _primary(), [], [], srm_failed=False)
    assert v.decision == SHIP and "guardrails are fine" not in v.reason and "no guardrails were set" in v.reason
    reason, sentence = narrative.verdict_reason(v, T), narrative.verdict_sentence(v, T)
    for text in (reason, sentence):
        assert T("guards_fine") not in text
    assert T("reason_better_unguarded", metric=narrative.metric_label("conversion", T), p="0.001") == reason
    assert T("guards_none") in sentence


def test_guardrails_that_hold_are_still_called_fine():
    from fanlib.ab.guardrails import check_guardrail

    g = check_guardrail("active", "treatment", 0.0, -0.001, 0.001, 0.5, 0.02)
    v = decide("treatment", _primary(), [], [g], srm_failed=False)
    assert v.decision == SHIP and narrative.verdict_reason(v, EN).endswith("and guardrails are fine")


def test_no_variance_reduction_keeps_the_unadjusted_estimate_and_says_so():
    mom = _rate_moments(20_000, 2_000, 2_150, seed=4, x_of_y=0.05)["rate"]
    cu = cuped(mom["treatment"], mom["control"], "y", ["x"])
    assert 0 < cu.variance_reduction < MIN_VARIANCE_REDUCTION  # the covariate barely predicts the outcome
    assert not cu.applied and [c for c, _ in cu.codes] == ["cuped_negligible"]
    ro = analyze({"rate": mom}, {"rate": RATE}, control="control")
    row = ro.lifts.iloc[0]
    assert row["estimate_source"] == "unadjusted" and row["absolute"] == row["raw_absolute"]
    assert row["test"] == "two-proportion z-test" and row["p_value"] == row["raw_p_value"]
    shown = tables.cuped_table(ro, EN).frame.iloc[0]
    assert shown["cuped_applied"] == "no" and "the unadjusted estimate is kept" in shown["cuped_note"]
    assert "0.0% of the variance" in shown["cuped_note"] or "0.1% of the variance" in shown["cuped_note"]
    assert tables.lifts_table(ro, EN).frame.iloc[0]["estimate_source"] == "unadjusted"


def test_a_constant_covariate_is_no_adjustment():
    mom = _rate_moments(5_000, 500, 560, seed=1)["rate"]
    flat = {arm: Moments(m.n, m.names, [m.sums[0], m.n * 3.0], [[m.cross[0, 0], m.sums[0] * 3.0],
            [m.sums[0] * 3.0, m.n * 9.0]]) for arm, m in mom.items()}  # fmt: skip
    row = analyze({"rate": flat}, {"rate": RATE}, control="control").lifts.iloc[0]
    assert not row["cuped_applied"] and row["estimate_source"] == "unadjusted"


def test_the_test_used_is_named_per_metric_in_the_table_and_the_summary():
    moments = _rate_moments(20_000, 2_000, 2_200, seed=2, x_of_y=3.0)  # a covariate that predicts y well
    moments["spend"] = {a: Moments.from_arrays(("s",), np.arange(m.n) % 7) for a, m in moments["rate"].items()}
    metrics = {"rate": RATE, "spend": Metric("spend", "mean", "s")}
    ro = analyze(moments, metrics, control="control")
    by = ro.lifts.set_index("metric")
    assert by.loc["rate", "estimate_source"] == "cuped" and by.loc["rate", "raw_test"] == "two-proportion z-test"
    assert by.loc["rate", "test"] == "CUPED (regression adjustment), Welch t-test"
    assert by.loc["spend", "test"] == "Welch t-test"
    shown = tables.lifts_table(ro, EN).frame.set_index("variant")["test"].tolist()
    assert shown == [
        "Welch t-test on the CUPED-adjusted outcome (in place of the two-proportion z-test)",
        "Welch t-test",
    ]
    assert "代替两比例 z 检验" in tables.lifts_table(ro, ZH).frame["test"].iloc[0]
    s = fill_summary(Summary("02_ab_campaign", lang="en"), EN, ro)
    assert [m["test"] for m in s["experiment"]["metrics"]] == list(by["test"])
    unadjusted = analyze(moments, metrics, control="control", use_cuped=False).lifts
    assert unadjusted["test"].tolist() == ["two-proportion z-test", "Welch t-test"]


def test_a_rates_lift_reads_in_percentage_points_on_the_index(tmp_path):
    from fanlib.reports import indexpages

    ro = analyze(_rate_moments(20_000, 2_000, 2_136), {"rate": RATE}, control="control", use_cuped=False)
    s = fill_summary(Summary("02_ab_campaign", lang="zh"), ZH, ro)
    head = next(h for h in s["headline"] if h["key"] == "primary_lift")
    assert head["unit"] == "pp" and head["value"] == pytest.approx(0.0068)
    day = tmp_path / "2025-12-31"
    day.mkdir()
    (day / "02_ab_campaign.manifest.json").write_text(json.dumps({"title": "A/B", "status": "ok"}))
    s.write(day / "02_ab_campaign.summary.json")
    page = indexpages.date_index_html(day)
    assert "+0.68 个百分点" in page and "0.7%" not in page
