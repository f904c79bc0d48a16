"""The retention report's public face: ``retention.analyse(fd, params)`` computes every section inside the
section guard and builds the summary; the notebook only shows the result."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from fanlib import retention
from fanlib.present import i18n
from fanlib.present.notebook import Sections, Summary
from fanlib.reports.params import read_parameters

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "03_retention.ipynb"


def notebook_params(tmp_path: Path, **changes) -> dict:
    """The notebook's own defaults (its parameters cell), with a few changed."""
    params = {name: p.default for name, p in read_parameters(NOTEBOOK).items()}
    params.update(summary_path=str(tmp_path / "03_retention.summary.json"), output_dir=str(tmp_path), **changes)
    return params


@pytest.fixture(scope="module")
def fd(small_demo_path):
    from fanlib.data import connect

    with connect(str(small_demo_path)) as fd:
        yield fd


def test_the_analysis_reads_every_parameter_it_names_from_the_notebook():
    declared = set(read_parameters(NOTEBOOK))
    assert set(retention.PARAMETERS) <= declared
    assert declared - set(retention.PARAMETERS) == {"source", "mapping", "timezone", "now"}  # for connect()


def test_missing_parameters_are_named(fd):
    with pytest.raises(retention.RetentionInputError, match="needs the parameters .*churn_days"):
        retention.analyse(fd, {"lang": "en"})


def test_a_section_that_was_not_computed_shows_only_its_banner(monkeypatch):
    import IPython.display

    shown: list = []
    monkeypatch.setattr(IPython.display, "display", lambda *objs, **_: shown.extend(objs))
    T = i18n.messages("retention", "en")
    result = retention.RetentionResult(T, {}, dt.date(2025, 1, 1), dt.date(2025, 1, 1), Sections(T), Summary("x"))
    result.views["day_n"] = {"line": "shown"}
    body = []
    with result.section("cohorts"):
        result.need("cohorts")
        body.append("the body goes on without the section's results")
    with result.section("day_n"):
        body.append(result.need("day_n")["line"])
    assert body == ["shown"] and not shown and not result.failed
    result.views["lifecycle"] = {}
    with result.section("lifecycle"):
        result.need("lifecycle")["chart"]  # a fault while showing: recorded like one while computing
    assert list(result.failed) == [T("sec_lifecycle")] and "could not be completed" in shown[0].data


@pytest.mark.slow
def test_analyse_computes_every_section_and_the_summary(fd, tmp_path):
    params = notebook_params(tmp_path, lang="en", train_cutoffs=2, churn_max_train_rows=400)
    result = retention.analyse(fd, params)
    assert not result.failed and set(result.views) == {key for key, _, _ in retention.SECTIONS}
    assert result.as_of == dt.date(2025, 12, 31) == result.data_end
    assert result.summary["status"] == "ok" and result.summary["as_of"] == "2025-12-31"
    keys = {h["key"] for h in result.summary["headline"]}
    assert keys == {
        "retention_d7",
        "retention_d30",
        "hr_checkin",
        "churn_auc",
        "churn_ece",
        "at_risk_fans",
        "total_clv",
    }
    assert (tmp_path / "03_retention_at_risk.csv").exists() and (tmp_path / "03_retention_at_risk.xlsx").exists()
    assert result.notes[-1][1] == "info" and result.headings["day_n"].startswith("## 1.")
    written = json.loads(result.write_summary().read_text(encoding="utf-8"))
    assert written["report"] == "03_retention" and written["churn_definition"]["churn_days"] == 30


@pytest.mark.slow
def test_an_analysis_date_too_early_for_the_churn_model_leaves_the_rest_standing_but_fails_the_report(fd, tmp_path):
    """The churn model is half of the report's main answer: without it the other sections stand, and the
    report says it failed, naming why, so a scheduled run does not pass it as a good one."""
    first = fd.date_range()[0].date()
    params = notebook_params(tmp_path, lang="en", as_of=first + dt.timedelta(days=40), churn_max_train_rows=400)
    result = retention.analyse(fd, params)
    T = result.T
    assert {T("sec_churn"), T("sec_at_risk")} <= set(result.failed)
    assert "too early for the churn model" in result.failed[T("sec_churn")]
    assert "churn" not in result.views and "at_risk" not in result.views and "day_n" in result.views
    assert result.summary["status"] == "failed"
    assert result.summary["reason"].startswith("the report's main answer could not be given: ")
    assert T("sec_churn") in result.summary["reason"]
    assert result.summary["sections_failed"] == list(result.failed)
    assert "churn_model" not in result.summary and "at_risk" not in result.summary


def test_an_analysis_date_after_the_data_is_refused_in_the_reports_words(fd, tmp_path):
    from fanlib.data.asof import AnalysisDateError

    with pytest.raises(retention.RetentionDateError, match="is after the data ends") as caught:
        retention.analyse(fd, notebook_params(tmp_path, as_of=dt.date(2030, 1, 1)))
    assert isinstance(caught.value, AnalysisDateError) and isinstance(caught.value, ValueError)


def test_data_without_any_activity_is_refused_in_the_reports_words(tmp_path):
    from retention_data import random_fans, write_duckdb

    from fanlib.data import connect
    from fanlib.retention.activity import NO_ACTIVITY, analysis_date

    fans, events, orders = random_fans(n=20, seed=2)
    path = write_duckdb(tmp_path / "quiet.duckdb", fans, events.iloc[:0], orders.iloc[:0])
    with connect(str(path), validate=False) as quiet:  # the contract refuses it at the door already
        with pytest.raises(retention.RetentionDateError) as caught:
            analysis_date(quiet)
    assert str(caught.value) == NO_ACTIVITY == "the events and orders tables are empty, so there is nothing to analyse"


def test_a_horizon_of_zero_days_is_refused_before_anything_speaks_of_it(fd, tmp_path):
    """ "Churn within the next 0 days" is no prediction: the run's parameter check and the analysis both
    refuse it, naming the parameter."""
    from fanlib.reports import paramcheck

    problems = paramcheck.value_problems("03_retention", {"horizon_days": 0})
    assert problems and "horizon_days" in problems[0]
    with pytest.raises(retention.RetentionInputError, match="horizon_days must be at least 1"):
        retention.analyse(fd, notebook_params(tmp_path, horizon_days=0))
    assert paramcheck.value_problems("03_retention", {"churn_population": "everyone"})
    assert paramcheck.value_problems("03_retention", {"cohort_period": "fortnight"})
    assert not paramcheck.value_problems("03_retention", {"cohort_period": "30d", "churn_population": "ever_bought"})
