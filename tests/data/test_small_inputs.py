"""Inputs too small or too plain for the statistics, and data the overview must describe, not crash on.

One fan per variant, variants with no spread, tiny DiD panels; sources missing a required table or
column or carrying a wrong mapping; data that ends long before the report date or on a single day.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from fanlib.ab import metrics as ab_metrics
from fanlib.ab import narrative
from fanlib.ab.errors import error_text
from fanlib.ab.metrics import Metric
from fanlib.ab.stats import Moments
from fanlib.present import i18n

ROOT = Path(__file__).resolve().parents[2]
CJK = re.compile(r"[\u4e00-\u9fff]")
EN, ZH = i18n.messages("ab_campaign", "en"), i18n.messages("ab_campaign", "zh")


def _moments(values: dict[str, dict[str, list[float]]]) -> dict:
    """{metric: {variant: column values}} with one outcome column per metric -> {metric: {variant: Moments}}."""
    return {m: {v: Moments.from_arrays((m,), np.asarray(x, float)) for v, x in by.items()} for m, by in values.items()}


METRICS = {
    "conversion": Metric("conversion", "proportion", "conversion", unit="pct"),
    "revenue": Metric("revenue", "mean", "revenue", unit="cny"),
}


# --------------------------------------------------------------------------- A/B: one fan per variant


def test_one_fan_per_variant_gives_no_interval_no_test_and_no_win():
    from fanlib.ab.comparison import analyze

    mom = _moments(
        {"conversion": {"control": [0.0], "treatment": [1.0]}, "revenue": {"control": [10.0], "treatment": [250.0]}}
    )
    ro = analyze(mom, METRICS, control="control", guardrails={"revenue": 0.05})
    for r in ro.lifts.itertuples():
        assert math.isfinite(r.absolute)  # the difference itself is shown
        assert all(math.isnan(x) for x in (r.absolute_low, r.absolute_high, r.p_value, r.relative_low))
        assert ("too_few_units", {"n": 1, "min_n": 2}) in r.note_codes
        assert len(r.note_codes) == len({c for c, _ in r.note_codes})  # said once, not once per lift
    assert ro.verdict.decision == "inconclusive" and ro.verdict.details["reason"] == "too_few"
    assert ("arm_too_small", {"variant": "control", "n": 1, "min_n": 2}) in ro.note_codes
    assert any(code == "srm_small_sample" for code, _ in ro.note_codes)
    assert ro.power["achieved_power"].isna().all() and ro.power["n_per_arm_needed"].isna().all()
    # the report says so plainly, in both languages
    for T, words in ((EN, "only 1 fan"), (ZH, "只有 1 位粉丝")):
        text = narrative.notes_text(ro.note_codes, T) + narrative.verdict_reason(ro.verdict, T, ro.srm)
        assert words in text and "{" not in text
        assert bool(CJK.search(text)) == (T.lang == "zh")
    assert "conversion +100.0 pp (no interval)" in narrative.verdict_sentence(ro.verdict, EN)
    assert all("nan" not in narrative.lift_sentence(r, EN) for _, r in ro.lifts.iterrows())
    summary = ro.summary()
    json.dumps(summary, default=str)  # the summary section is writable
    assert summary["verdict"]["decision"] == "inconclusive"


def test_lift_statistics_below_two_units_are_nan_not_a_division_by_zero():
    from fanlib.ab.lifts import absolute_lift, welch_df
    from fanlib.ab.stats import RatioStats, SampleStats

    assert math.isnan(welch_df(1.0, 1, 2.0, 5))
    one = RatioStats(1, 120.0, 120.0**2, 2.0, 4.0, 240.0)
    assert math.isnan(one.variance) and math.isnan(one.var_num) and math.isnan(one.cov_num_den)
    assert math.isnan(RatioStats(0, 0.0, 0.0, 0.0, 0.0, 0.0).mean_num)
    lift = absolute_lift(one, RatioStats(3, 300.0, 40_000.0, 3.0, 3.0, 300.0))
    assert math.isnan(lift.se) and lift.codes[0][0] == "too_few_units"
    empty = absolute_lift(SampleStats(0, 0.0, 0.0), SampleStats(4, 2.0, 2.0))
    assert empty.codes[0][0] == "undefined_no_units" and math.isnan(empty.p_value)


def test_experiment_readout_from_contract_tables_with_one_fan_per_variant(pair_source):
    from fanlib.ab.readout import experiment_readout
    from fanlib.data.fandata import connect

    fd = connect(pair_source)
    ro, _ = experiment_readout(
        fd,
        "exp_pair",
        metrics=["conversion", "revenue_per_fan", "revenue_per_order", "active", "events_per_fan"],
        guardrails={"active": 0.02},
        primary="conversion",
    )
    assert ro.verdict.decision == "inconclusive"
    assert ro.lifts["p_value"].isna().all() and ro.lifts["absolute_low"].isna().all()
    assert {c for c, _ in ro.note_codes} >= {"arm_too_small", "srm_small_sample"}


def test_sequential_monitoring_with_one_fan_per_variant_has_no_look_and_says_so(pair_source):
    from fanlib.ab import sequential
    from fanlib.data.fandata import connect

    fd = connect(pair_source)
    looks = pd.date_range("2025-03-04", "2025-04-01", freq="D")
    table = sequential.sequential_readout(
        fd, "exp_pair", ab_metrics.METRICS["conversion"], looks, control="control", treatment="treatment"
    )
    assert table.empty
    assert narrative.sequential_sentence(table, EN) == EN("seq_none")


# --------------------------------------------------------------------------- A/B: no spread within variants


def test_variants_without_spread_are_not_a_win():
    """Three fans a variant, all treated fans convert and no control fan does: the Wald interval is a
    single point and the z-test says p = 0.014; that is no evidence to ship on."""
    from fanlib.ab.comparison import analyze

    mom = _moments(
        {
            "conversion": {"control": [0, 0, 0], "treatment": [1, 1, 1]},
            "revenue": {"control": [5.0] * 3, "treatment": [5.0] * 3},
        }
    )
    ro = analyze(mom, METRICS, control="control")
    conv = ro.lifts.set_index("metric").loc["conversion"]
    assert math.isnan(conv["p_value"]) and ("no_within_variation", {}) in conv["note_codes"]
    assert ro.verdict.decision == "inconclusive"
    # a metric where every fan has the same value cannot rule an effect out either
    flat = analyze(
        {"revenue": _moments({"revenue": {"control": [5.0] * 50, "treatment": [5.0] * 50}})["revenue"]},
        {"revenue": METRICS["revenue"]},
        control="control",
    )
    assert flat.verdict.decision == "inconclusive" and flat.verdict.details["reason"] == "untestable"


def test_segment_without_spread_gets_no_p_value():
    from fanlib.ab.hte import heterogeneity, segment_effects
    from fanlib.ab.stats import SampleStats

    seg = {
        "new": {"control": SampleStats(2, 0.0, 0.0, "proportion"), "treatment": SampleStats(2, 2.0, 2.0, "proportion")},
        "solo": {
            "control": SampleStats(1, 1.0, 1.0, "proportion"),
            "treatment": SampleStats(1, 0.0, 0.0, "proportion"),
        },
    }
    eff = segment_effects(seg, "control", "treatment").set_index("segment")
    assert math.isnan(eff.loc["new", "p_value"]) and not eff.loc["new", "tested"]
    assert math.isnan(eff.loc["solo", "estimate"]) and not eff.loc["solo", "tested"]
    _, tests = heterogeneity({"tenure": seg}, "control", "treatment")
    assert narrative.segments_sentence(tests, EN) == EN("segments_none")  # not "no detectable difference, p = nan"


def test_cuped_with_fewer_fans_than_covariates_keeps_the_plain_lift_and_says_so():
    from fanlib.ab.cuped import cuped

    names = ("y", "x1", "x2")
    t = Moments.from_arrays(names, [1.0, 3.0, 2.0], [0.0, 1.0, 1.0], [2.0, 2.0, 5.0])
    c = Moments.from_arrays(names, [1.0, 1.0, 2.0], [1.0, 0.0, 1.0], [1.0, 3.0, 2.0])
    res = cuped(t, c, "y", ["x1", "x2"])
    assert not res.applied and res.codes[0][0] == "cuped_too_few"
    assert res.absolute.se > 0 and res.absolute.estimate == pytest.approx(2 - 4 / 3)
    assert EN(f"note_{res.codes[0][0]}", **res.codes[0][1]).startswith("the smaller variant has only 3")


def test_planning_from_a_metric_without_spread_is_explained_in_the_report_language():
    from fanlib.ab import ABInputError, power

    with pytest.raises(ABInputError) as err:
        power.planner(sd=float("nan"), baseline=0.4)
    assert err.value.code == "planner_no_sd"
    assert CJK.search(error_text(err.value, ZH)) and "sd = –" in error_text(err.value, EN)


def test_forest_chart_with_no_interval_draws_nothing():
    from fanlib.ab import plots
    from fanlib.ab.comparison import analyze

    ro = analyze(
        _moments({"conversion": {"control": [0.0], "treatment": [1.0]}}),
        {"conversion": METRICS["conversion"]},
        control="control",
    )
    assert plots.forest_lifts(ro.lifts, T=EN) is None


# --------------------------------------------------------------------------- DiD on tiny panels


def _panel(units, periods):
    rng = np.random.default_rng(0)
    rows = [
        {"unit": u, "period": p, "events": 10, "fans": 5, "events_per_fan": 2.0 + rng.random()}
        for u in units
        for p in periods
    ]
    return pd.DataFrame(rows)


def test_did_on_a_panel_with_no_residual_degrees_of_freedom_is_a_clear_error():
    from fanlib.ab import ABInputError, did

    with pytest.raises(ABInputError) as err:
        did.fit_did(_panel(["C1", "C2"], [-1, 0]), ["C1"])
    assert err.value.code == "did_too_small"
    assert CJK.search(error_text(err.value, ZH)) and "2 communities" in error_text(err.value, EN)


def test_did_without_enough_weeks_before_the_start_says_the_trend_is_untested():
    from fanlib.ab import did

    res = did.fit_did(_panel(["C1", "C2", "C3"], [-2, -1, 0, 1, 2]), ["C1"])
    assert not res.pretrend_tested
    text, level = narrative.did_caveat(res, EN)
    assert level == "warning" and "Too few weeks" in text
    assert "drifted apart" not in narrative.did_sentence(res, EN)


# --------------------------------------------------------------------------- the data overview on broken data


def _folder(tmp_path: Path, edit=None, n_fans: int = 40) -> Path:
    from helpers import sample_tables

    tables = sample_tables(n_fans=n_fans, seed=3)
    if edit:
        edit(tables)
    folder = tmp_path / "src"
    folder.mkdir()
    for name, frame in tables.items():
        frame.to_parquet(folder / f"{name}.parquet")
    return folder


@pytest.fixture(scope="module")
def pair_source(tmp_path_factory) -> Path:
    """The sample tables plus an experiment with one fan per variant."""

    def add_pair(tables):
        a = tables["assignments"]
        pair = pd.DataFrame(
            {
                "experiment_id": "exp_pair",
                "fan_id": ["F00000", "F00001"],
                "variant": ["control", "treatment"],
                "assigned_time": a["assigned_time"].iloc[0],
            }
        )
        tables["assignments"] = pd.concat([a, pair], ignore_index=True)

    return _folder(tmp_path_factory.mktemp("pair"), add_pair)


BROKEN = {
    "missing_column": (
        lambda t: t.__setitem__("orders", t["orders"].drop(columns=["order_time"])),
        None,
        ("orders", "order_time", "missing_column"),
    ),
    "missing_table": (
        lambda t: [t.pop(name) for name in ("fans", "orders", "events")],
        None,
        ("fans", None, "missing_table"),
    ),
    "bad_mapping": (
        lambda t: t.__setitem__("orders", t["orders"].rename(columns={"amount_cny": "订单金额"})),
        {"orders": {"金额": "amount_cny"}},
        ("orders", "amount_cny", "mapping"),
    ),
    "missing_key": (
        lambda t: t.__setitem__("fans", t["fans"].rename(columns={"fan_id": "用户ID"})),
        None,
        ("fans", "fan_id", "missing_column"),
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_overview_figures_describe_structurally_broken_data(tmp_path, case):
    from fanlib.data.checks import problems
    from fanlib.data.fandata import connect
    from fanlib.data_overview import narrative, queries

    edit, mapping, expected = BROKEN[case]
    fd = connect(_folder(tmp_path, edit), mapping=mapping, validate=False)
    found = problems(fd)
    assert expected in {(p.table, p.column, p.check) for p in found}
    tables = queries.table_summary(fd).set_index("table")
    for name in ("fans", "events", "orders"):
        if fd.has(name):
            assert tables.loc[name, "rows"] > 0
    assert not tables.loc[expected[0], "sound"]  # absent or broken
    for f in (
        queries.null_rates,
        queries.absent_columns,
        queries.duplicate_keys,
        queries.daily_volume,
        queries.member_growth,
        queries.orphan_counts,
    ):
        f(fd)  # each figure is made from what is there
    shown = narrative.problem_table(found, i18n.messages("data_overview", "zh"))
    assert (shown["table"] == expected[0]).any() and CJK.search(" ".join(shown["check"]))
    if case == "missing_column":
        assert "order_time" not in set(queries.absent_columns(fd)["column"])  # required, not "optional absent"
    if case == "missing_table":
        assert queries.member_growth(fd).empty  # no fans, no growth chart


# --------------------------------------------------------------------------- timing warnings


def test_data_ending_long_before_the_report_date_is_a_warning(tmp_path):
    from fanlib.data.fandata import connect
    from fanlib.data.freshness import STALE_AFTER_DAYS, data_warnings

    fd = connect(_folder(tmp_path), validate=False, now="2025-05-15 12:00:00")
    assert data_warnings(fd) == []  # the sample data ends on 30 April
    late = data_warnings(fd, as_of="2025-07-01")
    assert {(w.table, w.column, w.check) for w in late} == {
        ("events", "event_time", "stale"),
        ("orders", "order_time", "stale"),
        ("comments", "comment_time", "stale"),
    }
    events = next(w for w in late if w.table == "events")
    assert events.fields["days"] > STALE_AFTER_DAYS and events.fields["last"] == "2025-04-30"
    assert data_warnings(fd, as_of="2025-07-01", stale_after_days=90) == []
    T = i18n.messages("data_overview", "zh")
    from fanlib.data_overview import narrative

    assert "2025-04-30" in narrative.warning_table(late, T)["detail"].iloc[0]


def test_activity_all_on_one_day_is_a_warning(tmp_path):
    from fanlib.data.fandata import connect
    from fanlib.data.freshness import data_warnings

    def one_day(tables):
        ev = tables["events"]
        ev["event_time"] = pd.Timestamp("2025-04-30 09:00") + pd.to_timedelta(np.arange(len(ev)) % 600, "s")

    fd = connect(_folder(tmp_path, one_day), validate=False, now="2025-05-01")
    found = {(w.table, w.check): w for w in data_warnings(fd)}
    assert ("events", "single_day") in found and ("orders", "single_day") not in found
    assert found["events", "single_day"].fields == {"rows": 400, "day": "2025-04-30"}


def test_validate_prints_timing_warnings_without_failing(tmp_path, capsys):
    from fanlib.data.validate import main

    folder = _folder(tmp_path)
    assert main([str(folder), "--now", "2025-08-01 00:00:00"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("OK") and "Warnings (3; they do not fail the contract)" in out
    assert "events.event_time [stale]: the newest record is from 2025-04-30, 93 days" in out
    assert main([str(folder), "--now", "2025-05-02 00:00:00"]) == 0
    assert "Warnings" not in capsys.readouterr().out


# --------------------------------------------------------------------------- the rendered reports


def _render(notebook: str, tmp_path: Path, **params) -> tuple[str, list]:
    import papermill as pm

    out = tmp_path / "out.ipynb"
    pm.execute_notebook(
        str(ROOT / "notebooks" / notebook),
        str(out),
        parameters=params,
        kernel_name="fanlib",
        cwd=str(ROOT),
        progress_bar=False,
    )
    nb = nbformat.read(out, as_version=4)
    outputs = [o for c in nb.cells for o in c.get("outputs", [])]
    text = " ".join(
        o.get("text", "")
        + " ".join(str(v) for k, v in o.get("data", {}).items() if k in ("text/html", "text/markdown", "text/plain"))
        for o in outputs
    )
    return text, outputs


@pytest.mark.slow
def test_data_overview_renders_and_shows_a_missing_required_column(tmp_path):
    edit, mapping, _ = BROKEN["missing_column"]
    summary_path = tmp_path / "00.summary.json"
    text, outputs = _render(
        "00_data_overview.ipynb",
        tmp_path,
        source=str(_folder(tmp_path, edit)),
        lang="en",
        summary_path=str(summary_path),
        output_dir=str(tmp_path / "files"),
        as_of="2025-05-10",
    )
    assert not any(o.get("output_type") == "error" for o in outputs)
    assert "Traceback" not in text and "ContractError" not in text
    # the contract table names the table, the column and the check
    assert re.search(r">orders<.*?>order_time<.*?>required column missing<", text, re.S)
    assert "The tables orders have structural problems" in text
    s = json.loads(summary_path.read_text(encoding="utf-8"))
    assert s["status"] == "failed"
    assert {"table": "orders", "column": "order_time", "check": "missing_column", "failing_rows": None} in s["problems"]
    assert s["warnings"] == []  # the data reaches 30 April, ten days before as_of


@pytest.mark.slow
def test_ab_report_renders_an_experiment_with_one_fan_per_variant(tmp_path, pair_source):
    summary_path = tmp_path / "02.summary.json"
    text, outputs = _render(
        "02_ab_campaign.ipynb",
        tmp_path,
        source=str(pair_source),
        lang="en",
        experiment_id="exp_pair",
        summary_path=str(summary_path),
        output_dir=str(tmp_path / "files"),
    )
    assert not any(o.get("output_type") == "error" for o in outputs)
    assert "Traceback" not in text and "ZeroDivisionError" not in text
    assert "Variant control has only 1 fan(s)" in text and "no verdict is drawn" in text
    assert "No interval to chart" in text and "No look had enough fans" in text
    s = json.loads(summary_path.read_text(encoding="utf-8"))
    assert s["verdict"] == "inconclusive" and s["experiment"]["verdict"]["decision"] == "inconclusive"
    assert all(m["p_value"] is None for m in s["experiment"]["metrics"])
