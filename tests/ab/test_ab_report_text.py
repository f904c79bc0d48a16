"""The A/B report's words: every heading, table header, chart label and sentence comes from the
ab_campaign catalogue, in Chinese (default) and English.

The notebook's code cells run in this process (no kernel): displayed objects and chart texts are
collected and checked for the language they should be in.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import duckdb
import pytest
from conftest import demo_campaign
from inprocess import render_notebook, table_headers

from fanlib.ab import narrative
from fanlib.ab.errors import error_text
from fanlib.present import i18n

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "02_ab_campaign.ipynb"
CJK = re.compile(r"[\u4e00-\u9fff]")


def _render(monkeypatch, **params):
    return render_notebook(monkeypatch, NOTEBOOK, **params)


_headers = table_headers


def test_catalogue_is_complete():
    assert i18n.missing_translations("ab_campaign") == []


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_report_renders_in_each_language(monkeypatch, tmp_path, small_demo_path, lang):
    summary_path = tmp_path / "02_ab_campaign.summary.json"
    shown, charts, ns = _render(
        monkeypatch,
        source=str(small_demo_path),
        summary_path=str(summary_path),
        lang=lang,
        sequential=True,
        segments=["tenure", "channel"],
        **demo_campaign(small_demo_path),
    )
    T = i18n.messages("ab_campaign", lang)
    result = ns["result"]
    assert (
        ns["ro"] is not None
        and result.did_result is not None
        and result.sequential
        and not result.sequential[0].table.empty
    )
    # every table header is a catalogue column name of this language
    col_texts = {T(k) for k in i18n.catalogue("ab_campaign") if k.startswith("col_")}
    headers = [h for h in _headers([s for s in shown if "<table" in s]) if h]
    assert headers and set(headers) <= col_texts, set(headers) - col_texts
    # the headings the report must have, in this language
    text = "\n".join(shown)
    for key in (
        "title",
        "h_experiments",
        "h_readout",
        "h_variants",
        "h_lifts",
        "h_cuped",
        "h_guardrails",
        "h_power",
        "h_segments",
        "h_sequential",
        "h_did",
        "did_not_experiment",
        "h_conclusions",
    ):
        assert T(key) in text, key
    assert narrative.decision_label(ns["ro"].verdict.decision, T) in text
    assert charts
    if lang == "zh":
        headings = [line for line in text.splitlines() if line.startswith("#")]
        assert headings and all(CJK.search(h) for h in headings)
        titles = [c for c in charts if c in {T("chart_forest"), T("chart_did_trends"), T("chart_event_study")}]
        assert len(titles) == 3
    else:
        # nothing Chinese leaks into the English report: sentences, banners, tables and charts
        leaked = [s for s in shown + charts if CJK.search(s)]
        assert not leaked, leaked[:3]
    s = json.loads(summary_path.read_text(encoding="utf-8"))
    assert s["lang"] == lang and s["verdict"] == ns["ro"].verdict.decision
    assert s["verdict_text"] == narrative.verdict_sentence(ns["ro"].verdict, T, ns["ro"].srm)
    quoted = s["experiment"]["verdicts"][0]
    assert quoted["text"] == narrative.verdict_sentence(ns["ro"].verdicts[0], T, ns["ro"].srm)
    assert quoted["text_en"] == ns["ro"].verdicts[0].text and quoted["decision"] == ns["ro"].verdicts[0].decision


def test_sentences_render_in_both_languages_for_every_verdict_and_caveat():
    from fanlib.ab.guardrails import check_guardrail
    from fanlib.ab.srm import srm_check
    from fanlib.ab.verdict import decide

    primary = {
        "metric": "conversion",
        "name": "conversion",
        "estimate": 0.012,
        "low": 0.008,
        "high": 0.016,
        "p_adjusted": 0.001,
        "unit": "pct",
        "higher_is_better": True,
    }
    revenue = {
        "metric": "revenue_per_fan",
        "name": "revenue per fan",
        "estimate": 3.1,
        "low": 1.2,
        "high": 5.0,
        "p_adjusted": 0.01,
        "unit": "cny",
        "higher_is_better": True,
    }
    flat = dict(primary, estimate=0.0005, low=-0.001, high=0.002, p_adjusted=0.5)
    worse = dict(primary, estimate=-0.012, low=-0.016, high=-0.008)
    nan_p = dict(primary, p_adjusted=float("nan"))
    fine = check_guardrail("active", "treatment", 0.0, -0.1, 0.1, 20.0, 0.05)
    bad = check_guardrail("active", "treatment", -2.0, -3.0, -1.2, 20.0, 0.05)
    risky = check_guardrail("events_per_fan", "treatment", -0.5, -1.5, 0.5, 20.0, 0.05, higher_is_better=False)
    cases = [
        decide("treatment", primary, [revenue], [fine], srm_failed=False),
        decide("treatment", primary, [], [bad], srm_failed=False),
        decide("treatment", primary, [], [risky], srm_failed=False),
        decide("treatment", worse, [], [], srm_failed=False),
        decide("treatment", flat, [], [], srm_failed=False, mde=0.02),
        decide("treatment", flat, [], [], srm_failed=False, mde=0.0001),
        decide("treatment", nan_p, [], [], srm_failed=False),
        decide("treatment", primary, [], [], srm_failed=True),
    ]
    assert {v.decision for v in cases} == {"ship", "don't ship", "inconclusive", "withheld"}
    srm = srm_check({"control": 5_300, "treatment": 4_700}, {"control": 1, "treatment": 1})
    en, zh = i18n.messages("ab_campaign", "en"), i18n.messages("ab_campaign", "zh")
    ship_en = narrative.verdict_sentence(cases[0], en)
    assert ship_en == (
        "treatment: conversion +1.2 pp [0.8, 1.6], revenue per fan +¥3.10 [1.20, 5.00]; guardrails fine; ship"
    )
    assert narrative.verdict_sentence(cases[0], zh) == (
        "treatment：转化率 +1.2 个百分点 [0.8, 1.6]、人均消费 +¥3.10 [1.20, 5.00]；护栏指标正常；上线"
    )
    for v in cases:
        for T in (en, zh):
            reason, sentence = narrative.verdict_reason(v, T, srm), narrative.verdict_sentence(v, T, srm)
            assert reason and sentence and "{" not in reason + sentence
            assert bool(CJK.search(reason + sentence)) == (T.lang == "zh")
    assert "样本比例失衡" in narrative.verdict_sentence(cases[-1], zh, srm)
    assert "Sample ratio mismatch" in narrative.verdict_sentence(cases[-1], en, srm)
    # every caveat code the package can attach has a text in both languages
    codes = {k[len("note_") :] for k in i18n.catalogue("ab_campaign") if k.startswith("note_")}
    fields = {
        "n": 200,
        "min_n": 1000,
        "metric": "conversion",
        "variant": "treatment",
        "cut": 10,
        "days": 28,
        "min_expected": 5,
        "k": 2,
        "metrics": "active, events_per_fan",
        "covariates": "pre_events",
        "reduction": 0.0004,
        "min_reduction": 0.001,
        "names": "active",
        "outcomes": "visit, spend",
        "dimensions": "brand",
        "column": "history",
        "total": 3000,
    }
    for code in codes:
        for T in (en, zh):
            assert narrative.notes_text(
                [
                    (
                        code,
                        {
                            k: v
                            for k, v in fields.items()
                            if "{" + k in i18n.catalogue("ab_campaign")[f"note_{code}"][T.lang]
                        },
                    )
                ],
                T,
            )
    used = set()
    for path in (ROOT / "fanlib" / "ab").glob("*.py"):
        used |= set(re.findall(r'note\("([a-z_]+)"', path.read_text(encoding="utf-8")))
    assert used and used <= codes, used - codes


def _export(small_demo_path, tmp_path, frame_sql: str) -> Path:
    path = tmp_path / "export.duckdb"
    shutil.copy(small_demo_path, path)
    con = duckdb.connect(str(path))
    con.execute(f"CREATE TABLE ab_export AS {frame_sql}")
    con.close()
    return path


_EXPORT = """
    SELECT a.fan_id AS user_id, a.variant AS arm,
           (coalesce(o.n, 0) > 0)::DOUBLE AS converted, coalesce(o.revenue, 0) AS revenue,
           coalesce(o.n, 0)::DOUBLE AS orders, coalesce(p.revenue, 0) AS pre_revenue
    FROM assignments a
    LEFT JOIN (SELECT fan_id, count(*) AS n, sum(amount_cny) AS revenue FROM orders
               WHERE order_time >= TIMESTAMP '2025-01-01' GROUP BY fan_id) o USING (fan_id)
    LEFT JOIN (SELECT fan_id, sum(amount_cny) AS revenue FROM orders
               WHERE order_time < TIMESTAMP '2025-01-01' GROUP BY fan_id) p USING (fan_id)
    WHERE a.experiment_id = 'exp_coupon'"""


def test_unit_level_export_through_the_report(monkeypatch, tmp_path, small_demo_path):
    path = _export(small_demo_path, tmp_path, _EXPORT)
    summary_path = tmp_path / "s.json"
    shown, _, ns = _render(
        monkeypatch,
        source=str(path),
        summary_path=str(summary_path),
        lang="en",
        unit_table="ab_export",
        unit_variant_column="arm",
        unit_outcomes=["converted", "revenue", "revenue/orders"],
        unit_covariates={"revenue": "pre_revenue"},
    )
    ro = ns["ro"]
    assert ro is not None and ro.experiment_id == "ab_export"
    kinds = ro.lifts.set_index("metric")["kind"].to_dict()
    assert kinds == {"converted": "proportion", "revenue": "mean", "revenue/orders": "ratio"}
    text = "\n".join(shown)
    assert "User export `ab_export`" in text
    s = json.loads(summary_path.read_text(encoding="utf-8"))
    assert {(m["metric"], m["variant"]) for m in s["experiment"]["metrics"]} == {
        ("converted", "treatment"),
        ("revenue", "treatment"),
        ("revenue/orders", "treatment"),
    }


@pytest.mark.parametrize(
    "sql,message",
    [
        (
            _EXPORT + " UNION ALL " + _EXPORT.replace("a.variant AS arm", "'control' AS arm") + " LIMIT 5000",
            "fans appear in more than one row",
        ),
        (_EXPORT.replace("a.variant AS arm", "'control' AS arm"), "only one variant"),
        (_EXPORT.replace("a.variant AS arm", "upper(a.variant) AS arm"), "not in the planned split"),
        (_EXPORT + " AND false", "is empty"),
    ],
)
def test_bad_unit_level_export_is_explained_without_a_crash(monkeypatch, tmp_path, small_demo_path, sql, message):
    path = _export(small_demo_path, tmp_path, sql)
    summary_path = tmp_path / "s.json"
    shown, _, ns = _render(
        monkeypatch,
        source=str(path),
        summary_path=str(summary_path),
        lang="en",
        unit_table="ab_export",
        unit_variant_column="arm",
        unit_fan_column="user_id",
        unit_outcomes=["converted"],
        sequential=False,
        did_start=None,
    )
    assert ns["ro"] is None
    text = "\n".join(shown)
    assert "The experiment cannot be read out" in text and message in text and "fanlib-danger" in text
    s = json.loads(summary_path.read_text(encoding="utf-8"))
    assert s["status"] == "failed" and message in s["error"]


def test_bad_input_is_explained_in_chinese_too(tmp_path):
    """The issue's bad-input cases carry message codes, so a Chinese report explains them in Chinese."""
    import numpy as np
    import pandas as pd
    from helpers import frames_to_duckdb
    from test_ab_readout import PLAN, _tables

    from fanlib.ab import ABInputError
    from fanlib.ab.readout import experiment_readout
    from fanlib.data.fandata import connect

    zh, en = i18n.messages("ab_campaign", "zh"), i18n.messages("ab_campaign", "en")
    one = _tables(n=300, variants=("control",))
    unknown = _tables(n=300)
    unknown["assignments"].loc[:9, "variant"] = "Treatment_B"
    dup = _tables(n=300)
    extra = dup["assignments"].iloc[:3].copy()
    extra["variant"] = np.where(extra["variant"] == "control", "treatment", "control")
    dup["assignments"] = pd.concat([dup["assignments"], extra], ignore_index=True)
    late = _tables(n=300)
    late["assignments"]["assigned_time"] = pd.Timestamp("2026-01-01")
    cases = {"one_variant": one, "unknown_variants": unknown, "duplicate_assignment": dup, "empty_window": late}
    for code, tables in cases.items():
        fd = connect(frames_to_duckdb(tables, tmp_path / f"{code}.duckdb"), validate=False)
        with pytest.raises(ABInputError) as err:
            experiment_readout(fd, "exp_t", planned_split=PLAN)
        assert err.value.code == code
        text_zh, text_en = error_text(err.value, zh), error_text(err.value, en)
        assert CJK.search(text_zh) and "{" not in text_zh, text_zh
        assert not CJK.search(text_en)
    with pytest.raises(ABInputError) as err:
        experiment_readout(connect(tmp_path / "one_variant.duckdb", validate=False), "exp_nope", planned_split=PLAN)
    assert "exp_nope" in error_text(err.value, zh) and "没有分组记录" in error_text(err.value, zh)


def _input_error_calls():
    """Every ``ABInputError(...)`` in fanlib/ab as (where, code node, fields node)."""
    import ast

    for path in sorted((ROOT / "fanlib" / "ab").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "ABInputError":
                kw = {k.arg: k.value for k in node.keywords}
                yield f"{path.name}:{node.lineno}", kw.get("code"), kw.get("fields")


def test_every_input_error_has_a_message_code_whose_fields_fill_both_languages():
    """Wrong column names, DiD panel problems, unknown metrics: none stays English in a Chinese report."""
    import ast
    import string

    cat = i18n.catalogue("ab_campaign")
    calls = list(_input_error_calls())
    assert len(calls) >= 30
    for where, code, fields in calls:
        assert isinstance(code, ast.Constant) and isinstance(code.value, str), f"{where}: no message code"
        assert f"err_{code.value}" in cat, f"{where}: err_{code.value} is not in the catalogue"
        given = {k.value for k in fields.keys} if isinstance(fields, ast.Dict) else set()
        assert fields is None or isinstance(fields, ast.Dict), f"{where}: fields must be written out"
        for lang in ("zh", "en"):
            wanted = {f for _, f, _, _ in string.Formatter().parse(cat[f"err_{code.value}"][lang]) if f}
            assert wanted <= given, f"{where}: err_{code.value} ({lang}) needs {wanted - given}"


def test_errors_outside_the_bad_input_list_are_explained_in_chinese(tmp_path):
    import pandas as pd
    from helpers import frames_to_duckdb
    from test_ab_readout import PLAN, _tables

    from fanlib.ab import ABInputError, checks, did
    from fanlib.ab.readout import experiment_readout
    from fanlib.data.fandata import connect

    zh, en = i18n.messages("ab_campaign", "zh"), i18n.messages("ab_campaign", "en")
    tables = _tables(n=300)
    fd = connect(
        frames_to_duckdb({**tables, "ab_export": tables["assignments"]}, tmp_path / "t.duckdb"), validate=False
    )
    panel = pd.DataFrame(
        {
            "unit": ["C1", "C1", "C2", "C2"],
            "period": [-1, 0, -1, 0],
            "events": [10, 12, 9, 9],
            "fans": [5, 5, 4, 4],
            "events_per_fan": [2.0, 2.4, 2.25, 2.25],
        }
    )
    cases = {
        "unknown_metrics": lambda: experiment_readout(fd, "exp_t", planned_split=PLAN, metrics=["conversoin"]),
        "bad_windows": lambda: experiment_readout(fd, "exp_t", planned_split=PLAN, window_days=0),
        "no_column": lambda: checks.unit_table(fd, "ab_export", variant="组别"),
        "no_unit_table": lambda: checks.unit_table(fd, "no_such_export"),
        "did_treated_missing": lambda: did.fit_did(panel, ["C9"]),
        "did_no_groups": lambda: did.fit_did(panel, ["C1", "C2"]),
        "did_no_periods": lambda: did.fit_did(panel[panel["period"] < 0], ["C1"]),
    }
    for code, run in cases.items():
        with pytest.raises(ABInputError) as err:
            run()
        assert err.value.code == code, (code, str(err.value))
        text_zh, text_en = error_text(err.value, zh), error_text(err.value, en)
        assert CJK.search(text_zh) and "{" not in text_zh, text_zh
        assert not CJK.search(text_en.replace("组别", "")) and "{" not in text_en, text_en
    with pytest.raises(ABInputError) as err:
        cases["unknown_metrics"]()
    assert "conversoin" in error_text(err.value, zh) and "未定义" in error_text(err.value, zh)
