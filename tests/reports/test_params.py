"""Parameters: declarations parsed from the parameters cell, merging, typing, errors, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pytest

from fanlib.reports import cli
from fanlib.reports import notebooks as N
from fanlib.reports import params as P
from fanlib.reports import paramvalues as V
from fanlib.reports.params import ParamError, ParamType

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

CELL = """from datetime import date, datetime
source: str = "data/demo.duckdb"  # DuckDB file, data folder, Excel workbook or database URL
summary_path: str = "reports/latest/x.summary.json"  # where the summary goes
output_dir: str = "reports/latest"  # exports
as_of: date | None = None  # analysis date; None means the last day in the data
start: datetime = datetime(2025, 1, 1, 8, 30)  # window start
window_days: int = 90  # RFM window in days
alpha: float = 0.05  # significance level
mask_pii: bool = True  # mask phone numbers
channels: list[str] = ["wechat", "douyin"]  # channels
tiers: list[int] = [1, 2]  # city tiers
weights: dict[str, float] = {"wechat": 1}  # channel weights
names: dict[str, str] = {}  # display names
mapping: dict = {}  # column mapping
title: str | None = None  # page title
"""


def write_notebook(folder: Path, name: str, cell_source: str) -> Path:
    nb = {
        "cells": [
            {"cell_type": "markdown", "id": "a", "metadata": {}, "source": [f"# {name}"]},
            {
                "cell_type": "code",
                "id": "b",
                "metadata": {"tags": ["parameters"]},
                "execution_count": None,
                "outputs": [],
                "source": cell_source.splitlines(keepends=True),
            },
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path = folder / f"{name}.ipynb"
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- parsing


def test_parse_every_allowed_annotation_with_help():
    params = P.parse_parameters_cell(CELL, "01_x")
    assert list(params) == [
        "source",
        "summary_path",
        "output_dir",
        "as_of",
        "start",
        "window_days",
        "alpha",
        "mask_pii",
        "channels",
        "tiers",
        "weights",
        "names",
        "mapping",
        "title",
    ]
    assert params["window_days"].type == ParamType("int")
    assert params["window_days"].default == 90
    assert params["window_days"].help == "RFM window in days"
    assert params["as_of"].type == ParamType("date", optional=True)
    assert str(params["as_of"].type) == "date | None"
    assert params["as_of"].help == "analysis date; None means the last day in the data"
    assert params["start"].default == datetime(2025, 1, 1, 8, 30)
    assert params["channels"].type == ParamType("list", "str")
    assert params["tiers"].type == ParamType("list", "int")
    assert str(params["weights"].type) == "dict[str, float]"
    assert params["weights"].default == {"wechat": 1.0} and isinstance(params["weights"].default["wechat"], float)
    assert params["mapping"].type == ParamType("dict")
    assert params["alpha"].default == 0.05
    assert params["mask_pii"].default is True
    assert params["title"].default is None


def test_help_comment_survives_hash_inside_string_and_multiline_default():
    src = (
        'tag: str = "#hashtag"  # the topic # with a hash\n'
        'channels: list[str] = [\n    "wechat",\n    "weibo",\n]  # channels to show\n'
        "plain: int = 3\n"
    )
    params = P.parse_parameters_cell(src)
    assert params["tag"].default == "#hashtag"
    assert params["tag"].help == "the topic # with a hash"
    assert params["channels"].default == ["wechat", "weibo"]
    assert params["channels"].help == "channels to show"
    assert params["plain"].help == ""


@pytest.mark.parametrize(
    "src, fragment",
    [
        ("x: set = 1  # h\n", "not allowed"),
        ("x: list[dict] = []  # h\n", "not allowed"),
        ("x: int | str = 1  # h\n", "only `X | None`"),
        ("x: int = 'ninety'  # h\n", "does not fit int"),
        ("x: int = None  # h\n", "None is not allowed"),
        ("x = 1  # h\n", "only `name: type = default"),
        ("x: int  # h\n", "has no default"),
        ("x: int = len('a')  # h\n", "must be a literal"),
        ("x: int = 1  # h\nx: int = 2  # h\n", "declared twice"),
        ("x: int = (  # h\n", "syntax error"),
    ],
)
def test_malformed_declarations_are_errors(src, fragment):
    with pytest.raises(ParamError) as err:
        P.parse_parameters_cell(src, "09_bad")
    assert fragment in str(err.value)
    assert "09_bad" in str(err.value)


def test_read_parameters_from_test_notebooks():
    params = P.read_parameters(NOTEBOOKS / "02_types.ipynb")
    assert {"source", "summary_path", "output_dir", "as_of", "channels", "weights"} <= set(params)
    assert params["since"].default == datetime(2025, 1, 1, 8, 30)


def test_notebook_without_parameters_cell(tmp_path):
    path = tmp_path / "01_x.ipynb"
    path.write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    with pytest.raises(ParamError, match="no code cell tagged 'parameters'"):
        P.read_parameters(path)


# --------------------------------------------------------------------------- typing


@pytest.mark.parametrize(
    "value, ptype, cli, expected",
    [
        (date(2025, 6, 30), ParamType("date"), False, date(2025, 6, 30)),
        ("2025-06-30", ParamType("date"), False, date(2025, 6, 30)),
        (date(2025, 6, 30), ParamType("datetime"), False, datetime(2025, 6, 30)),
        ("2025-06-30 12:00", ParamType("datetime"), False, datetime(2025, 6, 30, 12)),
        (3, ParamType("float"), False, 3.0),
        ("1e3", ParamType("float"), True, 1000.0),
        ("wechat,douyin", ParamType("list", "str"), True, ["wechat", "douyin"]),
        ("1,2", ParamType("list", "int"), True, [1, 2]),
        ({"a": 1}, ParamType("dict", "float"), False, {"a": 1.0}),
        (None, ParamType("int", optional=True), False, None),
    ],
)
def test_coerce_converts_to_real_types(value, ptype, cli, expected):
    got = P.coerce(value, ptype, from_cli=cli)
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize(
    "value, ptype",
    [
        (True, ParamType("int")),
        (1.5, ParamType("int")),
        ("90", ParamType("int")),  # only the command line may give numbers as text
        (1, ParamType("bool")),
        (123, ParamType("str")),
        ("30/06/2025", ParamType("date")),
        (datetime(2025, 6, 30, 1), ParamType("date")),
        ("wechat", ParamType("list", "str")),
        ([1, "a"], ParamType("list", "int")),
        ({"a": "x"}, ParamType("dict", "float")),
        ({1: 2.0}, ParamType("dict", "float")),
        (None, ParamType("str")),
    ],
)
def test_coerce_rejects_wrong_types(value, ptype):
    with pytest.raises(TypeError):
        P.coerce(value, ptype)


# --------------------------------------------------------------------------- merging


@pytest.fixture()
def suite(tmp_path):
    a = write_notebook(tmp_path, "01_fan_profiling", CELL)
    b = write_notebook(tmp_path, "02_ab_test", CELL.replace("window_days", "lookback_days"))
    notebooks = [a, b]
    return notebooks, P.declarations(notebooks)


def resolve(suite, sections=None, overrides=(), source=None, selected=None):
    notebooks, declared = suite
    return V.resolve_parameters(
        selected or notebooks,
        declared,
        sections or {},
        V.parse_overrides(list(overrides)),
        params_file="params/test.yaml",
        source=source,
    )


def test_precedence_defaults_common_section_p_and_targeted_p(suite):
    sections = {"common": {"alpha": 0.1, "window_days": 30, "channels": ["weibo"]}, "01_fan_profiling": {"alpha": 0.2}}
    out = resolve(suite, sections)
    assert out["01_fan_profiling"]["alpha"] == 0.2  # section beats common
    assert out["02_ab_test"]["alpha"] == 0.1  # common applies to every declaring notebook
    assert out["01_fan_profiling"]["window_days"] == 30
    assert "window_days" not in out["02_ab_test"]  # not declared there: common skips it
    assert out["02_ab_test"]["lookback_days"] == 90  # default kept
    assert out["02_ab_test"]["channels"] == ["weibo"]
    out = resolve(suite, sections, ["alpha=0.3", "02_ab_test.alpha=0.4"])
    assert out["01_fan_profiling"]["alpha"] == 0.3  # -p beats the file
    assert out["02_ab_test"]["alpha"] == 0.4  # targeted -p beats plain -p
    out = resolve(suite, sections, ["02.alpha=0.5"])  # a unique prefix targets a notebook
    assert out["02_ab_test"]["alpha"] == 0.5 and out["01_fan_profiling"]["alpha"] == 0.2


def test_cli_values_are_parsed_as_yaml_into_real_types(suite):
    out = resolve(
        suite,
        overrides=[
            "as_of=2025-06-30",
            "channels=[wechat, xiaohongshu]",
            "weights={a: 1, b: 2.5}",
            "mask_pii=false",
            "start=2025-03-01 09:00:00",
            "tiers=1,3",
            "source=0123",
            "title=null",
            "mapping={fans: {uid: fan_id}}",
        ],
    )
    v = out["01_fan_profiling"]
    assert v["as_of"] == date(2025, 6, 30) and type(v["as_of"]) is date
    assert v["channels"] == ["wechat", "xiaohongshu"]
    assert v["weights"] == {"a": 1.0, "b": 2.5}
    assert v["mask_pii"] is False
    assert v["start"] == datetime(2025, 3, 1, 9)
    assert v["tiers"] == [1, 3]
    assert v["source"] == "0123"  # text stays text (YAML would read an octal 83)
    assert v["title"] is None
    assert v["mapping"] == {"fans": {"uid": "fan_id"}}


def test_source_option_overrides_params(suite):
    out = resolve(suite, {"common": {"source": "a.duckdb"}}, ["source=b.duckdb"], source="c.duckdb")
    assert {v["source"] for v in out.values()} == {"c.duckdb"}


def test_unknown_keys_get_did_you_mean(suite):
    with pytest.raises(ParamError) as err:
        resolve(suite, {"common": {"windw_days": 3}, "01_fan_profiling": {"alpah": 1}}, ["chanels=[a]"])
    text = str(err.value)
    assert "unknown parameter 'windw_days' — did you mean 'window_days'?" in text
    assert "[01_fan_profiling]: unknown parameter 'alpah' — did you mean 'alpha'?" in text
    assert "-p chanels=[a]: unknown parameter 'chanels' — did you mean 'channels'?" in text
    assert len(err.value.problems) == 3


def test_unknown_section_and_notebook_targets(suite):
    with pytest.raises(ParamError) as err:
        resolve(suite, {"01_fan_profilng": {"alpha": 1}}, ["09_nothing.alpha=1", "02_ab_test.window_days=1"])
    text = str(err.value)
    assert "section '01_fan_profilng'" in text and "did you mean '01_fan_profiling'" in text
    assert "'09_nothing' names no notebook" in text
    assert "-p 02_ab_test.window_days=1: unknown parameter 'window_days'" in text


def test_wrong_type_names_notebook_parameter_type_and_value(suite):
    with pytest.raises(ParamError) as err:
        resolve(suite, {"01_fan_profiling": {"window_days": "ninety"}}, ["as_of=yesterday"])
    text = str(err.value)
    assert "01_fan_profiling: parameter 'window_days' expects int, got 'ninety' (str)" in text
    assert "from params/test.yaml [01_fan_profiling]" in text
    assert "parameter 'as_of' expects date | None, got 'yesterday' (str) from -p as_of=yesterday" in text


def test_runner_owned_parameters_cannot_be_set(suite):
    with pytest.raises(ParamError, match="'output_dir' is set by the runner"):
        resolve(suite, overrides=["output_dir=/tmp/x"])


def test_notebook_must_declare_runner_parameters(tmp_path):
    nb = write_notebook(tmp_path, "01_x", "alpha: float = 0.05  # level\n")
    with pytest.raises(ParamError) as err:
        V.resolve_parameters([nb], P.declarations([nb]), {}, [])
    assert "must declare 'summary_path'" in str(err.value) and "must declare 'output_dir'" in str(err.value)


def test_params_file_loading(tmp_path):
    good = tmp_path / "p.yaml"
    good.write_text("common:\n  as_of: 2025-06-30\n01_x:\n", encoding="utf-8")
    assert V.load_params_file(good) == {"common": {"as_of": date(2025, 6, 30)}, "01_x": {}}
    bad = tmp_path / "bad.yaml"
    bad.write_text("common: [1, 2]\n", encoding="utf-8")
    with pytest.raises(ParamError, match="section 'common' must map"):
        V.load_params_file(bad)
    with pytest.raises(ParamError, match="cannot read params file"):
        V.load_params_file(tmp_path / "missing.yaml")


def test_default_params_file_is_valid_yaml():
    sections = V.load_params_file(Path(__file__).parents[2] / "params" / "default.yaml")
    assert "common" in sections


def test_select_names_prefixes_and_all(tmp_path):
    nbs = [write_notebook(tmp_path, n, CELL) for n in ("00_data_overview", "01_fan_profiling", "02_ab_test")]
    assert N.discover(tmp_path) == nbs
    assert N.select(["all"], nbs) == nbs
    assert N.select(["02", "00_data_overview"], nbs) == [nbs[0], nbs[2]]  # suite order
    with pytest.raises(ParamError, match="matches several"):
        N.select(["0"], nbs)
    with pytest.raises(ParamError, match="did you mean '01_fan_profiling'"):
        N.select(["01_fan_profilin_"], nbs)


# --------------------------------------------------------------------------- CLI


def test_params_cli_lists_name_type_default_help(capsys):
    assert cli.params_main(["--notebooks", str(NOTEBOOKS), "02"]) == 0
    out = capsys.readouterr().out
    assert "02_types" in out and "01_chart" not in out
    line = next(line for line in out.splitlines() if line.strip().startswith("weights"))
    assert "dict[str, float]" in line and "{'wechat': 1.0}" in line and "channel weights" in line
    assert "2025-01-01T08:30:00" in out


def test_run_cli_param_errors_exit_2_without_traceback(tmp_path):
    params = tmp_path / "p.yaml"
    params.write_text("common:\n  sourse: x.duckdb\n02_types:\n  window_days: ninety\n", encoding="utf-8")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "fanlib",
            "run",
            "all",
            "--notebooks",
            str(NOTEBOOKS),
            "--params",
            str(params),
            "--out",
            str(tmp_path / "reports"),
            "-p",
            "02_types.as_of=2025-13-45",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "unknown parameter 'sourse' — did you mean 'source'?" in proc.stderr
    assert "02_types: parameter 'window_days' expects int, got 'ninety' (str)" in proc.stderr
    assert "parameter 'as_of' expects date | None" in proc.stderr
    assert not (tmp_path / "reports").exists()  # nothing ran
