"""A shop with orders only (no events table; with a fans table, or with fans derived from the orders):
every retention section runs on fans and orders, activity means orders and the report says so; what needs
events is named, and the main answer (survival and churn) is still given."""

from __future__ import annotations

from pathlib import Path

import pytest
from retention_data import orders_only_source

from fanlib import retention
from fanlib.present import i18n
from fanlib.reports.params import read_parameters
from fanlib.retention.churn_features import EVENT_FEATURES

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "03_retention.ipynb"
pytestmark = pytest.mark.filterwarnings("ignore::fanlib.retention.activity.RetentionDataWarning")


def _params(tmp_path, **changes):
    params = {name: p.default for name, p in read_parameters(NOTEBOOK).items()}
    params.update(
        summary_path=str(tmp_path / "03_retention.summary.json"),
        output_dir=str(tmp_path),
        lang="en",
        train_cutoffs=2,
        churn_max_train_rows=None,
        retention_days=[1, 7, 30],
        curve_days=30,
        clv_holdout_days=30,
        **changes,
    )
    return params


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    return orders_only_source(tmp_path_factory.mktemp("shop") / "d.duckdb")


def test_every_section_runs_on_orders_alone_and_says_activity_means_orders(shop, tmp_path):
    params = _params(tmp_path, curve_segments=["community_id"], churn_segments=["city_tier"], currency="GBP")
    result = retention.analyse(shop, params)
    T = i18n.messages("retention", "en")
    assert result.failed == {}, result.failed
    assert [c["by"] for c in result.views["curves"]["charts"]] == ["community_id"]
    km_titles = [c["title"] for c in result.views["km"]["charts"]]
    assert km_titles == [T("chart_km", landmark=30, by=T("by_city_tier"))]  # no check-ins without events
    assert set(result.views) == {key for key, _, _ in retention.SECTIONS}
    assert any("activity here means orders" in text for text, _ in result.notes)
    s = result.summary
    assert s["status"] == "ok" and s["churn_definition"]["basis"] == "order"
    assert "without an order" in s["churn_definition"]["text"]
    assert {"churn_model", "cox", "at_risk", "clv", "cohort_matrix"} <= set(s)
    survival_notes = [text for text, _ in result.views["survival"]["notes"]]
    assert any(T("no_events_table") in text for text in survival_notes)
    ch = result.sections["churn"]
    assert ch.basis == "order" and not set(EVENT_FEATURES) & set(ch.model.features_)
    assert {"orders_total", "spend_total", "tenure_days"} <= set(ch.model.features_)
    # a UK shop: amounts in pounds, never in yuan
    assert s["currency"] == "GBP" and "£" in result.conclusions and "¥" not in result.conclusions
    assert "£" in result.views["clv"]["findings"] and "¥" not in result.views["clv"]["findings"]
    assert "GBP" in T("col_spend_90", currency="GBP")
    model = s["churn_model"]
    assert (model["population"], model["basis"], model["attributes"]) == ("active", "order", {})
    assert model["features"] == list(ch.model.features_)
    assert "checkin" not in s["cox"]["hazard_ratios"] and "hr_checkin" not in {h["key"] for h in s["headline"]}


def test_fans_without_channels_still_get_survival_and_churn(tmp_path):
    """Fans derived from orders (no fans table) carry no channel or city tier: the Cox model has no driver and says so
    (a partial report naming it); survival, churn and lifetime value are still given."""
    bare = orders_only_source(tmp_path / "d.duckdb", n=300, seed=12, channels=False)
    result = retention.analyse(bare, _params(tmp_path))
    T = i18n.messages("retention", "en")
    assert any(T("fans_derived_note") == text for text, _ in result.notes)
    assert list(result.failed) == [T("sec_cox")]
    assert T("cox_no_drivers") in result.failed[T("sec_cox")]
    s = result.summary
    assert s["status"] == "partial" and s["sections_failed"] == [T("sec_cox")]
    assert {"churn_model", "at_risk", "clv", "retention"} <= set(s)
    assert [c["title"] for c in result.views["km"]["charts"]] == [T("chart_km", landmark=30, by=T("by_all_fans"))]
    assert [c["by"] for c in result.views["curves"]["charts"]] == ["all"]  # no segment the fans carry
    assert "of all fans" in result.views["curves"]["line"]
    assert result.views["curves"]["by_segment"]["segment"].tolist() == [T("grp_all_fans")]
    assert result.views["curves"]["charts"][0]["labels"] == {"all": T("grp_all_fans")}
