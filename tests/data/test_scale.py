"""At scale the events table stays in the engine: no report pulls it into Python.

The whole suite runs with ``fanlib.data.audit`` wrapping every ibis door into Python
(in the runner and in every kernel), and the log of what came back is checked
against the size of the events table.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fanlib.data.audit import read_log, sitecustomize_source

ROOT = Path(__file__).resolve().parents[2]
REPORTS = ("00_data_overview", "01_fan_profiling", "02_ab_campaign", "03_retention", "04_sentiment", "05_overview")
RAW_EVENT_COLUMNS = {"event_time", "event_type", "content_id"}
EXAMPLE_ROWS = 100


def _audited_env(tmp_path: Path) -> tuple[dict, Path]:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(sitecustomize_source(), encoding="utf-8")
    log = tmp_path / "materialised.jsonl"
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])),
        FANLIB_AUDIT_LOG=str(log),
    )
    return env, log


def test_the_audit_sees_every_door(tmp_path):
    """Whatever way a result leaves the engine, its rows are logged; a raw table pull shows up."""
    env, log = _audited_env(tmp_path)
    code = """
import ibis
con = ibis.duckdb.connect()
con.raw_sql("CREATE TABLE t AS SELECT range AS fan_id, range % 7 AS day FROM range(5000)")
t = con.table("t")
t.execute()                                               # the whole table, through execute
con.to_pyarrow(t.group_by("day").aggregate(n=t.count()))  # 7 rows
t.count().execute()                                       # a scalar
"""
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    entries = read_log(log)
    got = [(e["method"], e["rows"]) for e in entries]
    assert ("execute", 5000) in got and ("to_pyarrow", 7) in got and ("execute", 1) in got
    assert {e["pid"] for e in entries} == {entries[0]["pid"]}
    full = [e for e in entries if e["rows"] == 5000]
    assert full and set(full[0]["columns"]) == {"fan_id", "day"}


@pytest.mark.slow
def test_no_report_pulls_the_events_table(small_demo_path, tmp_path):
    """The full suite on the small demo: every result any process took from the engine is small."""
    from fanlib.data.fandata import connect

    with connect(small_demo_path, validate=False) as fd:
        counts = fd.row_counts()
    env, log = _audited_env(tmp_path)
    out = tmp_path / "reports"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "fanlib",
            "run",
            "all",
            "--source",
            str(small_demo_path),
            "--out",
            str(out),
            "--date",
            "2026-01-05",
            "--jobs",
            "2",
        ],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    manifests = {p.name.split(".")[0]: json.loads(p.read_text()) for p in (out / "2026-01-05").glob("*manifest.json")}
    assert set(manifests) == set(REPORTS), run.stderr[-3000:]
    entries = read_log(log)
    # The runner and each report's kernel all went through the audit.
    assert len({e["pid"] for e in entries}) >= 1 + len(REPORTS)
    assert len(entries) > 100
    limit = counts["events"] // 20
    biggest = max(entries, key=lambda e: e["rows"] or 0)
    assert biggest["rows"] < limit, f"a result of {biggest['rows']:,} rows came back: {biggest}"
    assert all(e["rows"] is not None for e in entries), [e for e in entries if e["rows"] is None]
    # A few example rows (validation shows failing rows) are fine; a pull of raw events is not.
    raw = [e for e in entries if RAW_EVENT_COLUMNS <= set(e["columns"]) and e["rows"] > EXAMPLE_ROWS]
    assert not raw, f"raw event rows came back: {raw[:3]}"


def test_streamed_batches_are_counted_once_read(tmp_path):
    import pyarrow as pa

    from fanlib.data.audit import _counted_reader

    batches = [pa.record_batch({"fan_id": list(range(n))}) for n in (300, 200)]
    reader = pa.RecordBatchReader.from_batches(batches[0].schema, iter(batches))
    log = tmp_path / "log.jsonl"
    counted = _counted_reader(reader, log, {"method": "to_pyarrow_batches", "columns": ["fan_id"]})
    assert read_log(log) == []  # nothing is logged before the rows are read
    assert counted.read_all().num_rows == 500
    assert read_log(log) == [{"method": "to_pyarrow_batches", "columns": ["fan_id"], "rows": 500}]


def test_duckdb_memory_is_capped_and_spills_to_a_private_folder(small_demo_path, monkeypatch):
    """Two reports side by side must not each claim DuckDB's default of 80% of the machine."""
    from fanlib.data.fandata import connect

    def setting(fd, name):
        return fd.con.raw_sql(f"SELECT current_setting('{name}')").fetchall()[0][0]

    monkeypatch.delenv("FANLIB_DUCKDB_MEMORY_LIMIT", raising=False)
    with connect(small_demo_path, validate=False) as fd:
        assert setting(fd, "memory_limit") == "2.3 GiB"  # DUCKDB_MEMORY_LIMIT, 2.5 GB
        spill = Path(setting(fd, "temp_directory"))
        assert spill.is_dir() and spill.name.startswith("fanlib-spill-")
    assert not spill.exists()  # removed on close
    monkeypatch.setenv("FANLIB_DUCKDB_MEMORY_LIMIT", "1GB")
    with connect(small_demo_path, validate=False) as fd:
        assert setting(fd, "memory_limit") == "953.6 MiB"
