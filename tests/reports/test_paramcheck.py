"""What parameter values mean, checked before any kernel starts: bounds, choices, sources, dates in the data."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import pytest

from fanlib.data.asof import date_problem
from fanlib.reports import cli, datacheck, paramcheck, suite
from fanlib.reports import execute as execute_report
from fanlib.reports import notebooks as N
from fanlib.reports import params as P
from fanlib.reports.params import ParamError

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"


@pytest.fixture
def no_kernel(monkeypatch):
    """Fail the test if the run gets as far as starting a kernel."""

    def refuse(*_, **__):
        raise AssertionError("a kernel was started")

    monkeypatch.setattr(suite, "ensure_kernel", refuse)
    monkeypatch.setattr(execute_report, "execute_notebook", refuse)


def run(capsys, *argv: str) -> tuple[int, str, float]:
    t0 = time.perf_counter()
    code = cli.run_main([*argv, "--notebooks", str(NOTEBOOKS), "--params", str(ROOT / "params" / "default.yaml")])
    return code, capsys.readouterr().err, time.perf_counter() - t0


# --------------------------------------------------------------------------- the rules themselves


def test_every_number_and_fixed_choice_in_the_reports_has_a_rule():
    decl = P.declarations(N.discover(NOTEBOOKS))
    free_text = {
        "source",
        "summary_path",
        "output_dir",
        "targets_path",
        "model_dir",
        "experiment_id",
        "control",
        "unit_table",
        "unit_variant_column",
        "unit_fan_column",
        "unit_outcomes",
        "unit_covariates",
        "unit_time_column",
        "did_communities",
        "portrait_columns",  # column names, checked against the data by the report
        "wait_for",
        "timezone",  # an IANA zone name, checked by fanlib.data.contract.check_timezone
        *datacheck.COLUMN_PARAMS,  # fan columns, checked against the data by fanlib.reports.datacheck
    }
    unruled = []
    for stem, params in decl.items():
        for name, p in params.items():
            if (
                p.type.kind in ("int", "float")
                or (p.type.kind == "list" and p.type.item in ("int", "float"))
                or (p.type.kind in ("str", "list") and name not in free_text)
            ):
                if name not in paramcheck.RULES:
                    unruled.append(f"{stem}.{name}")
    assert not unruled, f"give these parameters a rule in fanlib/reports/paramcheck.py: {unruled}"


def test_every_report_default_keeps_its_own_rules():
    decl = P.declarations(N.discover(NOTEBOOKS))
    for stem, params in decl.items():
        assert paramcheck.value_problems(stem, {n: p.default for n, p in params.items()}) == [], stem


@pytest.mark.parametrize(
    "name, value, bound",
    [
        ("alpha", 5.0, "0 < alpha < 1"),
        ("alpha", 0.0, "0 < alpha < 1"),
        ("srm_alpha", 1.0, "0 < srm_alpha < 1"),
        ("rfm_window_days", -30, "rfm_window_days > 0"),
        ("churn_days", 0, "churn_days > 0"),
        ("train_cutoffs", 0, "train_cutoffs >= 1"),
        ("lang", "fr", "one of zh, en"),
        ("correction", "bonferroni", "one of holm, bh, none"),
        ("freq", "week", "one of day, hour"),
        ("cohort_period", "year", "one of day, week, month"),
        ("retention_days", [1, -7], "retention_days > 0"),
        ("metrics", ["conversion", "gmv"], "one of conversion"),
        ("planned_split", {"control": 0.5, "treatment": 0}, "planned_split > 0"),
    ],
)
def test_a_value_out_of_its_rule_names_the_parameter_and_the_bound(name, value, bound):
    problems = paramcheck.value_problems("nb", {name: value})
    assert len(problems) == 1 and f"parameter {name!r} must be" in problems[0] and bound in problems[0], problems


def test_rules_between_parameters_of_one_report():
    problems = paramcheck.value_problems(
        "02",
        {
            "metrics": ["conversion"],
            "primary_metric": "active",
            "control": "ctl",
            "planned_split": {"a": 0.5, "b": 0.5},
        },
    )
    assert any("'primary_metric' must be one of the report's 'metrics'" in p for p in problems)
    assert any("must name the control variant 'ctl'" in p for p in problems)
    problems = paramcheck.value_problems("04", {"start": date(2025, 6, 1), "as_of": date(2025, 5, 1)})
    assert problems == ["04: parameter 'start' (2025-06-01) must not be after 'as_of' (2025-05-01)"]
    problems = paramcheck.value_problems("01", {"early_days": 60, "horizon_days": 30})
    assert "'horizon_days' (30) must be greater than 'early_days' (60)" in problems[0]


def test_params_listing_shows_each_rule(capsys):
    assert cli.params_main(["02_ab"]) == 0
    out = capsys.readouterr().out
    assert "allowed" in out.splitlines()[1]
    line = next(line for line in out.splitlines() if line.strip().startswith("alpha "))
    assert "0 < alpha < 1" in line and "significance level" in line


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("2026-02-30", "that day does not exist (February 2026 has 28 days)"),
        ("2025-13-01", "there is no month 13"),
        ("yesterday", "not a date; expected YYYY-MM-DD"),
        ("2025-6-1", "expected YYYY-MM-DD"),
    ],
)
def test_date_messages_say_what_is_wrong(text, fragment):
    assert fragment in date_problem(text, "--date")
    assert date_problem("2024-02-29", "--date") is None


# --------------------------------------------------------------------------- `fanlib run` stops at once


@pytest.mark.parametrize(
    "override, fragment",
    [
        (
            "alpha=5",
            "02_ab_campaign: parameter 'alpha' must be greater than 0 and less than 1 (0 < alpha < 1); got 5.0",
        ),
        ("srm_alpha=0", "parameter 'srm_alpha' must be greater than 0 and less than 1 (0 < srm_alpha < 1); got 0.0"),
        (
            "rfm_window_days=-30",
            "01_fan_profiling: parameter 'rfm_window_days' must be greater than 0 (rfm_window_days > 0); got -30",
        ),
        ("03.churn_days=0", "03_retention: parameter 'churn_days' must be greater than 0 (churn_days > 0); got 0"),
        ("baseline_days=-1", "04_sentiment: parameter 'baseline_days' must be greater than 0 (baseline_days > 0)"),
        ("lang=fr", "05_overview: parameter 'lang' must be one of zh, en; got 'fr'"),
        ("correction=bonferroni", "parameter 'correction' must be one of holm, bh, none; got 'bonferroni'"),
        ("freq=week", "04_sentiment: parameter 'freq' must be one of day, hour; got 'week'"),
        ("cohort_by=signup", "parameter 'cohort_by' must be one of join, first_order"),
    ],
)
def test_a_bad_parameter_stops_the_run_before_any_kernel(
    capsys, no_kernel, tmp_path, small_demo_path, override, fragment
):
    code, err, took = run(capsys, "all", "--source", str(small_demo_path), "--out", str(tmp_path / "r"), "-p", override)
    assert code == 2 and fragment in err, err
    assert "Traceback" not in err and not (tmp_path / "r").exists()
    assert took < 10, took


def test_one_mistake_shared_by_every_report_is_one_line(capsys, no_kernel, tmp_path, small_demo_path):
    code, err, _ = run(capsys, "all", "--source", str(small_demo_path), "--out", str(tmp_path / "r"), "-p", "lang=fr")
    assert code == 2 and err.count("must be one of zh, en") == 1
    assert "00_data_overview, 01_fan_profiling, 02_ab_campaign, 03_retention, 04_sentiment, 05_overview: " in err


def test_a_missing_source_is_named_at_once(capsys, no_kernel, tmp_path):
    missing = tmp_path / "nowhere" / "fans.duckdb"
    code, err, took = run(capsys, "02_ab_campaign", "--source", str(missing), "--out", str(tmp_path / "r"))
    assert code == 2 and f"02_ab_campaign: parameter 'source': data source not found: {missing}" in err, err
    assert not (tmp_path / "r").exists() and took < 10


def test_a_source_of_a_kind_fanlib_does_not_read_is_refused(capsys, no_kernel, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("hello", encoding="utf-8")
    code, err, _ = run(capsys, "00", "--source", str(empty), "--out", str(tmp_path / "r"))
    assert code == 2 and "the folder holds no table files" in err and str(empty) in err, err
    csv = tmp_path / "fans.csv"
    csv.write_text("fan_id\nF1\n", encoding="utf-8")
    code, err, _ = run(capsys, "00", "--source", str(csv), "--out", str(tmp_path / "r"))
    assert code == 2 and "not a kind of data source fanlib reads" in err and "give the folder" in err, err


def test_a_database_url_is_not_taken_for_a_path():
    assert paramcheck.source_problem("postgresql://user:pw@localhost:1/fans") is None
    assert paramcheck.source_problem("spark://local/tmp/nowhere") is None


def test_as_of_outside_the_data_is_refused_naming_the_data_range(capsys, no_kernel, tmp_path, small_demo_path):
    from fanlib.data.fandata import connect

    with connect(str(small_demo_path), validate=False) as fd:
        first, last = (d.date() for d in fd.date_range())
    for as_of, side in (
        ("2019-01-01", "before the data begins"),
        (str(last + timedelta(days=1)), "after the data ends"),
    ):
        code, err, took = run(
            capsys, "03", "--source", str(small_demo_path), "--out", str(tmp_path / "r"), "-p", f"as_of={as_of}"
        )
        assert code == 2, err
        assert (
            f"03_retention: parameter 'as_of' ({as_of}) is {side}: it must lie within the data, from {first} "
            f"to {last}" in err
        ), err
        assert took < 10
    code, err, _ = run(
        capsys, "04", "--source", str(small_demo_path), "--out", str(tmp_path / "r"), "-p", "start=2019-01-01"
    )
    assert code == 2 and "04_sentiment: parameter 'start' (2019-01-01) is before the data begins" in err, err


def test_run_date_that_does_not_exist(capsys, no_kernel, tmp_path):
    code, err, _ = run(capsys, "00", "--date", "2026-02-30", "--out", str(tmp_path / "r"))
    assert code == 2 and "--date '2026-02-30': that day does not exist (February 2026 has 28 days)" in err, err


def test_the_command_line_refuses_a_missing_source_within_seconds(tmp_path):
    t0 = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "fanlib",
            "run",
            "02_ab_campaign",
            "--source",
            "data/nope.duckdb",
            "--out",
            str(tmp_path / "r"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    took = time.perf_counter() - t0
    assert proc.returncode == 2, proc.stderr
    assert "data source not found: data/nope.duckdb (looked for " in proc.stderr and "Traceback" not in proc.stderr
    assert took < 15 and not (tmp_path / "r").exists()


def test_validate_now_says_which_format_it_wants(capsys):
    from fanlib.data import validate

    assert validate.main(["data/nope.duckdb", "--now", "yesterday"]) == 2
    err = capsys.readouterr().err
    assert "--now 'yesterday': not a date; expected YYYY-MM-DD or YYYY-MM-DD HH:MM[:SS]" in err


def test_check_collects_every_problem_at_once(small_demo_path):
    with pytest.raises(ParamError) as info:
        paramcheck.check(
            {"a": {"source": str(small_demo_path), "alpha": 2.0, "lang": "de"}, "b": {"source": "missing.duckdb"}}
        )
    text = str(info.value)
    assert "a: parameter 'alpha'" in text and "a: parameter 'lang'" in text and "b: parameter 'source'" in text
