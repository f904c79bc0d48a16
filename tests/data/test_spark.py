"""The full report suite on Spark (PySpark in local mode) through ibis: `make test-spark`.

Skipped unless ``FANLIB_TEST_SPARK=1`` (set by `make test-spark`, which also
installs the ``spark`` extra); Spark needs Java 17.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.skipif(
        os.environ.get("FANLIB_TEST_SPARK") != "1", reason="Spark runs under `make test-spark` (FANLIB_TEST_SPARK=1)"
    ),
    pytest.mark.slow,
]


@pytest.fixture(scope="module")
def spark_source(small_demo_path, tmp_path_factory):
    pytest.importorskip("pyspark", reason="PySpark is not installed: pip install -e '.[spark]'")
    if not shutil.which("java"):
        pytest.skip("Spark needs Java 17: apt-get install openjdk-17-jre-headless")
    from fanlib.data.load import to_parquet

    folder = tmp_path_factory.mktemp("spark_tables")
    to_parquet(small_demo_path, folder)
    return f"spark://local{folder}"


def test_spark_source_matches_duckdb(spark_source, small_demo_path):
    from fanlib.data.fandata import connect

    with connect(spark_source) as fd, connect(small_demo_path) as duck:
        assert fd.con.name == "pyspark"
        assert fd.row_counts() == duck.row_counts()
        assert fd.fingerprint() == duck.fingerprint()


def test_the_full_suite_runs_on_spark(spark_source, tmp_path):
    out = tmp_path / "reports"
    started = time.perf_counter()
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "fanlib",
            "run",
            "all",
            "--source",
            spark_source,
            "--out",
            str(out),
            "--date",
            "2026-01-05",
            "--jobs",
            "2",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=1800,
    )
    took = time.perf_counter() - started
    day = out / "2026-01-05"
    seconds = {}
    for path in sorted(day.glob("*manifest.json")):
        m = json.loads(path.read_text())
        seconds[m["report"]] = m.get("durations", {}).get("total_s")
    print(f"\nSpark suite (--jobs 2) in {took:.0f} s; per report: {seconds}")
    assert run.returncode == 0, run.stderr[-3000:]
    assert len(seconds) == 6 and not list(day.glob("*.failed.*"))
    for name in seconds:
        summary = json.loads((day / f"{name}.summary.json").read_text())
        assert summary.get("status") == "ok" and not summary.get("sections_failed"), (name, summary)
