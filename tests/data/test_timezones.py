"""Every source kind reads timestamps in one declared zone: naive ones as they are, zoned ones converted.

The orders' times are written in several forms (naive text, ``Z``, ``+00:00``, ``+08:00``, ``-0500``,
TIMESTAMPTZ columns); each kind must give the same local times.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from helpers import frames_to_duckdb, sample_tables

from fanlib.data.fandata import connect
from fanlib.data.validate import main as validate_main
from fanlib.reports import notebooks as N
from fanlib.reports import params as P

NOW = "2026-01-01 00:00:00"
ROOT = Path(__file__).resolve().parents[2]
ZONES = ["Asia/Shanghai", "UTC", "America/New_York"]


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return sample_tables(n_fans=24, seed=11)


def instants(tables) -> pd.Series:
    """The orders' times as instants: the sample's naive times are China Standard Time."""
    return tables["orders"]["order_time"].dt.tz_localize("Asia/Shanghai")


def texts(tables) -> pd.Series:
    """The orders' times as text, cycling through a naive form and four zoned forms."""
    t = instants(tables)
    utc, ny = t.dt.tz_convert("UTC"), t.dt.tz_convert("America/New_York")
    forms = [
        t.dt.strftime("%Y-%m-%d %H:%M:%S"),  # naive: wall-clock time in the declared zone
        utc.dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
        utc.dt.strftime("%Y-%m-%d %H:%M:%S+00:00"),
        t.dt.strftime("%Y-%m-%d %H:%M:%S+08:00"),
        ny.dt.strftime("%Y-%m-%dT%H:%M:%S%z"),  # -0500 / -0400
    ]
    return pd.Series([forms[i % len(forms)].iloc[i] for i in range(len(t))], index=t.index)


def expected_from_texts(tables, zone: str) -> pd.Series:
    """Naive rows keep their wall-clock time; zoned rows are the instant's wall-clock time in ``zone``."""
    t = instants(tables)
    converted = t.dt.tz_convert(zone).dt.tz_localize(None)
    naive = tables["orders"]["order_time"]
    return pd.Series([naive.iloc[i] if i % 5 == 0 else converted.iloc[i] for i in range(len(t))], index=t.index)


def expected_from_instants(tables, zone: str) -> pd.Series:
    return instants(tables).dt.tz_convert(zone).dt.tz_localize(None)


def order_times(fd) -> dict[str, pd.Timestamp]:
    got = fd.execute(fd.orders.select("order_id", "order_time"))
    assert str(got["order_time"].dtype).startswith("datetime64") and got["order_time"].dt.tz is None
    return dict(zip(got["order_id"], got["order_time"], strict=True))


def assert_times(fd, tables, expected: pd.Series) -> None:
    want = dict(zip(tables["orders"]["order_id"], expected, strict=True))
    got = order_times(fd)
    wrong = {k: (got[k], want[k]) for k in want if got[k] != want[k]}
    assert not wrong, f"{len(wrong)} of {len(want)} order times differ, e.g. {list(wrong.items())[:3]}"


def with_text_times(tables) -> dict[str, pd.DataFrame]:
    out = dict(tables)
    out["orders"] = tables["orders"].assign(order_time=texts(tables))
    return out


def with_aware_times(tables) -> dict[str, pd.DataFrame]:
    out = dict(tables)
    out["orders"] = tables["orders"].assign(order_time=instants(tables).dt.tz_convert("UTC"))
    return out


# --------------------------------------------------------------------------- one test per source kind


@pytest.mark.parametrize("zone", ZONES)
def test_csv_folder_with_z_and_offsets(tmp_path, tables, zone):
    folder = tmp_path / "csv"
    folder.mkdir()
    for name, frame in with_text_times(tables).items():
        frame.to_csv(folder / f"{name}.csv", index=False)
    with connect(folder, now=NOW, timezone=zone) as fd:
        assert_times(fd, tables, expected_from_texts(tables, zone))


@pytest.mark.parametrize("zone", ZONES)
def test_parquet_folder_with_timestamptz(tmp_path, tables, zone):
    folder = tmp_path / "pq"
    folder.mkdir()
    for name, frame in with_aware_times(tables).items():
        frame.to_parquet(folder / f"{name}.parquet", index=False)
    with connect(folder, now=NOW, timezone=zone) as fd:
        assert_times(fd, tables, expected_from_instants(tables, zone))


@pytest.mark.parametrize("zone", ZONES)
def test_excel_workbook_with_offset_strings(tmp_path, tables, zone):
    path = tmp_path / "fans.xlsx"
    with pd.ExcelWriter(path, engine="openpyxl") as xl:
        for name, frame in with_text_times(tables).items():
            frame.to_excel(xl, sheet_name=name, index=False)
    with connect(path, now=NOW, timezone=zone) as fd:
        assert_times(fd, tables, expected_from_texts(tables, zone))


@pytest.mark.parametrize("zone", ZONES)
def test_duckdb_file_with_timestamptz(tmp_path, tables, zone):
    path = tmp_path / "tz.duckdb"
    frames_to_duckdb(with_aware_times(tables), path, session_timezone="UTC")
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("SELECT typeof(order_time) FROM orders LIMIT 1").fetchone()[0] == "TIMESTAMP WITH TIME ZONE"
    with connect(path, now=NOW, timezone=zone) as fd:
        assert_times(fd, tables, expected_from_instants(tables, zone))


@pytest.fixture(scope="module")
def pg_url() -> str:
    url = os.environ.get("FANLIB_TEST_PG_URL")
    if not url:
        pytest.skip(
            "FANLIB_TEST_PG_URL is not set: start a server with `bash .ci/postgres.sh start ENV_FILE` "
            "and source ENV_FILE"
        )
    return url


@pytest.mark.postgres
@pytest.mark.parametrize("kind", ["timestamptz", "text"])
def test_postgres_timestamptz_and_offset_text(pg_url, tables, kind):
    import ibis

    frames = with_aware_times(tables) if kind == "timestamptz" else with_text_times(tables)
    schema = f"tz_{uuid.uuid4().hex[:10]}"
    con = ibis.connect(pg_url)
    con.raw_sql(f'CREATE SCHEMA "{schema}"')
    try:
        for name, frame in frames.items():
            con.create_table(name, frame, database=schema)
        url = f"{pg_url}{'&' if '?' in pg_url else '?'}schema={schema}"
        for zone in ZONES:
            with connect(url, now=NOW, timezone=zone) as fd:
                if kind == "timestamptz":
                    assert fd.plans["orders"].raw.order_time.type().timezone is not None
                    assert_times(fd, tables, expected_from_instants(tables, zone))
                else:
                    assert_times(fd, tables, expected_from_texts(tables, zone))
    finally:
        con.raw_sql(f'DROP SCHEMA "{schema}" CASCADE')
        con.disconnect()


# --------------------------------------------------------------------------- the zone itself


def test_now_defaults_to_now_in_the_declared_zone(tmp_path, tables):
    folder = tmp_path / "pq"
    folder.mkdir()
    for name, frame in tables.items():
        frame.to_parquet(folder / f"{name}.parquet", index=False)
    with connect(folder, timezone="Pacific/Kiritimati") as ahead, connect(folder, timezone="Pacific/Niue") as behind:
        # UTC+14 and UTC-11: a day and a bit apart
        assert (ahead.now - behind.now) > pd.Timedelta(hours=24)
        assert "times in Pacific/Kiritimati" in ahead.describe_source()


def test_an_unknown_zone_is_a_clear_error(tmp_path, tables, capsys):
    folder = tmp_path / "pq"
    folder.mkdir()
    for name, frame in tables.items():
        frame.to_parquet(folder / f"{name}.parquet", index=False)
    with pytest.raises(ValueError, match="'Asia/Shangai' is not an IANA time zone name.*'Asia/Shanghai'"):
        connect(folder, timezone="Asia/Shangai")
    assert validate_main([str(folder), "--now", NOW, "--timezone", "+08:00"]) == 2
    err = capsys.readouterr().err
    assert "'+08:00' is not an IANA time zone name" in err and "Traceback" not in err


def test_validate_cli_reads_the_declared_zone(tmp_path, tables, capsys):
    folder = tmp_path / "csv"
    folder.mkdir()
    frames = with_text_times(tables)
    late = frames["orders"].copy()
    # 2025-12-31 20:00 in UTC is 2026-01-01 04:00 in China: after NOW only when read in China time.
    late.loc[late.index[0], "order_time"] = "2025-12-31T20:00:00Z"
    frames["orders"] = late
    for name, frame in frames.items():
        frame.to_csv(folder / f"{name}.csv", index=False)
    assert validate_main([str(folder), "--now", NOW, "--timezone", "UTC"]) == 0
    assert validate_main([str(folder), "--now", NOW]) == 2
    out = capsys.readouterr().out
    assert "orders.order_time [not_in_future, 1 failing row]" in out and "'2025-12-31T20:00:00Z'" in out


def test_every_report_declares_the_timezone_parameter():
    for nb in N.discover(ROOT / "notebooks"):
        declared = P.read_parameters(nb)
        assert "timezone" in declared, nb.name
        assert declared["timezone"].default == "Asia/Shanghai" and declared["timezone"].help, nb.name
        assert "timezone=timezone" in nb.read_text(encoding="utf-8"), f"{nb.name} does not pass it to connect"


def test_run_refuses_an_unknown_zone_before_any_kernel_starts(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "fanlib",
            "run",
            "00_data_overview",
            "-p",
            "timezone=Asia/Pekin",
            "--out",
            str(tmp_path / "reports"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert result.returncode == 2, result.stderr
    assert "'timezone'" in result.stderr and "'Asia/Pekin' is not an IANA time zone name" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "reports").exists() or not any((tmp_path / "reports").rglob("*.html"))
