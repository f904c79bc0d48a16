"""The same loader and aggregations against a real PostgreSQL server.

Start one with `bash .ci/postgres.sh start ENV_FILE && source ENV_FILE`; the
tests use ``FANLIB_TEST_PG_URL`` and skip with the reason when it is unset or
the server cannot be reached.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pandas as pd
import pytest
from helpers import frames_to_duckdb, sample_tables

from fanlib.data.errors import ContractError
from fanlib.data.fandata import connect

pytestmark = pytest.mark.postgres

NOW = "2026-01-01 00:00:00"


@pytest.fixture(scope="module")
def pg_url() -> str:
    url = os.environ.get("FANLIB_TEST_PG_URL")
    if not url:
        pytest.skip(
            "FANLIB_TEST_PG_URL is not set: start a server with `bash .ci/postgres.sh start ENV_FILE` "
            "and source ENV_FILE"
        )
    import ibis

    try:
        ibis.connect(url).disconnect()
    except Exception as e:
        pytest.skip(f"the PostgreSQL server at FANLIB_TEST_PG_URL cannot be reached: {type(e).__name__}: {e}")
    return url


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return sample_tables(n_fans=300, seed=9)


def load_schema(url: str, tables: dict[str, pd.DataFrame]) -> str:
    """Load tables into a fresh schema; returns a URL whose default schema it is."""
    import ibis

    schema = f"t_{uuid.uuid4().hex[:10]}"
    con = ibis.connect(url)
    con.raw_sql(f'CREATE SCHEMA "{schema}"')
    for name, frame in tables.items():
        con.create_table(name, frame, database=schema)
    con.disconnect()
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}schema={schema}"


def drop_schema(url: str, schema_url: str) -> None:
    import ibis

    schema = schema_url.rsplit("schema=", 1)[1]
    con = ibis.connect(url)
    con.raw_sql(f'DROP SCHEMA "{schema}" CASCADE')
    con.disconnect()


@pytest.fixture(scope="module")
def pg_source(pg_url, tables):
    url = load_schema(pg_url, tables)
    yield url
    drop_schema(pg_url, url)


@pytest.fixture(scope="module")
def duck(tmp_path_factory, tables):
    path = tmp_path_factory.mktemp("pgcmp") / "same.duckdb"
    fd = connect(frames_to_duckdb(tables, path), now=NOW)
    yield fd
    fd.close()


def events_per_type_and_day(fd) -> pd.DataFrame:
    ev = fd.events
    day = ev.event_time.date().name("day")
    out = fd.execute(ev.group_by([ev.event_type, day]).aggregate(n=ev.count()), label="events per type and day")
    return out.assign(day=pd.to_datetime(out["day"])).sort_values(["event_type", "day"]).reset_index(drop=True)


def revenue_per_channel(fd) -> pd.DataFrame:
    orders, fans = fd.orders, fd.fans
    joined = orders.join(fans, orders.fan_id == fans.fan_id)
    cents = (joined.amount_cny * 100).round().cast("int64")  # exact integers: no float-order noise
    agg = joined.group_by(joined.channel).aggregate(
        orders=joined.count(), cents=cents.sum(), buyers=joined.fan_id.nunique()
    )
    return fd.execute(agg, label="revenue per channel").sort_values("channel").reset_index(drop=True)


def test_postgres_source_loads_and_validates(pg_source, duck):
    fd = connect(pg_source, now=NOW)
    assert fd.con.name == "postgres"
    assert fd.row_counts() == duck.row_counts()
    assert "postgres database" in fd.describe_source()
    assert "***" in fd.describe_source() and os.environ["FANLIB_TEST_PG_URL"] not in fd.describe_source()
    # Same data, same fingerprint, whichever engine holds it.
    assert fd.fingerprint() == duck.fingerprint()
    fd.close()


def test_aggregations_match_duckdb_exactly(pg_source, duck):
    fd = connect(pg_source, now=NOW)
    fd.materialized.clear()
    pd.testing.assert_frame_equal(events_per_type_and_day(fd), events_per_type_and_day(duck), check_dtype=False)
    pd.testing.assert_frame_equal(revenue_per_channel(fd), revenue_per_channel(duck), check_dtype=False)
    # Only the small aggregates came back, never the events table.
    n_events = fd.row_counts()["events"]
    assert all(rows < n_events / 2 for _, rows in fd.materialized)
    fd.close()


def test_contract_problems_are_found_in_postgres(pg_url, tables):
    bad = {k: v.copy() for k, v in tables.items() if k != "comments"}
    bad["orders"].loc[[0, 1], "amount_cny"] = -3.0
    bad["events"].loc[[2, 3, 4], "fan_id"] = "ghost"
    fans = bad["fans"].astype({"join_time": "string"})  # a text column to parse in the engine
    fans.loc[5, "join_time"] = "not a date"
    bad["fans"] = fans
    url = load_schema(pg_url, bad)
    try:
        with pytest.raises(ContractError) as err:
            connect(url, now=NOW)
        found = {(p.table, p.column, p.check): p.failing_rows for p in err.value.problems}
        assert found == {
            ("orders", "amount_cny", "min_value"): 2,
            ("events", "fan_id", "foreign_key"): 3,
            ("fans", "join_time", "parse"): 1,
        }
        examples = {p.check: p.examples for p in err.value.problems}
        assert examples["parse"] == [{"fan_id": bad["fans"].fan_id[5], "join_time": "not a date"}]
        assert "***" in str(err.value)  # the password never appears in the report
    finally:
        drop_schema(pg_url, url)


def test_impossible_text_dates_are_a_clear_problem_not_a_crash(pg_url, tables):
    bad = {k: v.copy() for k, v in tables.items()}
    fans = bad["fans"].astype({"join_time": "string"})
    fans.loc[0, "join_time"] = "2025-02-30"  # looks like a date, but PostgreSQL cannot cast it
    bad["fans"] = fans
    url = load_schema(pg_url, bad)
    try:
        with pytest.raises(ContractError) as err:
            connect(url, now=NOW)
        (problem,) = err.value.problems
        assert (problem.table, problem.check) == ("fans", "engine")
        assert "2025-02-30" in problem.detail
    finally:
        drop_schema(pg_url, url)


def test_ci_script_starts_a_fresh_server_and_removes_it(tmp_path):
    """`.ci/postgres.sh` from nothing: a new cluster on loopback, reachable, then gone."""
    if not (glob.glob("/usr/lib/postgresql/*/bin/pg_ctl") or shutil.which("pg_ctl")):
        pytest.skip("PostgreSQL is not installed here (as root, .ci/postgres.sh would install it)")
    script = Path(__file__).resolve().parents[2] / ".ci" / "postgres.sh"
    env_file = tmp_path / "pg.env"
    start = subprocess.run(["bash", str(script), "start", str(env_file)], capture_output=True, text=True)
    assert start.returncode == 0, start.stderr
    exports = dict(line.removeprefix("export ").split("=", 1) for line in env_file.read_text().splitlines())
    url, folder = exports["FANLIB_TEST_PG_URL"], Path(exports["FANLIB_TEST_PG_DIR"])
    try:
        assert url.startswith("postgresql://fanlib:") and "@127.0.0.1:" in url
        assert url.split("@")[0].split(":")[-1] not in start.stdout  # the password is not printed
        import ibis

        con = ibis.connect(url)
        assert con.raw_sql("SELECT 1").fetchall() == [(1,)]
        con.disconnect()
    finally:
        stop = subprocess.run(["bash", str(script), "stop", str(env_file)], capture_output=True, text=True)
    assert stop.returncode == 0, stop.stderr
    assert not folder.exists()


@pytest.mark.slow
def test_the_full_suite_runs_unchanged_on_postgres(pg_url, small_demo_path, tmp_path):
    """`fanlib load` the small demo into PostgreSQL, then `fanlib run all --source postgresql://…`:
    every report succeeds with every section, the same notebooks as on DuckDB."""
    import json
    import sys
    from urllib.parse import urlsplit, urlunsplit

    from fanlib.data.load import to_postgres

    schema = f"suite_{uuid.uuid4().hex[:8]}"
    counts = to_postgres(small_demo_path, pg_url, schema=schema)
    # As the README advises: the password in PGPASSWORD (or ~/.pgpass), never in the source URL, which
    # the reports' parameters, executed notebooks and manifests record.
    parts = urlsplit(pg_url)
    password = parts.password
    bare = urlunsplit(parts._replace(netloc=f"{parts.username}@{parts.hostname}:{parts.port}"))
    source = f"{bare}{'&' if '?' in bare else '?'}schema={schema}"
    env = dict(os.environ, PGPASSWORD=password)
    try:
        with connect(f"{pg_url}{'&' if '?' in pg_url else '?'}schema={schema}") as fd, connect(small_demo_path) as duck:
            assert fd.row_counts() == counts == duck.row_counts()
            assert fd.fingerprint() == duck.fingerprint()
        out = tmp_path / "reports"
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "fanlib",
                "run",
                "all",
                "--source",
                source,
                "--out",
                str(out),
                "--date",
                "2026-01-05",
                "--jobs",
                "2",
            ],
            capture_output=True,
            text=True,
            timeout=900,
            cwd=Path(__file__).resolve().parents[2],
            env=env,
        )
        assert run.returncode == 0, run.stderr[-3000:]
        day = out / "2026-01-05"
        manifests = sorted(day.glob("*.manifest.json"))
        assert len(manifests) == 6 and not list(day.glob("*.failed.*"))
        for path in manifests:
            m = json.loads(path.read_text())
            assert m["status"] == "ok" and m["source"]["value"] == source and m["source"]["fingerprint"], m["report"]
            summary = json.loads((day / f"{m['report']}.summary.json").read_text())
            # A guarded section that failed on this engine would show here, not as a failed report.
            assert summary.get("status") == "ok" and not summary.get("sections_failed"), (m["report"], summary)
        leaks = [p.name for p in day.rglob("*") if p.is_file() and password.encode() in p.read_bytes()]
        assert not leaks, f"the password appears in {leaks}"
    finally:
        drop_schema(pg_url, source)
