"""Run a report notebook's code cells in this process (no kernel), collecting what it shows.

Displayed objects and chart texts are gathered so tests can check which language they are in; every
chart is drawn, and a missing glyph is an error.
"""

from __future__ import annotations

import io
import re
import warnings
from pathlib import Path
from typing import Any

import nbformat
import pytest


def render_notebook(
    monkeypatch: pytest.MonkeyPatch, notebook: Path, **params: Any
) -> tuple[list[Any], list[str], dict]:
    """Execute ``notebook`` with ``params`` over its defaults; returns (shown texts, chart texts, namespace)."""
    import IPython.display
    import matplotlib.pyplot as plt

    from fanlib.present import plotting

    shown, charts = [], []

    def display(*objs, **_):
        for o in objs:
            shown.append(getattr(o, "data", None) or str(o))

    def show(fig=None):
        fig = fig or plt.gcf()
        for ax in fig.axes:
            charts.extend([ax.get_title(), ax.get_xlabel(), ax.get_ylabel()])
            charts.extend(t.get_text() for t in ax.get_yticklabels())
            legend = ax.get_legend()
            charts.extend(t.get_text() for t in legend.get_texts()) if legend else None
        with warnings.catch_warnings():
            warnings.filterwarnings("error", message=".*Glyph.*missing")
            fig.savefig(io.BytesIO(), format="png")
        plt.close(fig)

    monkeypatch.setattr(IPython.display, "display", display)
    monkeypatch.setattr(plotting, "show", show)
    nb = nbformat.read(notebook, as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    ns: dict = {}
    exec(compile(code[0], "parameters", "exec"), ns)
    ns.update(params)
    for i, src in enumerate(code[1:], 1):
        exec(compile(src, f"cell {i}", "exec"), ns)
    return shown, [c for c in charts if c], ns


def table_headers(html_parts: list[str]) -> list[str]:
    """The text of every <th> in the displayed HTML tables."""
    return [
        re.sub(r"<[^>]+>", "", h).strip()
        for part in html_parts
        for h in re.findall(r"<th[^>]*>(.*?)</th>", part, flags=re.S)
    ]
