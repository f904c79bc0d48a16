"""Portraits on a team's own columns: any declared fan column (an extra column of fans, a column of
fan_attributes) by name, categories as they are, numbers in quantile bins; a wrong name is said plainly."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from helpers import frames_to_duckdb
from profiling_tinydata import AS_OF, frames

from fanlib.data.fandata import connect
from fanlib.present.i18n import messages
from fanlib.profiling import analyse, portraits

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "01_fan_profiling.ipynb"


def tiny() -> dict[str, pd.DataFrame]:
    """The tiny tables with their all-empty text columns typed as text (DuckDB reads a column of None as NULL)."""
    t = frames()
    t["fans"] = t["fans"].astype({"city": "string"})
    t["orders"] = t["orders"].astype({"campaign_id": "string"})
    return t


def _params(**changes) -> dict:
    """The notebook's parameters (its first cell), for the tiny table's one week."""
    ns: dict = {}
    exec(nbformat.read(NOTEBOOK, as_version=4).cells[0].source, ns)
    names = [line.split(":")[0] for line in ns["__annotations__"]]
    params = {n: ns[n] for n in names}
    params.update(
        as_of=pd.Timestamp(AS_OF).date(),
        rfm_window_days=7,
        kpi_window_days=7,
        layer_period_days=7,
        layer_min_present_days=1.0,
        n_bootstrap=2,
        export=False,
    )
    params.update(changes)
    return params


@pytest.fixture()
def own_columns(tmp_path) -> Path:
    """The tiny table with an extra fans column (``womens``, a flag) and a fan_attributes table
    (``history``: a pre-period spend, numeric; ``region``: categorical; ``flat``: one value)."""
    t = tiny()
    fans = t["fans"].assign(womens=[1, 1, 0, 1, 0, 0, 1, 0, 1, 1])
    attrs = pd.DataFrame(
        {
            "fan_id": fans.fan_id,
            "history": [5.0, 12.0, 30.0, 41.0, 55.0, 60.0, 72.0, 90.0, 120.0, 400.0],
            "region": ["north", "south", "north", "east", "south", "north", "east", "north", "south", "east"],
            "flat": ["same"] * 10,
        }
    )
    return frames_to_duckdb({**t, "fans": fans, "fan_attributes": attrs}, tmp_path / "own.duckdb")


def test_any_declared_column_is_a_portrait(own_columns):
    fd = connect(str(own_columns), validate=False)
    result = analyse(fd, _params(portrait_columns=["womens", "history", "region"], lang="en"))
    assert "portraits" not in result.errors, result.errors.get("portraits")
    by_dim = {d: (title, dist, ordered) for d, title, dist, ordered in result.portraits}
    assert list(by_dim)[:6] == list(portraits.DIMENSIONS) and list(by_dim)[6:] == ["womens", "history", "region"]
    # F10 joined after the analysis day: nine fans. Expected figures from plain pandas.
    joined = pd.DataFrame(frames()["fans"]).query("join_time <= '2025-03-09 23:59:59'").fan_id
    assert len(joined) == 9
    region = by_dim["region"][1].set_index("category").fans.to_dict()
    assert region == {"north": 4, "south": 3, "east": 2}
    womens = by_dim["womens"][1].set_index("category").fans.to_dict()
    assert womens == {"1": 5, "0": 4}  # two values: kept as they are, not binned
    title, hist, ordered = by_dim["history"]
    assert title == "history" and ordered
    assert list(hist.category.str[:2]) == ["Q1", "Q2", "Q3", "Q4"]  # the bins in their order
    assert hist.fans.sum() == 9 and hist.fans.tolist() == [3, 2, 2, 2]
    summary = result.summary
    assert summary["portraits"]["region"][0] == {"category": "north", "fans": 4, "share": pytest.approx(4 / 9)}
    assert [p["category"] for p in summary["portraits"]["history"]][0].startswith("Q1 ≤ ")
    # the own columns are compared between fan classes and communities too
    assert any(f.startswith("region:") for f in result.comparison_findings)


def test_a_portrait_column_that_is_not_there_is_said_naming_the_columns_there_are(own_columns):
    fd = connect(str(own_columns), validate=False)
    for lang in ("en", "zh"):
        result = analyse(fd, _params(portrait_columns=["womens", "nope"], lang=lang))
        T = messages("fan_profiling", lang)
        assert T("sec_portraits") in result.summary["sections_failed"]
        text = result.errors["portraits"].text(T)
        assert "nope" in text and "history" in text and "region" in text
    result = analyse(fd, _params(portrait_columns=["flat"], lang="en"))
    assert "fewer than two values" in result.errors["portraits"].text(messages("fan_profiling", "en"))


def test_the_notebook_shows_the_own_columns(own_columns, tmp_path):
    import IPython.display
    import matplotlib

    matplotlib.use("Agg")
    shown: list[str] = []
    nb = nbformat.read(NOTEBOOK, as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code"]
    ns: dict = {}
    exec(cells[0].source, ns)
    ns.update(_params(portrait_columns=["region", "history"], lang="en", export=True))
    ns.update(source=str(own_columns), summary_path=str(tmp_path / "s.json"), output_dir=str(tmp_path))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(IPython.display, "display", lambda *objs, **_: shown.extend(str(o) for o in objs))
        import matplotlib.pyplot as plt

        titles = []
        mp.setattr(plt.Axes, "set_title", lambda self, t, *a, **k: titles.append(t))
        for cell in cells[1:]:
            exec(cell.source, ns)
        plt.close("all")
    assert "region" in titles and "history" in titles
    summary = json.loads((tmp_path / "s.json").read_text(encoding="utf-8"))
    assert set(summary["portraits"]) >= {"region", "history", "gender"}
