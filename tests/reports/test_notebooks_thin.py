"""The report notebooks narrate, call and show; fanlib computes. These rules keep them so."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
MAX_CELL_LINES = 20


def _code(path):
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


def _body(path):
    return [c for c in _code(path) if "parameters" not in c.metadata.get("tags", [])]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_function_or_class_is_defined_in_a_notebook(path):
    found = [
        line for c in _body(path) for line in c.source.splitlines() if re.match(r"\s*(async\s+)?(def|class)\s", line)
    ]
    assert not found, found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_code_cell_is_long_except_the_parameters(path):
    long = [
        (i, len(c.source.splitlines()))
        for i, c in enumerate(_body(path))
        if len(c.source.splitlines()) > MAX_CELL_LINES
    ]
    assert not long, long


def test_each_alias_means_one_module_across_the_notebooks():
    meaning: dict[str, set[str]] = {}
    for path in NOTEBOOKS:
        for c in _code(path):
            for m in re.finditer(r"from fanlib(?:\.(\w+))? import ([^\n(]+)", c.source):
                for part in m.group(2).split(","):
                    bits = part.split(" as ")
                    if len(bits) == 2:
                        module = ".".join(filter(None, ["fanlib", m.group(1), bits[0].strip()]))
                        meaning.setdefault(bits[1].strip(), set()).add(module)
    assert meaning.get("fp") == {"fanlib.present.plotting"}
    assert {a: m for a, m in meaning.items() if len(m) > 1} == {}


def test_no_report_reads_the_demos_planted_truth():
    for path in NOTEBOOKS:
        text = "\n".join(c.source for c in _code(path))
        assert "demo_truth" not in text and "demo_campaign" not in text, path.name
