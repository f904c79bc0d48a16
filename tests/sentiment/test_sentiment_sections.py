"""The sentiment report's sections run in the one section guard: a section that fails shows a plain
banner, the report goes on, and the summary becomes partial, naming it."""

from __future__ import annotations

import json
from pathlib import Path

import IPython.display
import pytest

from fanlib.data.fandata import connect
from fanlib.present.i18n import messages
from fanlib.sentiment import analyse, crisis, drivers, queries
from fanlib.sentiment.store import load_card, load_model

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def shown(monkeypatch):
    out: list[str] = []
    monkeypatch.setattr(IPython.display, "display", lambda *objs, **_: out.extend(o.data for o in objs))
    return out


@pytest.fixture(scope="module")
def small_fd(small_demo_path):
    return connect(small_demo_path)


def _broken(*_, **__):
    raise RuntimeError("a fault inside the detector")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_failing_section_shows_a_plain_banner_and_makes_the_summary_partial(monkeypatch, shown, small_fd, lang):
    monkeypatch.setattr(crisis, "detect", _broken)
    result = analyse(small_fd, {"lang": lang}, model=load_model(), card=load_card())
    T, C = messages("sentiment", lang), messages("common", lang)
    assert len(shown) == 1
    assert C("section_error", section=T("h_alerts")) in shown[0] and "fanlib-danger" in shown[0]
    assert "RuntimeError" not in shown[0] and "a fault inside the detector" not in shown[0]
    assert list(result.sections.failed) == [T("h_alerts")]
    s = result.summary
    assert s["status"] == "partial" and s["sections_failed"] == [T("h_alerts")]
    # the other sections still report their figures; the alert figures are absent, not zero
    keys = [h["key"] for h in s["headline"]]
    assert keys == ["sentiment_index", "negative_share", "model_accuracy"]
    assert s["alerts"] is None and s["detector"] is None and s["top_negative_drivers"]
    assert result.by_channel is not None and result.churn_link is not None


def test_a_data_problem_in_a_section_is_said_as_the_sentence_it_is(monkeypatch, shown, small_fd):
    from fanlib.sentiment.errors import NoCommentsError

    def no_channel(*_, **__):
        raise NoCommentsError("no comment names its channel")

    monkeypatch.setattr(queries, "breakdown", no_channel)
    result = analyse(small_fd, {"lang": "en"}, model=load_model(), card=load_card())
    T, C = messages("sentiment", "en"), messages("common", "en")
    assert len(shown) == 1 and "fanlib-warning" in shown[0]
    assert C("section_data", section=T("h_breakdown"), reason="no comment names its channel") in shown[0]
    assert result.summary["sections_failed"] == [T("h_breakdown")] and result.by_channel is None


def test_the_sections_that_ran_leave_the_report_ok(shown, small_fd):
    result = analyse(small_fd, {"lang": "en"}, model=load_model(), card=load_card())
    assert not shown and not result.sections.failed
    assert result.summary["status"] == "ok" and "sections_failed" not in result.summary


@pytest.mark.slow
def test_the_report_with_a_failing_section_shows_the_banner_and_writes_a_partial_summary(
    monkeypatch, tmp_path, small_demo_path
):
    from inprocess import render_notebook

    def broken_drivers(*_, **__):
        raise KeyError("term")  # a fault, not a data problem: the drivers section is left out

    monkeypatch.setattr(drivers, "aspects", broken_drivers)
    monkeypatch.setattr(crisis, "detect", _broken)
    summary_path = tmp_path / "04_sentiment.summary.json"
    page, _, ns = render_notebook(
        monkeypatch,
        ROOT / "notebooks" / "04_sentiment.ipynb",
        source=str(small_demo_path),
        summary_path=str(summary_path),
        output_dir=str(tmp_path),
        lang="en",
    )
    T = messages("sentiment", "en")
    text = "\n".join(str(s) for s in page)
    assert f"“{T('h_alerts')}” could not be completed" in text
    assert "RuntimeError" not in text and "Traceback" not in text
    assert T("h_churn") in text and T("h_card") in text  # the sections after it are still shown
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    assert summary["status"] == "partial" and summary["sections_failed"] == [T("h_alerts")]
    assert summary["sections_failed"] == list(ns["result"].sections.failed)
    # the drivers' own fallback still names what is missing, in the summary and on the page
    assert summary["unavailable"] == {"drivers": "driver terms could not be computed (KeyError: 'term')"}
    assert "driver terms could not be computed" in text


def test_the_errors_are_fanlib_input_errors_and_the_built_ins_they_replaced():
    from fanlib.errors import EXIT_INPUT, FanlibError, InputError, exit_code_for
    from fanlib.sentiment import errors

    bases = {
        errors.NoCommentsError: LookupError,
        errors.CorpusError: ValueError,
        errors.ModelFormatError: ValueError,
        errors.ChurnComparisonError: ValueError,
    }
    for cls, builtin in bases.items():
        exc = cls(negative=0, other=3, cutoff="2025-01-01") if cls is errors.ChurnComparisonError else cls("x")
        assert isinstance(exc, InputError) and isinstance(exc, FanlibError) and isinstance(exc, builtin), cls
        assert exit_code_for(exc) == EXIT_INPUT
    assert sorted(errors.__all__) == sorted(c.__name__ for c in bases)


def test_a_missing_part_is_said_in_the_readers_language_and_kept_in_english_in_the_summary(
    tmp_path, small_demo_path, shown
):
    import shutil

    import duckdb

    path = tmp_path / "no_labels.duckdb"
    shutil.copy(small_demo_path, path)
    with duckdb.connect(str(path)) as con:
        con.execute("update comments set label = null")
    result = analyse(connect(path), {"lang": "zh"}, model=load_model(), card=load_card())
    assert not shown and result.summary["status"] == "ok" and result.labelled is None
    assert result.summary["unavailable"] == {"labelled": "no comment carries a human label (comments.label)"}
    zh = messages("sentiment", "zh")
    assert result.reason("labelled", zh) == zh("why_no_labels") and "人工标签" in zh("why_no_labels")
