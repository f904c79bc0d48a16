"""The A/B report notebook runs end to end on the demo: SRM banner, withheld verdict, summary JSON."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest
from conftest import demo_campaign

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "02_ab_campaign.ipynb"


def _run(tmp_path, **params):
    import papermill as pm

    out = tmp_path / "out.ipynb"
    pm.execute_notebook(
        str(NOTEBOOK), str(out), parameters=params, kernel_name="fanlib", cwd=str(ROOT), progress_bar=False
    )
    nb = nbformat.read(out, as_version=4)
    texts = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            if o.get("output_type") == "stream":
                texts.append(("stream", o.get("name"), o.get("text", "")))
            for kind in ("text/html", "text/markdown", "text/plain"):
                if kind in o.get("data", {}):
                    texts.append(("data", kind, o["data"][kind]))
    return nb, texts


def test_notebook_is_committed_clean():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert nb.metadata["kernelspec"] == {"name": "fanlib", "display_name": "Python (fanlib)", "language": "python"}
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    for name in (
        'source: str = "data/demo.duckdb"',
        'lang: str = "zh"',
        'summary_path: str = "reports/latest/02_ab_campaign.summary.json"',
        'output_dir: str = "reports/latest"',
    ):
        assert name in code[0].source
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code)
    params = code[0].source
    assert params.index("source:") < params.index("mapping:") < params.index("lang:")


@pytest.mark.slow
def test_notebook_flags_the_planted_srm_and_withholds_the_verdict(tmp_path, demo_path):
    summary_path = tmp_path / "02_ab_campaign.summary.json"
    campaign = demo_campaign(demo_path)
    nb, texts = _run(
        tmp_path,
        source=str(demo_path),
        summary_path=str(summary_path),
        experiment_id="exp_checkin_push",
        sequential=False,
        segments=["tenure"],
        did_communities=campaign["did_communities"],
        did_start=campaign["did_start"].isoformat(),
    )
    html = " ".join(t for _, _, t in texts)
    # the default language is Chinese: red SRM banner, verdict withheld, the DiD caveat
    assert "fanlib-danger" in html and "样本比例失衡" in html
    assert "暂不下结论" in html
    assert "这不是随机实验" in html
    assert not any("Glyph" in t for kind, name, t in texts if kind == "stream")
    assert not any(o.get("output_type") == "error" for c in nb.cells for o in c.get("outputs", []))
    s = json.loads(summary_path.read_text(encoding="utf-8"))
    assert s["verdict"] == "withheld" and s["srm_p_value"] < 0.001
    assert s["experiment"]["srm"]["failed"] is True
    for m in s["experiment"]["metrics"]:
        for key in (
            "metric",
            "variant",
            "absolute",
            "absolute_low",
            "absolute_high",
            "relative",
            "relative_low",
            "relative_high",
            "p_value",
            "p_adjusted",
        ):
            assert key in m
    assert {m["metric"] for m in s["experiment"]["metrics"]} >= {"conversion", "revenue_per_fan"}
    assert s["did"]["not_an_experiment"] is True and s["did"]["treated"] == len(campaign["did_communities"])


@pytest.mark.slow
def test_notebook_explains_bad_input_without_crashing(tmp_path, small_demo_path):
    summary_path = tmp_path / "s.json"
    nb, texts = _run(
        tmp_path,
        source=str(small_demo_path),
        summary_path=str(summary_path),
        lang="en",
        planned_split={"control": 0.5, "variant_b": 0.5},
        did_start=None,
    )
    html = " ".join(t for _, _, t in texts)
    assert "cannot be read out" in html and re.search(r"treatment.*not in\s+the planned split", html)
    assert not any(o.get("output_type") == "error" for c in nb.cells for o in c.get("outputs", []))
    s = json.loads(summary_path.read_text(encoding="utf-8"))
    assert s["status"] == "failed" and "planned split" in s["error"]


def test_the_demo_params_name_the_campaign_planted_in_the_default_demo(demo_path):
    from conftest import DEMO_FANS, DEMO_SEED

    from fanlib.reports.paramvalues import load_params_file

    sections = load_params_file(ROOT / "params" / "demo.yaml")
    assert (DEMO_FANS, DEMO_SEED) == (20_000, 7)  # the size and seed `make demo` uses, as demo.yaml says
    assert sections["02_ab_campaign"] == demo_campaign(demo_path)
    assert "02_ab_campaign" not in load_params_file(ROOT / "params" / "default.yaml")  # own data: no campaign
