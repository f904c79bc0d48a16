"""``ab.analyse`` runs the report's sections, holds a failing section's banner for its place on the page,
and builds the summary (partial or failed) in the package."""

from __future__ import annotations

from pathlib import Path

import nbformat

from fanlib import ab
from fanlib.data.fandata import connect

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "02_ab_campaign.ipynb"


def _defaults() -> dict:
    """The notebook's parameters with their default values."""
    code = [c for c in nbformat.read(NOTEBOOK, as_version=4).cells if c.cell_type == "code"]
    ns: dict = {}
    exec(compile(code[0].source, "parameters", "exec"), ns)
    return {k: v for k, v in ns.items() if not k.startswith("__") and k != "date"}


def test_a_failing_section_keeps_its_banner_for_the_page_and_makes_the_report_partial(small_demo_path):
    params = {**_defaults(), "lang": "en", "segments": ["no_such_dimension"], "sequential": False}
    result = ab.analyse(connect(str(small_demo_path)), params)
    title = result.T("h_segments")
    text, level = result.failure(title)
    assert level == "warning" and "no_such_dimension" in text  # a data problem, said in the report's words
    assert result.summary["status"] == "partial" and result.summary["sections_failed"] == [title]
    assert result.readout is not None and result.segments == [] and result.lifts is not None
    assert result.failure(result.T("h_power")) is None and result.planner is not None
    assert "planner" in result.summary and "experiment" in result.summary and "segments" not in result.summary
    assert result.summary["as_of"] == str(connect(str(small_demo_path)).date_range()[1])


def test_a_source_that_cannot_be_opened_fails_the_summary_and_runs_nothing():
    result = ab.analyse(None, {**_defaults(), "lang": "en"}, source_error=OSError("no such file: x.duckdb"))
    assert result.source_error == "no such file: x.duckdb"
    assert result.summary["status"] == "failed" and result.summary["error"] == "no such file: x.duckdb"
    assert result.readout is None and result.experiments is None and result.failures == {}
    assert result.summary["as_of"] is None and "experiment" not in result.summary
