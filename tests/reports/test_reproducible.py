"""The same data and parameters give the same summaries and exports, run after run."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fanlib.profiling import BehaviourSegments


def _fans(n: int = 1200, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    group = rng.integers(0, 3, n)
    return pd.DataFrame(
        {
            "fan_id": [f"F{i:05d}" for i in range(n)],
            "interactions_per_active_day": rng.gamma(2.0, 1.0 + group, n),
            "interaction_share": rng.beta(2 + group, 3, n),
            "orders_per_30d": rng.poisson(0.5 + group, n).astype(float),
            "spend_per_30d": rng.gamma(1.5, 40.0 * (1 + group), n),
        }
    )


def test_segments_do_not_depend_on_the_order_the_engine_returns_fans_in():
    X = _fans()
    shuffled = X.sample(frac=1.0, random_state=5).reset_index(drop=True)
    a = BehaviourSegments(n_bootstrap=6, fit_size=800, sample_size=500).fit(X)
    b = BehaviourSegments(n_bootstrap=6, fit_size=800, sample_size=500).fit(shuffled)
    assert a.ari_mean_ == b.ari_mean_ and (a.ari_ == b.ari_).all()
    assert a.k_ == b.k_ and a.scores_.equals(b.scores_)
    # labels stay one per input row, in the caller's order
    la = pd.Series(a.labels_, index=X["fan_id"])
    lb = pd.Series(b.labels_, index=shuffled["fan_id"])
    assert (la.sort_index() == lb.sort_index()).all()
    pd.testing.assert_frame_equal(a.centroids_, b.centroids_)


# ---- whole reports, run twice -------------------------------------------------------------------

import re  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from fanlib.present.notebook import lift_timings  # noqa: E402

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
REPORTS = ["00_data_overview", "01_fan_profiling", "02_ab_campaign", "03_retention", "04_sentiment", "05_overview"]


def _summary_bytes(path: Path) -> tuple[bytes, dict]:
    """The summary as the runner writes it (timings lifted out), without its generated_at line and with
    the times of the runs it quotes masked."""
    raw, timings = lift_timings(path.read_bytes())
    raw = re.sub(rb'\n\s*"generated_at": "[^"]*",', b"", raw)
    # outside a run the overview names the run each figure comes from: the other reports' own times
    return re.sub(rb'"(from_run|run)": "\d{4}-\d\d-\d\d \d\d:\d\d"', rb'"\1": "<time>"', raw), timings


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, small_demo_path):
    """Every report notebook run twice, in this process, on the small demo: {report: (run 1 dir, run 2 dir)}."""
    from inprocess import render_notebook

    mp = pytest.MonkeyPatch()
    runs = {}
    try:
        for name in REPORTS:
            dirs = []
            for run in ("a", "b"):
                out = (
                    tmp_path_factory.mktemp(f"run_{run}", numbered=False)
                    if name == REPORTS[0]
                    else tmp_path_factory.getbasetemp() / f"run_{run}"
                )
                render_notebook(
                    mp,
                    NOTEBOOKS / f"{name}.ipynb",
                    source=str(small_demo_path),
                    summary_path=str(out / f"{name}.summary.json"),
                    output_dir=str(out / f"{name}_files"),
                )
                dirs.append(out)
            runs[name] = tuple(dirs)
    finally:
        mp.undo()
    return runs


@pytest.mark.slow
@pytest.mark.parametrize("name", REPORTS)
def test_two_runs_write_the_same_summary(two_runs, name):
    a, b = two_runs[name]
    (first, timings), (second, _) = (_summary_bytes(d / f"{name}.summary.json") for d in (a, b))
    assert first == second, _first_difference(first, second)
    assert b'"seconds"' not in first and b'"timings"' not in first
    if name == "04_sentiment":
        assert set(timings) == {"scoring_s"}


@pytest.mark.slow
def test_two_runs_write_the_same_exports(two_runs):
    for name, (a, b) in two_runs.items():
        files = sorted(p.relative_to(a) for p in a.glob(f"{name}_files/*") if p.is_file())
        for rel in files:
            assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    assert any(p.suffix == ".xlsx" for p in (two_runs["01_fan_profiling"][0] / "01_fan_profiling_files").iterdir())


def _first_difference(a: bytes, b: bytes) -> str:
    la, lb = a.decode().splitlines(), b.decode().splitlines()
    for i, (x, y) in enumerate(zip(la, lb, strict=False)):
        if x != y:
            return f"line {i + 1}: {x.strip()!r} != {y.strip()!r}"
    return f"lengths {len(la)} and {len(lb)}"


def test_timings_are_lifted_out_of_the_summary_and_floats_are_stable(tmp_path):
    import json

    from fanlib.present.notebook import Summary

    s = Summary("04_sentiment", as_of="2025-12-31")
    s["figures"] = {"share": 0.1498184283209831, "tags": {"b", "a", "c"}}
    s.timing("scoring_s", 1.23456)
    path = s.write(tmp_path / "s.json")
    raw, timings = lift_timings(path.read_bytes())
    assert timings == {"scoring_s": 1.235}
    data = json.loads(raw)
    assert "timings" not in data and data["figures"] == {"share": 0.1498184283, "tags": ["a", "b", "c"]}
    # a summary without timings is passed through unchanged
    assert lift_timings(raw) == (raw, {})
    # the last bits a parallel sum varies in do not reach the file
    s["figures"]["share"] = 0.1498184283209832
    assert json.loads(s.write(tmp_path / "t.json").read_bytes())["figures"]["share"] == 0.1498184283


def test_the_at_risk_workbook_is_the_same_whenever_it_is_written(tmp_path, monkeypatch):
    import datetime as dt
    import zipfile

    from fanlib.retention import churn

    lst = pd.DataFrame(
        {
            "fan_id": ["F1", "F2"],
            "p_churn": [0.91, 0.82],
            "tier": ["core", "ordinary"],
            "last_active": pd.to_datetime(["2025-12-01", "2025-11-20"]),
            "spend_90": [120.5, 0.0],
        }
    )
    real_time = zipfile.time.time
    monkeypatch.setattr(zipfile.time, "time", lambda: real_time() - 86_400)  # as if written a day earlier
    first = churn.write_at_risk(lst, tmp_path / "a", created=dt.date(2025, 12, 31))
    monkeypatch.undo()
    second = churn.write_at_risk(lst, tmp_path / "b", created=dt.date(2025, 12, 31))
    assert Path(first["xlsx"]).read_bytes() == Path(second["xlsx"]).read_bytes()
    assert pd.read_excel(first["xlsx"]).shape == lst.shape
