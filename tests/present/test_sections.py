"""The one section guard: a failed section is said plainly and makes the report partial; a section that
needs a failed one says so; no Python error name reaches the page. And the retention report's as_of."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from pathlib import Path

import IPython.display
import pytest

from fanlib.present import i18n
from fanlib.present.notebook import Sections, Summary
from fanlib.retention.activity import RetentionInputError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def shown(monkeypatch):
    out: list[str] = []
    monkeypatch.setattr(IPython.display, "display", lambda *objs, **_: out.extend(o.data for o in objs))
    return out


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_section_that_needs_a_failed_one_says_so_in_plain_language(shown, lang):
    T = i18n.messages("retention", lang)
    C = i18n.messages("common", lang)
    sections = Sections(T)
    with sections.guard(T("sec_survival_data"), makes=["surv"]):
        raise RetentionInputError("no fan joined before 2019-01-01")
    with sections.guard("Kaplan–Meier"):
        sections.need("surv")
        raise AssertionError("the section body goes on without what it needs")
    assert len(shown) == 2
    assert C("section_data", section=T("sec_survival_data"), reason="no fan joined before 2019-01-01") in shown[0]
    assert C("section_needs", section="Kaplan–Meier", needed=T("sec_survival_data")) in shown[1]
    assert list(sections.failed) == [T("sec_survival_data"), "Kaplan–Meier"]
    s = sections.mark(Summary("03_retention"))
    assert s["status"] == "partial" and s["sections_failed"] == [T("sec_survival_data"), "Kaplan–Meier"]


def test_an_unexpected_error_never_shows_its_name_or_traceback(shown, capsys):
    sections = Sections(lang="en")
    with sections.guard("Churn model", makes=["churn"]):
        _ = {}["surv"]  # a programming fault, not a data problem
    with sections.guard("Ratio"):
        _ = 1 / 0
    page = "\n".join(shown)
    assert "KeyError" not in page and "ZeroDivisionError" not in page and "Traceback" not in page
    assert "“Churn model” could not be completed" in page and "fanlib-danger" in page
    err = capsys.readouterr().err  # the analyst finds the details in the executed notebook's error stream
    assert "ZeroDivisionError" in err and "KeyError" in err
    assert sections.mark(Summary("x"))["sections_failed"] == ["Churn model", "Ratio"]


def test_a_foreign_value_error_is_not_shown_as_if_it_were_a_sentence(shown):
    sections = Sections(lang="en")
    with sections.guard("CLV"):
        int(float("nan"))  # ValueError: cannot convert float NaN to integer
    assert "cannot convert" not in shown[0] and "could not be completed" in shown[0]


def test_sections_that_ran_leave_the_report_ok(shown):
    sections = Sections(lang="zh")
    with sections.guard("A", makes=["a"]):
        sections["a"] = 1
    with sections.guard("B"):
        assert sections.need("a") == 1
    assert not shown and sections.mark(Summary("x"))["status"] == "ok"


def test_the_guard_messages_exist_in_both_languages():
    assert [k for k, _ in i18n.missing_translations("common") if k.startswith("section_")] == []


# --------------------------------------------------------------------------- as_of in the churn model


@pytest.fixture(scope="module")
def fd(small_demo_path):
    from fanlib.data.fandata import connect

    with connect(str(small_demo_path)) as fd:
        yield fd


def test_churn_cutoffs_follow_as_of(fd):
    from fanlib.retention import churn

    as_of = date(2025, 9, 30)
    trains, test = churn.oot_cutoffs(fd, horizon_days=30, churn_days=30, n_train=2, as_of=as_of)
    assert test == as_of - timedelta(days=59) and max(trains) < test


def test_churn_model_and_at_risk_list_are_as_of_the_analysis_date(fd):
    from fanlib.retention import churn

    as_of = date(2025, 9, 30)
    ch = churn.run_churn_models(fd, horizon_days=30, churn_days=30, n_train=2, max_train_rows=400, as_of=as_of)
    assert ch.score_date == as_of + timedelta(days=1) and ch.current.attrs["cutoff"] == ch.score_date
    assert ch.test_cutoff == as_of - timedelta(days=59)


def test_an_as_of_too_early_for_the_churn_model_says_why(fd):
    from fanlib.retention import churn

    first = fd.date_range()[0].date()
    with pytest.raises(RetentionInputError, match="too early for the churn model"):
        churn.oot_cutoffs(fd, horizon_days=30, churn_days=30, as_of=first + timedelta(days=40))


def test_the_retention_report_passes_its_analysis_date_to_the_churn_model():
    code = (ROOT / "fanlib" / "retention" / "views.py").read_text(encoding="utf-8")
    call = code[code.index("run_churn_models(") :]
    assert re.search(r"run_churn_models\([^)]*as_of=r\.as_of", call, flags=re.S)


@pytest.mark.slow
def test_retention_report_with_an_early_as_of_is_partial_and_plain(monkeypatch, tmp_path, small_demo_path, fd):
    from inprocess import render_notebook

    first = fd.date_range()[0].date()
    summary_path = tmp_path / "03_retention.summary.json"
    shown, _, ns = render_notebook(
        monkeypatch,
        ROOT / "notebooks" / "03_retention.ipynb",
        source=str(small_demo_path),
        summary_path=str(summary_path),
        output_dir=str(tmp_path),
        lang="en",
        as_of=first + timedelta(days=40),
        train_cutoffs=2,
        churn_max_train_rows=400,
    )
    T = i18n.messages("retention", "en")
    page = "\n".join(str(s) for s in shown)
    assert "NameError" not in page and "Error:" not in page and "Traceback" not in page
    assert "too early for the churn model" in page
    assert f"“{T('sec_at_risk')}” is not available: it needs the results of “{T('sec_churn')}”" in page
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    assert summary["status"] == "failed"  # churn is half the report's main answer; the rest still stands
    assert T("sec_churn") in summary["reason"]
    assert {T("sec_churn"), T("sec_at_risk")} <= set(summary["sections_failed"])
    assert summary["sections_failed"] == list(ns["results"].failed)


def test_a_plain_value_error_raised_by_fanlib_is_shown_as_the_sentence_it_is(shown):
    from fanlib.ab.multiple import adjust

    sections = Sections(lang="en")
    with sections.guard("Lifts"):
        adjust([0.01, 0.2], "sidak")
    assert "“Lifts” is not available: correction &#x27;sidak&#x27; is not one of holm, bh, none" in shown[0]
