"""Parameters that mean something in the data, refused by `fanlib run` before any kernel starts (exit code 2,
naming the parameter and the value, the dated folder untouched): covariates and segments naming fan columns
that are missing, not numeric or of one level; a vocabulary mapping onto unknown codes; an unknown currency."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import frames_to_duckdb, sample_tables

from fanlib.reports import cli, datacheck, suite
from fanlib.reports import execute as execute_report

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
DATE = "2025-12-31"

#: A report that names fan columns and amounts, as the analysis reports' parameters cells do.
PARAMETERS = """\
source: str = "data/demo.duckdb"  # the data
mapping: dict | None = None  # column renames and the vocabulary
timezone: str = "Asia/Shanghai"  # zone of the timestamps
currency: str = "CNY"  # ISO code of the amounts
covariates: list[str] = []  # CUPED covariates
segments: list[str] = []  # segment columns
portrait_columns: list[str] = []  # more portrait dimensions
churn_attributes: list[str] = []  # churn features
summary_path: str = "reports/latest/02_check.summary.json"  # where the summary goes
output_dir: str = "reports/latest"  # exports
"""


@pytest.fixture(scope="module")
def notebooks(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("notebooks")
    cell = {
        "cell_type": "code",
        "execution_count": None,
        "id": "params",
        "metadata": {"tags": ["parameters"]},
        "outputs": [],
        "source": PARAMETERS.splitlines(keepends=True),
    }
    nb = {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (folder / "02_check.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """The sample tables, whose fans carry a team's own columns (``history`` numeric, ``region`` text,
    ``womens`` the same for everyone) and a ``fan_attributes`` table with ``pre_spend``."""
    tables = sample_tables(n_fans=60, seed=3)
    rng = np.random.default_rng(3)
    fans = tables["fans"]
    fans["history"] = rng.gamma(2.0, 50.0, len(fans)).round(2)
    fans["region"] = rng.choice(["north", "south", "east"], len(fans))
    fans["womens"] = 1
    tables["fan_attributes"] = fans[["fan_id"]].assign(pre_spend=rng.gamma(1.5, 30.0, len(fans)).round(2))
    return frames_to_duckdb(tables, tmp_path_factory.mktemp("attributes") / "fans.duckdb")


@pytest.fixture
def no_kernel(monkeypatch):
    def refuse(*_, **__):
        raise AssertionError("a kernel was started")

    monkeypatch.setattr(suite, "ensure_kernel", refuse)
    monkeypatch.setattr(execute_report, "execute_notebook", refuse)


@pytest.fixture
def earlier(tmp_path) -> Path:
    """A reports folder whose dated folder already holds a report: nothing in it may change."""
    folder = tmp_path / "reports" / DATE
    folder.mkdir(parents=True)
    (folder / "02_check.html").write_text("<p>the report of this morning</p>", encoding="utf-8")
    (folder / "02_check.summary.json").write_text('{"status": "ok"}', encoding="utf-8")
    return tmp_path / "reports"


def _state(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def refused(capsys, earlier: Path, notebooks: Path, source: Path, *overrides: str) -> str:
    """`fanlib run` with ``overrides``: exit code 2, no traceback, the dated folder as it was; the message."""
    before = _state(earlier)
    argv = ["all", "--source", str(source), "--out", str(earlier), "--date", DATE, "--notebooks", str(notebooks)]
    for o in overrides:
        argv += ["-p", o]
    code = cli.run_main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and _state(earlier) == before
    return err


# --------------------------------------------------------------------------- covariates


def test_a_covariate_that_is_no_column_is_refused_naming_it(capsys, no_kernel, earlier, notebooks, source):
    err = refused(capsys, earlier, notebooks, source, "covariates=[pre_orders, histroy]")
    assert "02_check: parameter 'covariates': covariate 'histroy' is not a column of fans or fan_attributes" in err
    assert "the numeric fan columns are" in err and "history" in err and "pre_spend" in err
    assert "did you mean 'history'?" in err and "'pre_orders'" not in err  # a pre-period metric needs no column


def test_a_covariate_that_holds_text_is_refused(capsys, no_kernel, earlier, notebooks, source):
    err = refused(capsys, earlier, notebooks, source, "covariates=[region]")
    assert "02_check: parameter 'covariates': covariate 'region' does not hold numbers" in err, err


def test_numeric_columns_and_pre_period_metrics_are_accepted_as_covariates(no_kernel, tmp_path, notebooks, source):
    argv = ["02", "--source", str(source), "--out", str(tmp_path), "--notebooks", str(notebooks)]
    args = cli.build_parser().parse_args([*argv, "-p", "covariates=[history, pre_spend, pre_orders, womens]"])
    jobs, _, _ = cli.plan(args)
    assert jobs[0].parameters["covariates"] == ["history", "pre_spend", "pre_orders", "womens"]


# --------------------------------------------------------------------------- segments


def test_a_churn_feature_that_is_no_column_is_refused_and_one_that_is_passes(
    capsys, no_kernel, earlier, notebooks, source
):
    err = refused(capsys, earlier, notebooks, source, "churn_attributes=[region, womens, histroy]")
    assert "02_check: parameter 'churn_attributes': churn feature 'histroy' is not a column of fans" in err, err
    assert "'region'" not in err and "'womens'" not in err  # text and constant columns are columns


def test_a_segment_of_one_level_is_refused(capsys, no_kernel, earlier, notebooks, source):
    err = refused(capsys, earlier, notebooks, source, "segments=[region, womens]", "portrait_columns=[womens]")
    assert "02_check: parameter 'segments': segment 'womens': fan attribute 'womens' [one_level]" in err, err
    assert "02_check: parameter 'portrait_columns': portrait dimension 'womens'" in err
    assert "a segment needs at least two" in err and "'region'" not in err


def test_a_segment_that_is_no_column_is_refused(capsys, no_kernel, earlier, notebooks, source):
    err = refused(capsys, earlier, notebooks, source, "segments=[activity_tier, regoin]")
    assert "02_check: parameter 'segments': segment 'regoin' is not a column of fans or fan_attributes" in err, err
    assert "did you mean 'region'?" in err and "built in: activity_tier, channel, tenure, city_tier" in err


def test_the_ab_reports_segments_are_checked_in_the_data(capsys, no_kernel, earlier, source):
    err = refused(capsys, earlier, NOTEBOOKS, source, "02_ab_campaign.segments=[channel, womens]")
    assert "02_ab_campaign: parameter 'segments': segment 'womens': fan attribute 'womens' [one_level]" in err, err


def test_segments_of_a_unit_table_are_the_reports_to_check():
    values = {"unit_table": "units", "segments": ["cohort"], "covariates": ["pre_spend"]}
    assert datacheck.named_columns(values) == {}
    assert datacheck.named_columns({"segments": ["tenure", "cohort"]}) == {"segments": ["cohort"]}


# --------------------------------------------------------------------------- vocabulary and currency


def test_a_vocabulary_onto_an_unknown_channel_is_refused(capsys, no_kernel, earlier, notebooks, source):
    mapping = "mapping={vocabulary: {channel: {Phone: fone, 小程序: wechat}}}"
    err = refused(capsys, earlier, notebooks, source, mapping)
    assert "02_check: parameter 'mapping': the vocabulary maps channel 'Phone' onto 'fone'" in err, err
    assert "小程序" not in err  # mapped onto a built-in code


def test_an_unknown_currency_is_refused(capsys, no_kernel, earlier, notebooks, source):
    err = refused(capsys, earlier, notebooks, source, "currency=RMB")
    assert "02_check: parameter 'currency' must be one of CNY, USD, GBP, EUR, HKD" in err and "got 'RMB'" in err, err


def test_the_command_line_exits_2_on_a_bad_segment(earlier, notebooks, source):
    before = _state(earlier)
    cmd = [sys.executable, "-m", "fanlib", "run", "all", "--source", str(source), "--out", str(earlier)]
    cmd += ["--date", DATE, "--notebooks", str(notebooks), "-p", "segments=[womens]"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 2, proc.stderr
    assert "parameter 'segments': segment 'womens'" in proc.stderr and "Traceback" not in proc.stderr
    assert _state(earlier) == before


# --------------------------------------------------------------------------- the overview's targets


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("kpis: {}\nmilestones: []\n", "'programme_start' is missing"),
        (
            "programme_start: 2025-01-01\nkpis: {members: {report: 01_fan_profiling, key: members}}\nmilestones: []\n",
            "KPI 'members' lacks unit",
        ),
        (
            "programme_start: 2025-01-01\nkpis: {}\nmilestones: [{month: 3, targets: {members: 100}}]\n",
            "milestone month 3 targets unknown KPIs members",
        ),
        ("programme_start: 2025-01-01\nkpis: [members]\nmilestones: []\n", "is not laid out as a targets file"),
        ("programme_start: [2025\n", "is not YAML"),
    ],
)
def test_a_targets_file_the_overview_cannot_read_stops_the_run(
    capsys, no_kernel, earlier, small_demo_path, tmp_path, text, fragment
):
    targets = tmp_path / "targets.yaml"
    targets.write_text(text, encoding="utf-8")
    err = refused(capsys, earlier, NOTEBOOKS, small_demo_path, f"05_overview.targets_path={targets}")
    assert "05_overview: parameter 'targets_path': " in err and fragment in err, err


def test_a_missing_targets_file_is_named(capsys, no_kernel, earlier, small_demo_path, tmp_path):
    err = refused(capsys, earlier, NOTEBOOKS, small_demo_path, f"targets_path={tmp_path / 'nope.yaml'}")
    assert f"05_overview: parameter 'targets_path': no targets file at {tmp_path / 'nope.yaml'}" in err, err


def test_the_readmes_targets_example_is_a_targets_file_the_run_accepts(no_kernel, tmp_path, small_demo_path):
    from fanlib.executive import REPORTS
    from fanlib.executive.targets import load_targets

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Your own targets: `params/targets.yaml`", 1)[1].split("\n## ", 1)[0]
    example = tmp_path / "targets.yaml"
    example.write_text(section.split("```yaml\n", 1)[1].split("```", 1)[0], encoding="utf-8")
    targets = load_targets(example)
    assert {k.report for k in targets.kpis.values()} <= set(REPORTS) and targets.milestones
    argv = ["05", "--source", str(small_demo_path), "--out", str(tmp_path / "r"), "--notebooks", str(NOTEBOOKS)]
    jobs, _, _ = cli.plan(cli.build_parser().parse_args([*argv, "-p", f"targets_path={example}"]))
    assert jobs[0].parameters["targets_path"] == str(example)


def test_the_parameter_listing_says_what_a_column_parameter_may_name():
    from fanlib.reports.paramcheck import rule_text

    assert rule_text("segments") == "one of activity_tier, channel, tenure, city_tier or a fan column of 2+ values"
    assert rule_text("covariates").startswith("one of pre_converted, pre_revenue, pre_orders")
    assert rule_text("covariates").endswith(" or a numeric fan column")
    assert rule_text("portrait_columns") == "a fan column of 2+ values"
