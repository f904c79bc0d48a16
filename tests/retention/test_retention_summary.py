"""The retention report's summary and closing conclusions are built in the package from the sections' results."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pandas as pd
import pytest

from fanlib.present.notebook import Sections
from fanlib.retention.narrative import catalogue
from fanlib.retention.summary import bullet_text, conclusions, heading_text, retention_summary

AS_OF = dt.date(2025, 12, 31)
ARGS = dict(
    as_of=AS_OF,
    churn_days=30,
    churn_basis="activity",
    cohort_by="join",
    landmark_days=30,
    horizon_days=30,
    clv_horizon_days=365,
    annual_discount_rate=0.1,
)


def _day_n():
    return pd.DataFrame(
        {
            "day": [1, 7, 30],
            "eligible": [900, 800, 500],
            "rate_on": [0.6, 0.42, 0.31],
            "rate_on_or_after": [0.8, 0.6, 0.45],
            "healthy": [float("nan"), 0.5, 0.3],
        }
    )


def _all_results():
    cox_summary = pd.DataFrame(
        {
            "hazard_ratio": [0.6, 1.8, 1.1],
            "hr_low": [0.5, 1.4, 0.9],
            "hr_high": [0.7, 2.3, 1.3],
            "p": [0.001, 0.002, 0.4],
        },
        index=["checkin", "negative_commenter", "channel[douyin]"],
    )
    metrics = pd.DataFrame(
        {"roc_auc": [0.71, 0.78], "pr_auc": [0.5, 0.6], "ece": [0.03, 0.015], "top_decile_lift": [2.1, 2.6]},
        index=["logistic", "gbm"],
    )
    fans = pd.DataFrame({"fan_id": ["F1", "F2"], "clv": [100.0, 50.0]})
    return {
        "day_n": _day_n(),
        "cox": SimpleNamespace(summary=cox_summary, concordance_=0.66, n_=700, n_events_=300),
        "ph": pd.DataFrame({"p": [0.5, 0.2, 0.9]}, index=cox_summary.index),
        "references": {"channel": "wechat"},
        "churn": SimpleNamespace(
            best="gbm",
            metrics=metrics,
            test_cutoff=dt.date(2025, 11, 1),
            train_cutoffs=[dt.date(2025, 9, 1), dt.date(2025, 10, 1)],
        ),
        "at_risk": pd.DataFrame({"fan_id": ["F1", "F2", "F3"]}),
        "at_risk_files": {"csv": "/out/at_risk.csv", "xlsx": "/out/at_risk.xlsx"},
        "clv": SimpleNamespace(
            bgnbd=SimpleNamespace(params_=pd.Series({"r": 0.5, "alpha": 4.0, "a": 0.8, "b": 2.0})),
            gamma_gamma=SimpleNamespace(params_=pd.Series({"p": 2.0, "q": 10.0, "gamma": 900.0})),
            total_clv=150.0,
            fans=fans,
            holdout_table=pd.DataFrame({"frequency": ["0"], "predicted": [1.0], "actual": [1.2]}),
        ),
    }


def test_every_section_fills_its_keys_and_headlines():
    T = catalogue("en")
    s = retention_summary(_all_results(), T, **ARGS)
    assert s["status"] == "ok" and s["lang"] == "en" and s["as_of"] == "2025-12-31"
    assert s["churn_definition"]["churn_days"] == 30 and s["churn_definition"]["landmark_days"] == 30
    assert s["retention"]["d7"] == {"on": 0.42, "on_or_after": 0.6, "fans_observed": 800}
    heads = {h["key"]: h for h in s["headline"]}
    assert list(heads) == [
        "retention_d7",
        "retention_d30",
        "hr_checkin",
        "churn_auc",
        "churn_ece",
        "at_risk_fans",
        "total_clv",
    ]
    assert heads["retention_d7"]["target"] == 0.5 and heads["retention_d7"]["good"] is False
    assert heads["retention_d30"]["good"] is True
    assert heads["hr_checkin"]["good"] is True and heads["churn_auc"]["value"] == 0.78
    assert heads["churn_ece"]["good"] is True  # 0.015 below the 0.02 target, lower is better
    assert s["cox"]["reference_levels"] == {"channel": "wechat"} and s["cox"]["ties"] == "efron"
    assert s["at_risk"] == {"fans": 3, "files": {"csv": "at_risk.csv", "xlsx": "at_risk.xlsx"}}
    assert s["clv"]["total"] == 150.0 and s["clv"]["buyers"] == 2 and s["gamma_gamma"]["gamma"] == 900.0


def test_a_failed_section_leaves_its_keys_out_and_makes_the_summary_partial():
    T = catalogue("en")
    results = Sections(T)
    results["day_n"] = _day_n()
    with results.guard(T("sec_cox"), makes=["cox"]):
        raise ValueError("no fan has a channel")
    s = results.mark(retention_summary(results, T, **ARGS))
    assert "cox" not in s and "churn_model" not in s and "clv" not in s
    assert [h["key"] for h in s["headline"]] == ["retention_d7", "retention_d30"]
    assert s["status"] == "partial" and s["sections_failed"] == [T("sec_cox")]


def test_day_n_without_a_benchmark_has_no_target():
    day_n = _day_n().assign(healthy=float("nan"))
    s = retention_summary({"day_n": day_n}, catalogue("en"), **ARGS)
    assert all(h["target"] is None and h["good"] is None for h in s["headline"])


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_conclusions_name_what_the_sections_found(lang):
    T = catalogue(lang)
    lines = conclusions(_all_results(), T, clv_horizon_days=365)
    assert len(lines) == 5  # day-7 target missed, helpful and harmful drivers, at-risk list, CLV
    assert lines[0] == T("concl_d7_missed", rate="42.0%", healthy="50%")
    assert "HR 0.60" in lines[1] and "HR 1.80" in lines[2] and "HR 1.10" not in "".join(lines)
    assert "2.6" in lines[3]
    assert conclusions({}, T, clv_horizon_days=365) == []


def test_headings_and_bullets_are_markdown():
    T = catalogue("en")
    assert heading_text("h_day_n", T) == f"## {T('h_day_n')}\n\n{T('intro_day_n')}"
    assert bullet_text(["a", "b"]) == "* a\n* b"


def test_reference_levels_prefer_wechat_and_skip_a_single_city_tier():
    from fanlib.retention.cox import reference_levels

    surv = pd.DataFrame({"channel": ["douyin", "wechat", "weibo"], "city_tier": ["2", "1", None]})
    assert reference_levels(surv) == {"channel": "wechat", "city_tier": "1"}
    one_tier = pd.DataFrame({"channel": ["weibo", "douyin"], "city_tier": ["3", "3"]})
    assert reference_levels(one_tier) == {"channel": "douyin"}


def test_no_purchase_bands_and_top_buyers():
    from fanlib.retention import clv

    fans = pd.DataFrame(
        {
            "fan_id": ["a", "b", "c", "d"],
            "p_no_purchase": [0.1, 0.6, 0.9, 0.99],
            "clv": [40.0, 10.0, 5.0, 1.0],
            "frequency": 1,
            "monetary": 1.0,
            "p_alive": 0.5,
            "expected_purchases": 1.0,
        }
    )
    bands = clv.no_purchase_bands(fans)
    assert bands["no_purchase_band"].astype(str).tolist() == ["<50%", "50–80%", "80–95%", ">95%"]
    assert bands["buyers"].tolist() == [1, 1, 1, 1] and bands["clv"].tolist() == [40.0, 10.0, 5.0, 1.0]
    assert clv.top_buyers(fans, 2)["fan_id"].tolist() == ["a", "b"]


def test_km_groups_add_negative_commenters_only_when_known():
    from fanlib.retention.narrative import km_groups

    T = catalogue("en")
    surv = pd.DataFrame({"checkin": [1, 0], "segment:channel": ["wechat", "douyin"], "segment:tier": ["a", "a"]})
    segments = [("segment:channel", T("by_channel"), True), ("segment:tier", "by tier", False)]
    out, groups = km_groups(surv, T, segments)
    assert [g for g, _ in groups] == ["checkin_group", "segment:channel_group"]  # one tier only: no curve
    assert out["checkin_group"].tolist() == [T("grp_checkin_yes"), T("grp_checkin_no")]
    assert out["segment:channel_group"].tolist() == ["WeChat", "Douyin"]
    _, groups = km_groups(surv.assign(negative_commenter=[0, 1]), T, segments)
    assert [g for g, _ in groups][-1] == "negative_group"
    # orders only, fans without channels: the curve of all fans
    _, groups = km_groups(pd.DataFrame({"duration": [1.0, 2.0]}), T)
    assert groups == [("all_group", T("by_all_fans"))]


def test_the_main_answer_is_survival_and_churn():
    """A section outside the main answer makes the report partial; survival or churn missing, failed."""
    from fanlib.present.notebook import Summary
    from fanlib.retention.result import mark_summary

    T = catalogue("en")
    for failing, status in (("sec_cox", "partial"), ("sec_survival_data", "failed"), ("sec_churn", "failed")):
        sections = Sections(T)
        with sections.guard(T(failing)):
            raise ValueError("no data for it")
        s = mark_summary(Summary("03_retention"), sections, T)
        assert s["status"] == status and s["sections_failed"] == [T(failing)], failing
        assert ("reason" in s) == (status == "failed")
