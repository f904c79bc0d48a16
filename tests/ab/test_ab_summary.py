"""The A/B report's summary is filled in the package from the readout and the optional sections."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest
from helpers import frames_to_duckdb
from test_ab_readout import PLAN, _tables

from fanlib.ab import narrative
from fanlib.ab.errors import error_text
from fanlib.ab.readout import experiment_readout
from fanlib.ab.summary import SEQUENTIAL_COLUMNS, fill_summary
from fanlib.data.fandata import connect
from fanlib.present.i18n import messages
from fanlib.present.notebook import Summary


@pytest.fixture(scope="module")
def readout(tmp_path_factory):
    path = frames_to_duckdb(_tables(n=3_000), tmp_path_factory.mktemp("ab_summary") / "t.duckdb")
    ro, _ = experiment_readout(
        connect(path, validate=False),
        "exp_t",
        planned_split=PLAN,
        metrics=["conversion", "revenue_per_fan"],
        use_cuped=False,
    )
    return ro


DID = SimpleNamespace(
    relative=0.12,
    relative_low=0.05,
    relative_high=0.2,
    p_value=0.01,
    pretrend_p=0.6,
    pretrend_ok=True,
    n_treated=10,
    n_units=30,
)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_readout_fills_the_headlines_and_verdict_in_the_reports_language(readout, lang):
    T = messages("ab_campaign", lang)
    s = fill_summary(Summary("02_ab_campaign", lang=lang), T, readout)
    assert [h["key"] for h in s["headline"]] == ["verdict", "srm_p_value", "primary_lift"]
    assert s["verdict"] == readout.verdict.decision and s["srm_p_value"] == readout.srm.p_value
    assert s["verdict_text"] == narrative.verdict_sentence(readout.verdict, T, readout.srm)
    verdict = s["experiment"]["verdict"]
    assert verdict["text"] == s["verdict_text"] and verdict["text_en"] == readout.verdict.text
    assert s["headline"][0]["value"] == narrative.decision_label(readout.verdict.decision, T)
    primary = readout.lifts[readout.lifts["metric"] == "conversion"].iloc[0]
    assert s["headline"][2]["value"] == pytest.approx(primary["absolute"]) and s["headline"][2]["unit"] == "pp"
    assert "segments" not in s and "sequential" not in s and "did" not in s
    assert s["primary_lift_variant"] == "treatment" and s["headline"][2]["label"] == T(
        "hl_primary_lift", metric=narrative.metric_label("conversion", T)
    )  # two arms: the label needs no arm


def test_optional_sections_add_their_keys(readout):
    T = messages("ab_campaign", "en")
    seg = pd.DataFrame({"dimension": ["tenure"], "p_value": [0.3]})
    effects = pd.DataFrame({"dimension": ["tenure"], "segment": ["new"], "estimate": [0.01], "extra": [1]})
    seq = pd.DataFrame({c: [1.0, 2.0] for c in SEQUENTIAL_COLUMNS + ["extra"]})
    segments = [SimpleNamespace(variant="treatment", tests=seg, segments=effects)]
    sequential = [SimpleNamespace(variant="treatment", table=seq)]
    s = fill_summary(
        Summary("02_ab_campaign", lang="en"), T, readout, segments=segments, sequential=sequential, did_res=DID
    )
    assert s["segments"].to_dict(orient="records") == [{"variant": "treatment", "dimension": "tenure", "p_value": 0.3}]
    assert list(s["segment_effects"].columns) == ["variant", "dimension", "segment", "estimate"]
    assert list(s["sequential"].columns) == ["variant", *SEQUENTIAL_COLUMNS]
    assert s["sequential"]["look"].tolist() == [2.0]
    assert s["did"] == {
        "not_an_experiment": True,
        "effect_relative": 0.12,
        "low": 0.05,
        "high": 0.2,
        "p_value": 0.01,
        "pretrend_p": 0.6,
        "pretrend_ok": True,
        "treated": 10,
        "units": 30,
    }


def test_without_a_readout_only_the_campaign_is_summarised():
    T = messages("ab_campaign", "en")
    s = fill_summary(Summary("02_ab_campaign", lang="en"), T, None, did_res=DID)
    assert "headline" not in s or not s["headline"]
    assert "verdict" not in s and s["did"]["treated"] == 10


def test_unit_table_readout_equals_analysing_its_moments(tmp_path):
    from fanlib.ab import checks
    from fanlib.ab import queries as outcomes
    from fanlib.ab.comparison import analyze
    from fanlib.ab.metrics import unit_metrics
    from fanlib.ab.readout import unit_readout

    tables = _tables(n=2_000)
    frame = pd.DataFrame(
        {
            "fan_id": tables["assignments"]["fan_id"],
            "arm": tables["assignments"]["variant"],
            "converted": (pd.Series(range(2_000)) % 7 == 0).astype(int),
        }
    )
    fd = connect(frames_to_duckdb({**tables, "ab_export": frame}, tmp_path / "u.duckdb"), validate=False)
    ro, units = unit_readout(
        fd, "ab_export", variant="arm", planned_split=PLAN, outcomes=["converted"], control="control", use_cuped=False
    )
    t = checks.unit_table(fd, "ab_export", variant="arm", planned_split=PLAN)
    chosen = checks.infer_proportions(fd, t, unit_metrics(t, ["converted"], {}))
    want = analyze(
        outcomes.by_variant(outcomes.variant_moments(fd, t, chosen)),
        chosen,
        control="control",
        planned_split=PLAN,
        primary="converted",
        use_cuped=False,
        experiment_id="ab_export",
    )
    pd.testing.assert_frame_equal(ro.lifts, want.lifts)
    assert ro.experiment_id == "ab_export" and ro.settings["primary"] == "converted"


def test_input_errors_speak_the_reports_language():
    from fanlib.ab import ABInputError

    err = ABInputError(
        "treated units ['C9'] have no events in the panel window",
        table="events",
        column="community_id",
        code="did_treated_missing",
        fields={"units": "C9"},
    )
    zh, en = messages("ab_campaign", "zh"), messages("ab_campaign", "en")
    assert err.text(zh) == error_text(err, zh) and "C9" in err.text(zh) and err.text(zh) != err.text(en)
