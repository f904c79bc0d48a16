"""An experiment with three arms: the summary and the page hold every treatment's results, segment tests and
daily monitoring, each naming its arm (not only the last or the first treatment's)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from helpers import frames_to_duckdb
from inprocess import render_notebook
from test_ab_analyse import NOTEBOOK, _defaults
from test_ab_readout import _tables

from fanlib import ab
from fanlib.ab import hte, sequential
from fanlib.ab.metrics import METRICS
from fanlib.data.fandata import connect
from fanlib.present.escape import md_text

ARMS = ("control", "treatment", "treatment_b")
PLAN3 = dict.fromkeys(ARMS, 1 / 3)


@pytest.fixture(scope="module")
def three_arms(tmp_path_factory):
    return frames_to_duckdb(_tables(n=6_000, seed=3, variants=ARMS), tmp_path_factory.mktemp("ab3") / "three.duckdb")


def _params(path, **extra):
    return {
        **_defaults(),
        "source": str(path),
        "lang": "en",
        "experiment_id": "exp_t",
        "planned_split": PLAN3,
        "metrics": ["conversion", "revenue_per_fan"],
        "guardrails": {},
        "segments": ["channel", "tenure"],
        "did_start": None,
        **extra,
    }


@pytest.fixture(scope="module")
def result(three_arms):
    return ab.analyse(connect(str(three_arms), validate=False), _params(three_arms))


def test_every_arm_has_its_lifts_and_verdict_in_the_summary(result):
    s = result.summary
    assert {(m["metric"], m["variant"]) for m in s["experiment"]["metrics"]} == {
        (m, v) for m in ("conversion", "revenue_per_fan") for v in ARMS[1:]
    }
    assert [v["variant"] for v in s["experiment"]["verdicts"]] == list(ARMS[1:])
    assert s["primary_lift_variant"] in ARMS[1:]
    head = next(h for h in s["headline"] if h["key"] == "primary_lift")
    assert s["primary_lift_variant"] in head["label"]  # several arms: the headline names the one it shows
    prim = result.readout.lifts.set_index(["metric", "variant"]).loc[("conversion", s["primary_lift_variant"])]
    assert head["value"] == pytest.approx(prim["absolute"])


def test_every_arms_segment_tests_and_effects_are_kept(result, three_arms):
    s = result.summary
    assert [v.variant for v in result.segments] == list(ARMS[1:])
    fd = connect(str(three_arms), validate=False)
    for arm in ARMS[1:]:
        effects, tests = hte.segment_readout(
            fd, result.units, METRICS["conversion"], ["channel", "tenure"], control="control", treatment=arm
        )
        got = s["segments"][s["segments"]["variant"] == arm].drop(columns="variant").reset_index(drop=True)
        pd.testing.assert_frame_equal(got, tests)
        eff = s["segment_effects"][s["segment_effects"]["variant"] == arm].reset_index(drop=True)
        assert eff["estimate"].tolist() == pytest.approx(effects["estimate"].tolist(), nan_ok=True)
        assert eff["segment"].tolist() == effects["segment"].tolist()


def test_the_daily_view_covers_every_arm_and_names_it(result, three_arms):
    assert [v.variant for v in result.sequential] == list(ARMS[1:])
    fd = connect(str(three_arms), validate=False)
    looks = sequential.daily_looks(fd, "exp_t", 28)
    for view in result.sequential:
        assert view.variant in view.chart_title and "control" in view.chart_title
        assert view.sentence.startswith(f"**{md_text(view.variant)} vs control:**")  # a value from data, escaped
        alone = sequential.sequential_readout(
            fd, "exp_t", METRICS["conversion"], looks, control="control", treatment=view.variant
        )
        pd.testing.assert_frame_equal(view.table, alone)
    last = result.summary["sequential"]
    assert last["variant"].tolist() == list(ARMS[1:])
    for view in result.sequential:
        assert last[last["variant"] == view.variant]["estimate"].iloc[0] == view.table["estimate"].iloc[-1]


def test_the_page_shows_a_daily_chart_per_arm(monkeypatch, tmp_path, three_arms):
    summary_path = tmp_path / "s.json"
    params = _params(three_arms, summary_path=str(summary_path))
    params.pop("source")
    shown, charts, _ = render_notebook(monkeypatch, NOTEBOOK, source=str(three_arms), **params)
    titles = [t for t in charts if t.startswith("Cumulative result by day")]
    assert len(titles) == 2 and all(any(arm in t for t in titles) for arm in ARMS[1:])
    written = json.loads(summary_path.read_text(encoding="utf-8"))
    assert {r["variant"] for r in written["sequential"]} == set(ARMS[1:])
    assert {r["variant"] for r in written["segments"]} == set(ARMS[1:])
