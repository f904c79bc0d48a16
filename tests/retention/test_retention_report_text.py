"""The retention report's words: every heading, table header, chart label and sentence comes from the
retention catalogue, in Chinese (default) and English; the summary holds the keys the overview reads.

The notebook's code cells run in this process (no kernel): displayed objects and chart texts are
collected and checked for the language they should be in.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
import yaml
from inprocess import render_notebook, table_headers

from fanlib.present import i18n
from fanlib.retention import churn, narrative

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "03_retention.ipynb"
CJK = re.compile(r"[\u4e00-\u9fff]")


def s_cohorts(summary_path: Path) -> dict:
    """The cohort matrix of a written summary."""
    return json.loads(summary_path.read_text(encoding="utf-8"))["cohort_matrix"]


def _render(monkeypatch, **params):
    return render_notebook(monkeypatch, NOTEBOOK, **params)


_headers = table_headers


def test_catalogue_is_complete():
    assert i18n.missing_translations("retention") == []


def test_notebook_is_committed_clean_with_the_language_parameter():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    params = code[0].source
    assert "parameters" in code[0].metadata.get("tags", [])
    assert params.index("source:") < params.index("mapping:") < params.index('lang: str = "zh"')
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code)
    assert not [c for c in nb.cells if c.cell_type == "markdown" and CJK.search(c.source)]


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_report_renders_in_each_language(monkeypatch, tmp_path, small_demo_path, lang):
    summary_path = tmp_path / "03_retention.summary.json"
    shown, charts, ns = _render(
        monkeypatch,
        source=str(small_demo_path),
        summary_path=str(summary_path),
        output_dir=str(tmp_path),
        lang=lang,
        train_cutoffs=3,
        at_risk_top=100,
        churn_max_train_rows=400,
    )
    T = i18n.messages("retention", lang)
    text = "\n".join(shown)
    # every section ran: no "section not available" or "could not be completed" banner
    assert "fanlib-danger" not in text
    assert ns["results"].failed == {}
    assert {"day_n", "cohort", "curves", "lifecycle", "cox", "churn", "at_risk", "clv"} <= set(ns["results"].sections)
    for key in (
        "title",
        "h_day_n",
        "h_cohorts",
        "h_curves",
        "h_lifecycle",
        "h_survival",
        "h_churn",
        "h_clv",
        "h_conclusions",
    ):
        assert T(key) in text, key
    # the small cap on training rows applies, and the report says so
    metrics = ns["results"].sections["churn"].metrics
    assert (metrics["n_fit"] == 400).all() and (metrics["n_train"] > 400).all()
    assert narrative.churn_sample_note(metrics, 400, T) in text
    # every table header is a catalogue column name of this language
    col_texts = {T(k) for k in i18n.catalogue("retention") if k.startswith("col_")}
    headers = [h for h in _headers([s for s in shown if "<table" in s]) if h]
    assert headers and set(headers) <= col_texts, set(headers) - col_texts
    for key in (
        "chart_day_n",
        "chart_cohort_on",
        "chart_forest",
        "chart_calibration",
        "chart_gains",
        "chart_holdout",
        "chart_lifecycle",
        "chart_roc",
        "axis_not_churned",
    ):
        assert T(key) in charts, key
    if lang == "zh":
        headings = [line for line in text.splitlines() if line.startswith("#")]
        assert headings and all(CJK.search(h) for h in headings)
    else:
        leaked = [s for s in shown + charts if CJK.search(s)]
        assert not leaked, leaked[:3]
    # figures read as figures: no float in pandas' six default decimals (a day count as "90.000000", a
    # p-value as "0.000000"), and an AUC is a number, not a ratio ("0.72×")
    tables = [part for part in shown if "<table" in part]
    raw_floats = [re.findall(r">[^<]*\d\.\d{6}<", part) for part in tables]
    assert not any(raw_floats), [f for f in raw_floats if f][:3]
    metrics_table = next(part for part in tables if f">{T('col_roc_auc')}<" in part)
    names = [h for h in _headers([metrics_table]) if h]
    rows = [
        re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)
        for row in re.findall(r"<tr>(.*?)</tr>", metrics_table, flags=re.S)
    ]
    shown_metrics = pd.DataFrame([r for r in rows if r], columns=names)
    for col in ("col_roc_auc", "col_pr_auc", "col_ece"):
        assert not shown_metrics[T(col)].str.contains("×").any(), shown_metrics[T(col)]
        assert shown_metrics[T(col)].str.fullmatch(r"0\.\d+").all(), shown_metrics[T(col)]
    assert shown_metrics[T("col_top_decile_lift")].str.endswith("×").all()  # a lift is a ratio
    # the cohort matrix is exported too
    assert (tmp_path / "03_retention_cohorts.csv").exists() and (tmp_path / "03_retention_cohorts.xlsx").exists()
    assert s_cohorts(summary_path)["calendar"] is True
    # the at-risk exports carry headers and reasons in the report's language
    at_risk = pd.read_csv(tmp_path / "03_retention_at_risk.csv", encoding="utf-8-sig")
    assert list(at_risk.columns)[:3] == [T("col_rank"), T("col_fan_id"), T("col_channel")]
    assert len(at_risk) == 100 and at_risk[T("col_top_reasons")].str.len().gt(0).all()
    assert pd.read_excel(tmp_path / "03_retention_at_risk.xlsx").shape == at_risk.shape
    # the summary: the keys the issue asks for, and the headline the overview's targets read
    s = json.loads(summary_path.read_text(encoding="utf-8"))
    assert s["lang"] == lang and s.get("status", "ok") == "ok"
    assert set(s["retention"]) == {"d1", "d7", "d30", "d90"}
    assert all(0 <= v["on"] <= v["on_or_after"] <= 1 for v in s["retention"].values())
    hr = s["cox"]["hazard_ratios"]
    assert {"checkin", "negative_commenter"} <= set(hr)
    assert all(v["low"] < v["hr"] < v["high"] for v in hr.values())
    assert set(s["churn_model"]["metrics"][s["churn_model"]["best"]]) >= {"roc_auc", "ece"}
    assert set(s["bgnbd"]) == {"r", "alpha", "a", "b"} and set(s["gamma_gamma"]) == {"p", "q", "gamma"}
    assert s["clv"]["total"] > 0
    headline = {h["key"]: h for h in s["headline"]}
    targets = yaml.safe_load((ROOT / "params" / "targets.yaml").read_text(encoding="utf-8"))["kpis"]
    kpi = targets["retention_d7"]
    assert kpi["report"] == "03_retention" and kpi["key"] in headline
    assert headline["retention_d7"]["unit"] == kpi["unit"] == "pct"
    assert headline["retention_d7"]["value"] == pytest.approx(s["retention"]["d7"]["on"])  # a share, not percent
    assert {"churn_auc", "churn_ece", "total_clv", "hr_checkin"} <= set(headline)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_sentences_render_in_both_languages(lang):
    T = narrative.catalogue(lang)
    day_n = pd.DataFrame(
        {
            "day": [1, 7],
            "eligible": [900, 800],
            "rate_on": [0.4, 0.3],
            "rate_on_or_after": [0.6, 0.5],
            "current_industry": [np.nan, 0.312],
            "healthy": [np.nan, 0.5],
        }
    )
    cox = pd.DataFrame(
        {
            "hazard_ratio": [0.55, 1.8, 1.4, 1.02],
            "hr_low": [0.5, 1.5, 1.2, 0.9],
            "hr_high": [0.6, 2.1, 1.6, 1.1],
            "p": [1e-9, 1e-6, 1e-4, 0.7],
        },
        index=["checkin", "negative_commenter", "channel[douyin]", "city_tier[3]"],
    )
    ph = pd.DataFrame({"p": [0.5, 0.001, 0.3, 0.4], "proportional": [True, False, True, True]}, index=cox.index)
    metrics = pd.DataFrame({"roc_auc": [0.6], "pr_auc": [0.4], "ece": [0.015], "base_rate": [0.3]}, index=["boosting"])
    gains = pd.DataFrame(
        {"churn_rate": [0.6, 0.5, 0.4], "lift": [2.0, 1.7, 1.3], "cumulative_churn_captured": [0.2, 0.37, 0.5]}
    )
    holdout = pd.DataFrame({"predicted": [0.5, 1.0], "actual": [0.45, 1.1], "customers": [100, 50]})
    params = pd.Series({"r": 0.24, "alpha": 4.4, "a": 0.79, "b": 2.4})
    lines = (
        narrative.retention_findings(day_n, T)
        + narrative.cox_findings(cox, ph, T=T)
        + narrative.churn_findings(metrics, "boosting", gains, T)
        + narrative.clv_findings(params, 123456.0, 150, 365, holdout, T=T)
        + [narrative.churn_text(30, "activity", T), narrative.churn_text(30, "order", T)]
        + [
            narrative.population_text(pop, 7, basis, T)
            for pop in ("active", "ever_bought")
            for basis in ("activity", "order")
        ]
        + [narrative.unscored_text(pop, 7, 30, "order", T) for pop in ("active", "ever_bought")]
        + [
            narrative.curves_line(
                pd.DataFrame({"segment": ["a", "b"], "rate_on_or_after": [0.5, 0.4]}), 30, T, T("by_channel")
            )
        ]
    )
    sampled = metrics.assign(n_train=[1_060_000], n_fit=[200_000])
    assert narrative.churn_sample_note(metrics.assign(n_train=[900], n_fit=[900]), 200_000, T) is None
    lines.append(narrative.churn_sample_note(sampled, 200_000, T))
    text = "\n".join(lines)
    assert ("106.0万" if lang == "zh" else "1,060,000") in text and ("20.0万" if lang == "zh" else "200,000") in text
    assert "31.2%" in text and "50%" in text and "45%" in text  # check-in: 45% lower churn risk
    assert "HR 0.55" in text and "HR 1.80" in text
    assert narrative.driver_label("channel[douyin]", T) in text and narrative.driver_label("city_tier[3]", T) in text
    assert T("model_boosting") in text and T("churn_low_auc") in text
    assert ("¥12.35万" if lang == "zh" else "¥123,456.00") in text
    assert "-4.0%" in text or "+" in text  # the holdout error is signed
    if lang == "en":
        assert not CJK.search(text), text
    else:
        assert all(CJK.search(line) for line in lines)


def test_at_risk_reasons_and_headers_follow_the_language(tmp_path):
    class Model:
        features_ = ["active_days_30", "checkin_ever", "channel_douyin", "spend_90"]

        def predict_proba(self, df):
            return df["p"].to_numpy()

        def contributions(self, df):
            return pd.DataFrame(
                {
                    "active_days_30": [0.2, 0.0],
                    "checkin_ever": [0.1, 0.0],
                    "channel_douyin": [0.05, 0.0],
                    "spend_90": [0.0, 0.0],
                },
                index=df.index,
            )

    scored = pd.DataFrame(
        {
            "fan_id": ["F1", "F2"],
            "channel": ["douyin", "wechat"],
            "p": [0.9, 0.2],
            "active_days_30": [1, 20],
            "checkin_ever": [0, 1],
            "channel_douyin": [1, 0],
            "spend_90": [0.0, 300.0],
            "days_since_active": [6, 0],
        }
    )
    for lang, first in (
        ("zh", "近30天活跃天数 1；参与过签到：否；渠道：抖音"),
        ("en", "active days (last 30) 1; ever checked in: no; channel: Douyin"),
    ):
        T = narrative.catalogue(lang)
        lst = churn.at_risk_list(Model(), scored, T=T)
        assert lst["top_reasons"].tolist() == [first, T("reason_overall")]
        files = churn.write_at_risk(lst, tmp_path / lang, T=T)
        back = pd.read_excel(files["xlsx"], sheet_name=T("at_risk_sheet"))
        assert list(back.columns) == [T(f"col_{c}") for c in lst.columns]
