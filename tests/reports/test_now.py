"""`fanlib run --now`: data dated after the real clock is analysed as of a declared time, in every report;
`--date` only names the dated folder."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from helpers import frames_to_duckdb

from fanlib.reports import cli, suite
from fanlib.reports import execute as execute_report

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
TEST_NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
FOLDER_DATE = "2026-01-15"


@pytest.fixture
def no_kernel(monkeypatch):
    def refuse(*_, **__):
        raise AssertionError("a kernel was started")

    monkeypatch.setattr(suite, "ensure_kernel", refuse)
    monkeypatch.setattr(execute_report, "execute_notebook", refuse)


def plan(source: Path, *argv: str):
    args = cli.build_parser().parse_args([*argv, "--source", str(source), "--notebooks", str(NOTEBOOKS)])
    return cli.plan(args)


@pytest.fixture(scope="module")
def future_source(tmp_path_factory, small_demo_path) -> tuple[Path, date]:
    """The small demo moved forward in whole weeks so that its last day lies about a year after today's
    real clock: ``(DuckDB file, its last day)``."""
    con = duckdb.connect(str(small_demo_path), read_only=True)
    try:
        names = [n for (n,) in con.execute("SHOW TABLES").fetchall() if not n.startswith("truth")]
        tables = {n: con.table(n).df() for n in names}
    finally:
        con.close()
    end = max(tables[n][c].max() for n, c in (("events", "event_time"), ("orders", "order_time")))
    weeks = ((pd.Timestamp(date.today()) + pd.Timedelta(days=365)) - end).days // 7 + 1
    shift = pd.Timedelta(weeks=weeks)
    for frame in tables.values():
        for column in frame.columns:
            if pd.api.types.is_datetime64_any_dtype(frame[column]):
                frame[column] = frame[column] + shift
    path = frames_to_duckdb(tables, tmp_path_factory.mktemp("future") / "future.duckdb")
    last = (end + shift).date()
    assert last > date.today() + timedelta(days=300)
    return path, last


# --------------------------------------------------------------------------- before any kernel


def test_now_reaches_every_report_and_the_folder_keeps_todays_name(no_kernel, tmp_path, small_demo_path):
    jobs, _, date_dir = plan(small_demo_path, "all", "--now", "2027-03-01 18:30", "--out", str(tmp_path / "r"))
    assert [j.name for j in jobs] == [p.stem for p in sorted(NOTEBOOKS.glob("0*.ipynb"))]
    assert {j.name: j.parameters["now"] for j in jobs} == dict.fromkeys(
        [j.name for j in jobs], datetime(2027, 3, 1, 18, 30)
    )
    assert date_dir.name == cli.today()  # --now changes the data's clock, not the folder's name
    jobs, _, date_dir = plan(
        small_demo_path, "00", "--now", "2027-03-01", "--date", FOLDER_DATE, "--out", str(tmp_path / "r")
    )
    assert date_dir.name == FOLDER_DATE and jobs[0].parameters["now"] == datetime(2027, 3, 1)
    jobs, _, _ = plan(small_demo_path, "00", "--date", FOLDER_DATE, "--out", str(tmp_path / "r"))
    assert jobs[0].parameters["now"] is None  # --date alone sets no clock: it only names the folder


def test_every_report_notebook_hands_its_now_to_connect():
    for path in sorted(NOTEBOOKS.glob("0*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
        assert re.search(r"^now: datetime \| None = None  # ", code[0], re.M), path.name
        calls = re.findall(r"connect\([^)]*\)", "\n".join(code[1:]))
        assert calls and all("now=now" in call for call in calls), (path.name, calls)


def test_a_now_that_is_no_time_stops_the_run(capsys, no_kernel, tmp_path):
    code = cli.run_main(["00", "--now", "next monday", "--out", str(tmp_path / "r"), "--notebooks", str(NOTEBOOKS)])
    err = capsys.readouterr().err
    assert code == 2 and "--now 'next monday': not a date; expected YYYY-MM-DD or YYYY-MM-DD HH:MM[:SS]" in err, err
    assert not (tmp_path / "r").exists()


def test_now_for_a_notebook_that_cannot_take_it_stops_the_run(capsys, no_kernel, tmp_path):
    argv = ["01_chart", "--now", "2027-03-01", "--out", str(tmp_path / "r"), "--notebooks", str(TEST_NOTEBOOKS)]
    code = cli.run_main(argv)
    err = capsys.readouterr().err
    assert code == 2 and "01_chart: --now given but the notebook declares no 'now' parameter" in err, err


# --------------------------------------------------------------------------- end to end


def fanlib_run(*args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "fanlib", "run", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=ROOT)


@pytest.mark.slow
def test_data_dated_after_the_clock_is_refused_without_now(future_source, tmp_path):
    source, _ = future_source
    proc = fanlib_run("05", "--source", str(source), "--out", str(tmp_path / "r"), "--date", FOLDER_DATE)
    assert proc.returncode == 1, proc.stderr
    assert "[not_in_future" in proc.stderr and "must not be after" in proc.stderr, proc.stderr


@pytest.mark.slow
def test_every_report_runs_on_data_dated_after_the_clock_with_now(future_source, tmp_path):
    source, last = future_source
    now = (last + timedelta(days=1)).isoformat()
    out = tmp_path / "r"
    proc = fanlib_run("all", "--source", str(source), "--out", str(out), "--date", FOLDER_DATE, "--now", now)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    folder = out / FOLDER_DATE
    assert [p.name for p in out.iterdir() if p.is_dir()] == [FOLDER_DATE]  # --date named the folder
    names = [p.stem for p in sorted(NOTEBOOKS.glob("0*.ipynb"))]
    for name in names:
        manifest = json.loads((folder / f"{name}.manifest.json").read_text(encoding="utf-8"))
        assert manifest["status"] in ("ok", "partial"), (name, manifest["error"])
        assert manifest["parameters"]["now"] == f"{now}T00:00:00", name
    # The analysis date is the data's last day, after the real clock: the reports read the data as it is.
    retention = json.loads((folder / "03_retention.summary.json").read_text(encoding="utf-8"))
    overview = json.loads((folder / "00_data_overview.summary.json").read_text(encoding="utf-8"))
    assert retention["as_of"] == last.isoformat()
    assert overview["as_of"].startswith(last.isoformat())
