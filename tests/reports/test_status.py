"""One status per report, end to end through `fanlib run`: the summary, the manifest, both index pages
and the exit code agree; a report that could not answer never replaces the last good one."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from fanlib.reports import status as report_status

DATE = "2025-12-31"
SECTION = "留存曲线 Retention curves"
REASON = "the planted readout was refused: 实验窗口内没有结果"
EXPLAINED = "本报告无法给出结论"

# One tiny report whose ending is a parameter: ok, partial, failed (by its summary), raise, silent (no summary).
PARAMETERS = """\
source: str | None = None  # data source (this test report reads none)
summary_path: str = "reports/latest/x.summary.json"  # where the summary JSON goes
output_dir: str = "reports/latest"  # where exports go
outcome: str = "{outcome}"  # ok, partial, failed, raise or silent
"""
BODY = """\
import json
from pathlib import Path
from IPython.display import Markdown, display
status = {{"raise": "failed", "silent": "ok"}}.get(outcome, outcome)
summary = {{"report": "{name}", "status": status,
           "headline": [{{"key": "rows", "label": "行数", "value": 3, "unit": "count"}}]}}
if outcome == "partial":
    summary["sections_failed"] = ["{section}"]
if outcome == "failed":
    display(Markdown("{explained}：{reason}"))
    summary.update(reason="{reason}", headline=[])
if outcome == "raise":
    raise ValueError("planted failure: 数据有问题")
Path(output_dir, "rows.csv").write_text("rows\\n3\\n", encoding="utf-8")
if outcome != "silent":
    Path(summary_path).write_text(json.dumps(summary, ensure_ascii=False), encoding="utf-8")
"""


def _notebooks(folder: Path, outcomes: dict[str, str]) -> Path:
    folder.mkdir(parents=True)
    for name, outcome in outcomes.items():
        params = nbformat.v4.new_code_cell(PARAMETERS.format(outcome=outcome))
        params.metadata["tags"] = ["parameters"]
        body = BODY.format(name=name, section=SECTION, reason=REASON, explained=EXPLAINED)
        nb = nbformat.v4.new_notebook(
            cells=[nbformat.v4.new_markdown_cell(f"# 状态测试 {name}"), params, nbformat.v4.new_code_cell(body)]
        )
        nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
        nbformat.write(nb, folder / f"{name}.ipynb")
    return folder


def fanlib_run(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fanlib", "run", *args], capture_output=True, text=True, timeout=timeout
    )


def _json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _card(page: str, name: str) -> str:
    start = page.rindex("<section", 0, page.index(f'id="{name}"'))
    return page[start : page.index("</section>", start)]


def _root_run(out: Path) -> str:
    page = (out / "index.html").read_text(encoding="utf-8")
    start = page.rindex("<li", 0, page.index(f'id="run-{DATE}"'))
    end = page.find('<li class="card', start + 1)
    return page[start : end if end > 0 else len(page)]


BADGES = {"ok": "成功 ok", "partial": "部分 partial", "failed": "失败 failed"}
MARKS = {"ok": "", "partial": "（部分 partial）", "failed": "（失败 failed）"}


def assert_agree(out: Path, name: str, status: str) -> dict:
    """The report's summary (when it wrote one), its manifest, both index pages say ``status``; returns
    the manifest."""
    day = out / DATE
    stem = f"{name}.failed" if status == "failed" else name
    manifest = _json(day / f"{stem}.manifest.json")
    assert manifest["status"] == status, manifest
    summary_file = day / f"{stem}.summary.json"
    if summary_file.exists():
        assert report_status.from_summary(_json(summary_file)).status == status
        assert manifest["files"]["summary"] == summary_file.name
    card = _card((day / "index.html").read_text(encoding="utf-8"), name)
    assert f'class="card {status}"' in card and f'<span class="badge {status}">{BADGES[status]}</span>' in card
    assert f'href="{stem}.html"' in card and (day / f"{stem}.html").exists()
    run = _root_run(out)
    link = f'<a href="{DATE}/{stem}.html">{name}</a>{MARKS[status]}'
    assert link in run, run
    if status != "failed":
        assert f'<a href="{DATE}/{name}.html">{name}</a>（失败 failed）' not in run
    return manifest


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A good run of five tiny reports (one partial), then one where three of them fail: by their summary,
    by a raised cell, and by writing no summary."""
    base = tmp_path_factory.mktemp("status")
    folder = _notebooks(
        base / "nbs", {"01_ok": "ok", "02_partial": "partial", "03_answer": "ok", "04_raise": "ok", "05_silent": "ok"}
    )
    out = base / "reports"
    common = ["--notebooks", str(folder), "--out", str(out), "--date", DATE, "--params", os.devnull]
    first = fanlib_run("all", *common, "--jobs", "2")
    day = out / DATE
    good = {
        p.name: p.read_bytes()
        for p in day.iterdir()
        if p.name.startswith(("03_answer", "04_raise", "05_silent")) and p.is_file()
    }
    shutil.copytree(out, base / "after_first")
    strict_partial = fanlib_run("02_partial", *common, "--strict")
    strict_ok = fanlib_run("01_ok", *common, "--strict")
    second = fanlib_run(
        "all",
        *common,
        "--jobs",
        "2",
        "-p",
        "03_answer.outcome=failed",
        "-p",
        "04_raise.outcome=raise",
        "-p",
        "05_silent.outcome=silent",
    )
    return {
        "out": out,
        "day": day,
        "first": first,
        "good": good,
        "after_first": base / "after_first",
        "strict_partial": strict_partial,
        "strict_ok": strict_ok,
        "second": second,
    }


def test_a_partial_report_is_partial_everywhere_and_exits_0(runs):
    first, out = runs["first"], runs["after_first"]
    assert first.returncode == 0, first.stderr
    assert re.search(rf"02_partial: partial\s+\d+\.\d s\s+sections not produced: {SECTION}", first.stderr)
    assert "4 of 5 ok, 1 partial (02_partial)" in first.stderr
    manifest = assert_agree(out, "02_partial", "partial")
    assert manifest["sections_failed"] == [SECTION] and manifest["error"] is None
    for name in ("01_ok", "03_answer", "04_raise", "05_silent"):
        assert_agree(out, name, "ok")
    day_index = (out / DATE / "index.html").read_text(encoding="utf-8")
    assert f"未生成的章节 sections not produced: {SECTION}" in _card(day_index, "02_partial")
    assert "成功 4 ok · 部分 1 partial · 失败 0 failed" in day_index
    assert "有部分报告 partial" in _root_run(out) and "部分 1 partial" in _root_run(out)
    # still partial after the second run, where the others failed
    assert_agree(runs["out"], "02_partial", "partial")


def test_strict_makes_a_partial_report_exit_1(runs):
    strict = runs["strict_partial"]
    assert strict.returncode == 1, strict.stderr
    assert "--strict: a partial report fails the run" in strict.stderr and "Traceback" not in strict.stderr
    assert runs["strict_ok"].returncode == 0, runs["strict_ok"].stderr
    help_text = fanlib_run("--help").stdout
    assert "--strict" in help_text and "partial" in help_text


def test_a_report_whose_summary_says_failed_is_failed_everywhere(runs):
    second, out, day = runs["second"], runs["out"], runs["day"]
    assert second.returncode == 1, second.stderr
    assert "03_answer: FAILED" in second.stderr and f"could not answer: {REASON}" in second.stderr
    assert "Traceback" not in second.stderr
    manifest = assert_agree(out, "03_answer", "failed")
    assert manifest["error"]["ename"] == report_status.COULD_NOT_ANSWER and manifest["error"]["evalue"] == REASON
    assert manifest["last_good"] == {"html": "03_answer.html", "manifest": "03_answer.manifest.json"}
    # the summary the notebook wrote is kept, beside the failure
    assert _json(day / "03_answer.failed.summary.json")["reason"] == REASON
    # its page is the report's own page, which explains the failure, without code
    page = (day / "03_answer.failed.html").read_text(encoding="utf-8")
    assert EXPLAINED in page and not re.search(r"class=\"[^\"]*jp-InputArea-editor", page)
    assert (day / "03_answer.failed_files" / "rows.csv").exists()
    card = _card((day / "index.html").read_text(encoding="utf-8"), "03_answer")
    assert f"未能给出结论 could not answer: {REASON}" in card
    assert 'href="03_answer.html"' in card  # the last good report stays linked, labelled as such
    assert "上次成功运行" in card  # its figures are labelled as the last good run's
    assert "成功 1 ok · 部分 1 partial · 失败 3 failed" in (day / "index.html").read_text(encoding="utf-8")
    assert "有失败 failures" in _root_run(out)


def test_a_raised_cell_and_a_missing_summary_are_failed_everywhere(runs):
    out, second = runs["out"], runs["second"]
    raised = assert_agree(out, "04_raise", "failed")
    assert raised["error"]["ename"] == "ValueError" and "planted failure" in raised["error"]["evalue"]
    assert re.search(r"04_raise: FAILED .*In \[\d+\]: ValueError: planted failure", second.stderr)
    silent = assert_agree(out, "05_silent", "failed")
    assert silent["error"]["ename"] == "no summary" and "wrote no summary" in silent["error"]["evalue"]
    assert "after the last cell" in (runs["day"] / "05_silent.failed.html").read_text(encoding="utf-8")
    assert "3 failed (03_answer, 04_raise, 05_silent)" in second.stderr


def test_the_last_good_reports_stay_byte_identical(runs):
    day = runs["day"]
    assert {
        "03_answer.html",
        "03_answer.summary.json",
        "03_answer.manifest.json",
        "03_answer.analyst.html",
        "03_answer.ipynb",
    } <= set(runs["good"])
    for name, content in runs["good"].items():
        assert (day / name).read_bytes() == content, name
    assert not list(day.glob(".*.tmp")) and not list(day.glob(".*_files.*"))


def test_a_good_run_clears_a_report_that_could_not_answer(runs, tmp_path):
    out = tmp_path / "reports"
    shutil.copytree(runs["out"], out)
    folder = _notebooks(tmp_path / "nbs", {"03_answer": "ok"})
    proc = fanlib_run("all", "--notebooks", str(folder), "--out", str(out), "--date", DATE, "--params", os.devnull)
    assert proc.returncode == 0, proc.stderr
    assert not list((out / DATE).glob("03_answer.failed*"))
    assert_agree(out, "03_answer", "ok")


# --------------------------------------------------------------------------- the data overview


def _csv_source(small_demo_path: Path, folder: Path, drop: tuple[str, str] | None = None) -> Path:
    """The small demo as CSV files whose timestamps carry a +08:00 offset; ``drop``: (table, column) left out."""
    import duckdb

    folder.mkdir(parents=True)
    con = duckdb.connect(str(small_demo_path), read_only=True)
    try:
        for (table,) in con.execute("select table_name from information_schema.tables").fetchall():
            cols = con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_name = ? order by ordinal_position",
                [table],
            ).fetchall()
            shown = [
                f"strftime({c}, '%Y-%m-%dT%H:%M:%S+08:00') as {c}" if t.startswith("TIMESTAMP") else c
                for c, t in cols
                if (table, c) != drop
            ]
            con.execute(f"copy (select {', '.join(shown)} from {table}) to '{folder / table}.csv' (header)")
    finally:
        con.close()
    return folder


@pytest.mark.slow
def test_the_data_overview_on_data_missing_a_required_column_fails_and_keeps_the_last_good(tmp_path, small_demo_path):
    from fanlib.data.fandata import connect

    notebooks = Path(__file__).resolve().parents[2] / "notebooks"
    out, day = tmp_path / "reports", tmp_path / "reports" / DATE
    good_source = _csv_source(small_demo_path, tmp_path / "good")
    common = [
        "00_data_overview",
        "--notebooks",
        str(notebooks),
        "--out",
        str(out),
        "--date",
        DATE,
        "--params",
        os.devnull,
        "-p",
        "timezone=UTC",
    ]
    first = fanlib_run(*common, "--source", str(good_source))
    assert first.returncode == 0, first.stderr
    assert_agree(out, "00_data_overview", "ok")
    # the manifest's fingerprint is the one the report computed, in the run's time zone
    with connect(good_source, validate=False, timezone="UTC") as fd:
        in_utc = fd.fingerprint()
    with connect(good_source, validate=False) as fd:
        assert fd.fingerprint() != in_utc  # the offsets make the zone matter
    manifest = _json(day / "00_data_overview.manifest.json")
    assert manifest["source"]["fingerprint"] == in_utc == _json(day / "00_data_overview.summary.json")["fingerprint"]
    good = {p.name: p.read_bytes() for p in day.glob("00_data_overview*") if p.is_file()}

    bad_source = _csv_source(small_demo_path, tmp_path / "bad", drop=("events", "event_type"))
    second = fanlib_run(*common, "--source", str(bad_source))
    assert second.returncode == 1, second.stderr
    assert "00_data_overview: FAILED" in second.stderr and "events.event_type" in second.stderr
    assert "Traceback" not in second.stderr
    failed = assert_agree(out, "00_data_overview", "failed")
    assert (
        "the data fails the contract" in failed["error"]["evalue"] and "events.event_type" in failed["error"]["evalue"]
    )
    summary = _json(day / "00_data_overview.failed.summary.json")
    assert summary["status"] == "failed" and any(p["column"] == "event_type" for p in summary["problems"])
    # the page lists the problem; its own figures (this run's) are on the card
    assert "event_type" in (day / "00_data_overview.failed.html").read_text(encoding="utf-8")
    card = _card((day / "index.html").read_text(encoding="utf-8"), "00_data_overview")
    assert "events.event_type" in card and "上次成功运行" not in card
    for name, content in good.items():
        assert (day / name).read_bytes() == content, name


@pytest.mark.slow
def test_reports_on_data_without_their_optional_tables_are_partial_and_a_refused_readout_fails(
    tmp_path, small_demo_path
):
    import duckdb

    bare = tmp_path / "bare.duckdb"
    shutil.copy(small_demo_path, bare)
    with duckdb.connect(str(bare)) as con:
        con.execute("drop table comments")
        con.execute("drop table assignments")
    notebooks = Path(__file__).resolve().parents[2] / "notebooks"
    out, day = tmp_path / "reports", tmp_path / "reports" / DATE
    common = ["--notebooks", str(notebooks), "--out", str(out), "--date", DATE, "--params", os.devnull]
    first = fanlib_run("02_ab_campaign", "04_sentiment", *common, "--source", str(bare), "--jobs", "2")
    assert first.returncode == 0, first.stderr
    for name, section in (("02_ab_campaign", "实验结果"), ("04_sentiment", "舆情指数")):
        manifest = assert_agree(out, name, "partial")
        assert any(section in s for s in manifest["sections_failed"]), manifest["sections_failed"]
        assert section in _card((day / "index.html").read_text(encoding="utf-8"), name)
    good = {p.name: p.read_bytes() for p in day.glob("02_ab_campaign*") if p.is_file()}

    # a unit table the data lacks: refused before any kernel starts (exit 2), naming the tables found
    refused = fanlib_run("02_ab_campaign", *common, "--source", str(bare), "-p", "unit_table=units_missing")
    assert refused.returncode == 2, refused.stderr
    assert "units_missing" in refused.stderr and "The source has:" in refused.stderr
    for name, content in good.items():
        assert (day / name).read_bytes() == content, name

    # an unreadable source: failed, saying why
    broken = tmp_path / "broken.duckdb"
    broken.write_text("not a database", encoding="utf-8")
    unreadable = fanlib_run("02_ab_campaign", *common, "--source", str(broken), "--date", "2025-12-30")
    assert unreadable.returncode == 1, unreadable.stderr
    m = _json(out / "2025-12-30" / "02_ab_campaign.failed.manifest.json")
    assert m["status"] == "failed" and str(broken) in m["error"]["evalue"] and "Traceback" not in unreadable.stderr


# --------------------------------------------------------------------------- parts


@pytest.mark.parametrize(
    "summary, expected",
    [
        ({"status": "ok"}, ("ok", [], None)),
        ({}, ("ok", [], None)),
        ({"status": "partial", "sections_failed": ["A", "B"]}, ("partial", ["A", "B"], None)),
        ({"status": "partial", "missing_sections": ["segments"]}, ("partial", ["segments"], None)),
        ({"status": "failed", "error": "no unit table"}, ("failed", [], "no unit table")),
        (
            {
                "status": "failed",
                "problems": [{"table": "fans", "column": "channel", "check": "required column present"}],
            },
            ("failed", [], "the data fails the contract (1 problem): fans.channel: required column present"),
        ),
        (
            {"status": "unavailable"},
            ("failed", [], "its summary's status 'unavailable' is not one of ok, partial, failed"),
        ),
    ],
)
def test_the_status_a_summary_declares(summary, expected):
    got = report_status.from_summary(summary)
    assert (got.status, got.sections, got.reason) == expected


def test_exit_codes_follow_the_worst_status():
    ok, partial, failed = {"status": "ok"}, {"status": "partial"}, {"status": "failed"}
    assert report_status.exit_code([ok, partial]) == 0
    assert report_status.exit_code([ok, partial], strict=True) == 1
    assert report_status.exit_code([ok, failed]) == 1
    assert report_status.exit_code([ok, {"status": None}]) == 1  # a report without a status is not ok
    assert report_status.exit_code([ok], strict=True) == 0
