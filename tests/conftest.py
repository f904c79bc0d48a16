"""Shared test fixtures: demo data sets built once per test session (per xdist worker)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

# Test modules live in folders that mirror the package; the shared helpers stay here.
sys.path.insert(0, str(Path(__file__).resolve().parent))

# Matplotlib must never try a display in tests.
os.environ.setdefault("MPLBACKEND", "Agg")

#: The default demo size and seed: the same ones `make report` uses.
DEMO_FANS = 20_000
DEMO_SEED = 7


def _build(folder: Path, n_fans: int, seed: int) -> Path:
    from fanlib.demo import generate

    out = folder / "demo.duckdb"
    generate(out, n_fans=n_fans, seed=seed, progress=False)
    return out


@pytest.fixture(scope="session")
def demo_path(tmp_path_factory) -> Path:
    """The default-size demo (20,000 fans, seed 7), for planted-truth recovery tests."""
    return _build(tmp_path_factory.mktemp("demo"), DEMO_FANS, DEMO_SEED)


@pytest.fixture(scope="session")
def demo_truth(demo_path) -> dict:
    return json.loads(demo_path.with_name("demo_truth.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def small_demo_path(tmp_path_factory) -> Path:
    """A small demo (2,000 fans) for fast end-to-end runs."""
    return _build(tmp_path_factory.mktemp("small_demo"), 2_000, 11)


#: The report date of the shared suite runs.
SUITE_DATE = "2025-12-31"


def demo_campaign(source: Path) -> dict:
    """The A/B report's difference-in-differences parameters for a demo file: the campaign the generator
    planted in it (``demo_truth.json`` beside it). params/default.yaml names only `make demo`'s campaign."""
    import datetime as dt

    info = json.loads(Path(source).with_name("demo_truth.json").read_text(encoding="utf-8"))["did_campaign"]
    return {"did_communities": list(info["communities"]), "did_start": dt.date.fromisoformat(info["start"])}


def demo_campaign_args(source: Path) -> list[str]:
    """`fanlib run` options that point the A/B report at the campaign planted in the demo file ``source``."""
    p = demo_campaign(source)
    return [
        "-p",
        f"02_ab_campaign.did_communities=[{', '.join(p['did_communities'])}]",
        "-p",
        f"02_ab_campaign.did_start={p['did_start'].isoformat()}",
    ]


def run_suite(out: Path, source: Path, *extra: str):
    """`fanlib run all` on ``source`` into ``out``/SUITE_DATE, with the demo's own campaign when ``source``
    is a demo file; the finished process."""
    import subprocess
    import sys

    campaign = demo_campaign_args(source) if Path(source).with_name("demo_truth.json").exists() else []
    cmd = [
        sys.executable,
        "-m",
        "fanlib",
        "run",
        "all",
        "--source",
        str(source),
        "--out",
        str(out),
        "--date",
        SUITE_DATE,
        "--jobs",
        "2",
        *campaign,
        *extra,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="session")
def suite_run(tmp_path_factory, small_demo_path):
    """One `fanlib run all` of the real report notebooks on the small demo with the default
    params (Chinese), shared by the end-to-end tests: ``(dated folder, finished process)``."""
    out = tmp_path_factory.mktemp("suite") / "reports"
    proc = run_suite(out, small_demo_path)
    return out / SUITE_DATE, proc


#: Module-scoped fixtures that run `fanlib run` several times or a whole analysis (tens of seconds), by the
#: test file that defines them: the tests of that file that share one go to one worker (see below).
SHARED_MODULE_FIXTURES = {
    "test_runner.py": "runs",
    "test_status.py": "runs",
    "test_sentiment_monitor.py": "demo_report",
}


def _group(item, name: str) -> None:
    """Put ``item`` in the xdist group ``name``: the mark, and the ``@name`` suffix of its node id that
    ``--dist loadgroup`` schedules by. pytest-xdist 3.8 sets that suffix on ``item._nodeid``, which pytest 9.2
    no longer reads (node ids live in ``item._id``), so its groups would be ignored: set it here."""
    item.add_marker(pytest.mark.xdist_group(name))
    if getattr(item.config.option, "loadgroup", False) and "@" not in item.nodeid:
        if hasattr(item, "_id"):
            from _pytest.nodes import coerce_node_id

            item._id = coerce_node_id(f"{item.nodeid}@{name}")
        else:
            item._nodeid = f"{item.nodeid}@{name}"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    # Under `pytest -n --dist loadgroup`, every test that reads the shared suite run goes to one
    # worker, so the whole report suite is rendered once rather than once per worker; likewise the
    # tests of one file that share one of its expensive module-scoped fixtures.
    for item in items:
        names = getattr(item, "fixturenames", ())
        if "suite_run" in names:
            _group(item, "suite")
            continue
        shared = SHARED_MODULE_FIXTURES.get(item.path.name)
        if shared in names:
            _group(item, f"{item.path.stem}-{shared}")
