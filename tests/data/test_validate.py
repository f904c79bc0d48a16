"""Contract validation: every kind of violation, the error report, pandera agreement, the CLI, speed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from helpers import frames_to_duckdb, sample_tables

from fanlib.data import contract
from fanlib.data.checks import check_summary, problems
from fanlib.data.errors import ContractError, Problem
from fanlib.data.fandata import connect
from fanlib.data.structure import pandera_schema
from fanlib.data.validate import main

NOW = "2026-01-01 00:00:00"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def tables() -> dict[str, pd.DataFrame]:
    return sample_tables(n_fans=30, seed=5)


def failures(tmp_path, tables, **kwargs) -> list[Problem]:
    with pytest.raises(ContractError) as err:
        connect(frames_to_duckdb(tables, tmp_path / "bad.duckdb"), now=NOW, **kwargs)
    return err.value.problems


def only(found: list[Problem], check: str) -> Problem:
    hits = [p for p in found if p.check == check]
    assert len(hits) == 1, found
    return hits[0]


def test_valid_data_passes_every_check(tmp_path, tables):
    fd = connect(frames_to_duckdb(tables, tmp_path / "ok.duckdb"), now=NOW)
    summary = check_summary(fd)
    assert summary["passed"].all()
    checks = set(summary["check"])
    assert {
        "not_null",
        "allowed_values",
        "min_value",
        "max_value",
        "not_in_future",
        "primary_key",
        "foreign_key",
        "not_empty",
    } <= checks
    # One record per table for the FK to fans, per keyed table for the primary key.
    assert set(summary.loc[summary.check == "foreign_key", "table"]) == {"events", "orders", "comments", "assignments"}
    assert set(summary.loc[summary.check == "primary_key", "column"]) == {
        "fan_id",
        "order_id",
        "comment_id",
        "experiment_id, fan_id",
    }
    fd.close()


def test_a_source_without_fans_orders_or_events_is_refused_naming_what_it_has(tmp_path, tables):
    for name in ("fans", "orders", "events"):
        del tables[name]
    p = only(failures(tmp_path, tables), "missing_table")
    assert (p.table, p.column, p.failing_rows) == ("fans", None, None)
    assert "no fans, orders or events" in p.detail
    assert "assignments, comments" in p.detail  # the tables it does have


def test_orders_and_events_are_optional(tmp_path, tables):
    del tables["orders"], tables["events"]
    connect(frames_to_duckdb(tables, tmp_path / "ok.duckdb"), now=NOW).close()


def test_missing_optional_table_is_fine(tmp_path, tables):
    del tables["comments"]
    connect(frames_to_duckdb(tables, tmp_path / "ok.duckdb"), now=NOW).close()


def test_missing_required_column(tmp_path, tables):
    tables["events"] = tables["events"].drop(columns=["event_type"])
    p = only(failures(tmp_path, tables), "missing_column")
    assert (p.table, p.column) == ("events", "event_type")
    assert "fan_id" in p.detail  # lists what the source has


def test_wrong_type(tmp_path, tables):
    tables["orders"]["amount_cny"] = pd.Timestamp("2025-03-01")
    tables["fans"]["join_time"] = True
    found = failures(tmp_path, tables)
    by_table = {p.table: p for p in found if p.check == "dtype"}
    assert set(by_table) == {"orders", "fans"}
    amount = by_table["orders"]
    assert amount.column == "amount_cny" and amount.failing_rows == len(tables["orders"])
    assert len(amount.examples) == 5 and amount.examples[0]["amount_cny"] == "2025-03-01 00:00:00"
    assert "float" in amount.detail and "timestamp" in amount.detail
    assert by_table["fans"].column == "join_time"
    # A table with a wrong-typed column is refused rather than handed out with wrong values.
    fd = connect(tmp_path / "bad.duckdb", validate=False, now=NOW)
    with pytest.raises(ContractError, match="amount_cny"):
        _ = fd.orders
    fd.close()


def test_unparseable_dates_and_numbers(tmp_path, tables):
    fans = tables["fans"].astype({"join_time": "string"})
    fans.loc[[2, 7], "join_time"] = ["2025-02-30", "上周三"]
    tables["fans"] = fans
    orders = tables["orders"].astype({"amount_cny": "string"})
    orders.loc[4, "amount_cny"] = "12元"
    orders.loc[5, "amount_cny"] = "1,234.50"  # thousands separators are fine
    tables["orders"] = orders
    found = failures(tmp_path, tables)
    parse = {(p.table, p.column): p for p in found if p.check == "parse"}
    assert set(parse) == {("fans", "join_time"), ("orders", "amount_cny")}
    dates = parse[("fans", "join_time")]
    assert dates.failing_rows == 2
    assert sorted(e["join_time"] for e in dates.examples) == ["2025-02-30", "上周三"]
    assert parse[("orders", "amount_cny")].failing_rows == 1
    assert parse[("orders", "amount_cny")].examples[0]["amount_cny"] == "12元"


def test_duplicate_primary_keys(tmp_path, tables):
    orders = tables["orders"]
    tables["orders"] = pd.concat([orders, orders.iloc[[3, 3, 8]]], ignore_index=True)
    assignments = tables["assignments"]
    tables["assignments"] = pd.concat([assignments, assignments.iloc[[0]].assign(variant="treatment")])
    found = [p for p in failures(tmp_path, tables) if p.check == "primary_key"]
    by_table = {p.table: p for p in found}
    assert by_table["orders"].column == "order_id"
    assert by_table["orders"].failing_rows == 5  # 3 copies of one id, 2 of another
    assert {e["order_id"] for e in by_table["orders"].examples} == set(orders.order_id.iloc[[3, 8]])
    assert by_table["assignments"].column == "experiment_id, fan_id"
    assert by_table["assignments"].failing_rows == 2
    assert "2 value(s)" in by_table["orders"].detail


def test_rows_from_unknown_fans(tmp_path, tables):
    tables["orders"].loc[[0, 1], "fan_id"] = ["ghost-1", "ghost-2"]
    tables["events"].loc[[5, 6, 7], "fan_id"] = "ghost-3"
    found = [p for p in failures(tmp_path, tables) if p.check == "foreign_key"]
    by_table = {p.table: p for p in found}
    assert set(by_table) == {"orders", "events"}
    assert by_table["orders"].failing_rows == 2 and by_table["events"].failing_rows == 3
    assert [e["fan_id"] for e in by_table["orders"].examples] == ["ghost-1", "ghost-2"]
    assert by_table["orders"].column == "fan_id"


def test_negative_and_missing_amounts(tmp_path, tables):
    tables["orders"].loc[[1, 2], "amount_cny"] = [-10.0, -0.01]
    tables["orders"].loc[[3, 4, 5], "amount_cny"] = np.nan
    found = failures(tmp_path, tables)
    negative = only(found, "min_value")
    assert (negative.table, negative.column, negative.failing_rows) == ("orders", "amount_cny", 2)
    assert sorted(e["amount_cny"] for e in negative.examples) == [-10.0, -0.01]
    missing = only(found, "not_null")
    assert (missing.table, missing.column, missing.failing_rows) == ("orders", "amount_cny", 3)
    assert all(e["amount_cny"] is None for e in missing.examples)


def test_blank_amounts_in_csv_are_missing(tmp_path, tables):
    folder = tmp_path / "csv"
    folder.mkdir()
    for name, frame in tables.items():
        frame.to_csv(folder / f"{name}.csv", index=False)
    text = (folder / "orders.csv").read_text().splitlines()
    cells = text[1].split(",")
    cells[3] = "  "
    text[1] = ",".join(cells)
    (folder / "orders.csv").write_text("\n".join(text) + "\n")
    with pytest.raises(ContractError) as err:
        connect(folder, now=NOW)
    p = only(err.value.problems, "not_null")
    assert (p.column, p.failing_rows) == ("amount_cny", 1)


def test_timestamps_in_the_future(tmp_path, tables):
    tables["events"].loc[[0, 1, 2, 3, 4, 5, 6], "event_time"] = pd.Timestamp("2026-01-01 00:00:01")
    tables["events"].loc[[7], "event_time"] = pd.Timestamp("2026-01-01 00:00:00")  # exactly now is fine
    p = only(failures(tmp_path, tables), "not_in_future")
    assert (p.table, p.column, p.failing_rows) == ("events", "event_time", 7)
    assert len(p.examples) == 5
    assert p.examples[0]["event_time"] == "2026-01-01 00:00:01"
    assert set(p.examples[0]) == {"fan_id", "event_time", "event_type"}


def test_future_defaults_to_now_in_china(tmp_path, tables):
    tables["events"].loc[0, "event_time"] = pd.Timestamp.now() + pd.Timedelta(days=2)
    with pytest.raises(ContractError) as err:
        connect(frames_to_duckdb(tables, tmp_path / "bad.duckdb"))
    assert only(err.value.problems, "not_in_future").failing_rows == 1


def test_an_empty_table(tmp_path, tables):
    # A fans table with no rows is refused (not replaced by fans derived from the orders): an export gone wrong.
    tables["fans"] = tables["fans"].iloc[:0]
    p = only(failures(tmp_path, tables), "not_empty")
    assert (p.table, p.column) == ("fans", None)
    assert "no rows" in str(p.describe())


def test_values_outside_codes_and_ranges(tmp_path, tables):
    tables["fans"].loc[[0, 1], "channel"] = ["tiktok", "WeChat"]
    tables["fans"]["age"] = pd.array([150] + [30] * (len(tables["fans"]) - 1), dtype="Int64")
    found = failures(tmp_path, tables)
    codes = only(found, "allowed_values")
    assert (codes.table, codes.column, codes.failing_rows) == ("fans", "channel", 2)
    assert "wechat" in codes.detail
    too_old = only(found, "max_value")
    assert (too_old.column, too_old.failing_rows, too_old.examples[0]["age"]) == ("age", 1, 150)


def test_error_report_is_readable_and_lists_everything(tmp_path, tables):
    tables["orders"].loc[[1, 2], "amount_cny"] = -5.0
    tables["events"].loc[[5], "fan_id"] = "ghost"
    tables["events"].loc[[6], "event_time"] = pd.NaT
    with pytest.raises(ContractError) as err:
        connect(frames_to_duckdb(tables, tmp_path / "bad.duckdb"), now=NOW)
    text = str(err.value)
    lines = text.splitlines()
    assert lines[0].startswith("The data does not meet the fan data contract")
    assert "3 problems" in lines[0]
    assert any("events.event_time [not_null, 1 failing row]" in line for line in lines)
    assert any("events.fan_id [foreign_key, 1 failing row]" in line for line in lines)
    assert any("orders.amount_cny [min_value, 2 failing rows]" in line for line in lines)
    assert "examples:" in text and "-5.0" in text and "ghost" in text


def test_problems_list_is_empty_for_good_data_and_never_pulls_a_table(tmp_path, tables):
    fd = connect(frames_to_duckdb(tables, tmp_path / "ok.duckdb"), validate=False, now=NOW)
    assert problems(fd) == []
    assert max(rows for _, rows in fd.materialized) <= 1
    fd.close()


def test_examples_and_counts_do_not_pull_failing_rows(tmp_path):
    # 200,000 orders of which half are negative: only counts and 5 examples leave the engine.
    base = sample_tables(n_fans=30, seed=1)
    path = frames_to_duckdb({k: v for k, v in base.items() if k != "orders"}, tmp_path / "big.duckdb")
    con = duckdb.connect(str(path))
    con.execute("""
        CREATE TABLE orders AS
        SELECT 'O' || i AS order_id, 'F' || lpad(CAST(i % 30 AS VARCHAR), 5, '0') AS fan_id,
               TIMESTAMP '2025-03-01' + to_seconds(i) AS order_time,
               CASE WHEN i % 2 = 0 THEN -1.0 ELSE 10.0 END AS amount_cny
        FROM range(200000) t(i)""")
    con.close()
    fd = connect(path, validate=False, now=NOW)
    negative = only(problems(fd), "min_value")
    assert negative.failing_rows == 100_000 and len(negative.examples) == 5
    assert max(rows for _, rows in fd.materialized) <= 5
    fd.close()


def test_pandera_schema_agrees_with_the_engine_checks(tmp_path, tables):
    """The pandera schema derived from the contract flags the same columns and checks."""
    import pandera.errors as pe

    tables["orders"].loc[[1, 2], "amount_cny"] = -5.0
    tables["orders"].loc[[3], "source"] = "offline"
    tables["orders"].loc[[4], "order_time"] = pd.Timestamp("2027-01-01")
    tables["orders"].loc[[5], "order_id"] = tables["orders"].order_id.iloc[6]
    fd = connect(frames_to_duckdb(tables, tmp_path / "bad.duckdb"), validate=False, now=NOW)
    ours = {(p.column, p.check) for p in problems(fd)}
    with pytest.raises(pe.SchemaErrors) as err:
        pandera_schema("orders", now=NOW).validate(fd.orders, lazy=True)
    theirs = set()
    for e in err.value.schema_errors:
        if e.reason_code == pe.SchemaErrorReason.DUPLICATES:
            theirs.add(("order_id", "primary_key"))
        else:
            theirs.add((e.schema.name, e.check.name))
    assert (
        ours
        == theirs
        == {
            ("amount_cny", "min_value"),
            ("source", "allowed_values"),
            ("order_time", "not_in_future"),
            ("order_id", "primary_key"),
        }
    )
    fd.close()


def test_pandera_schema_covers_the_contract():
    for name, table in contract.TABLES.items():
        schema = pandera_schema(name)
        assert list(schema.columns) == table.column_names
        for col in table.columns:
            assert schema.columns[col.name].nullable == col.nullable


# --------------------------------------------------------------------------- speed


def test_validating_a_million_events_pulls_only_counts(tmp_path):
    base = sample_tables(n_fans=1000, seed=2)
    path = frames_to_duckdb({k: v for k, v in base.items() if k != "events"}, tmp_path / "m.duckdb")
    con = duckdb.connect(str(path))
    con.execute("""
        CREATE TABLE events AS
        SELECT 'F' || lpad(CAST(i % 1000 AS VARCHAR), 5, '0') AS fan_id,
               TIMESTAMP '2025-01-01' + to_seconds(i % 25000000) AS event_time,
               (['view', 'like', 'share', 'comment'])[1 + i % 4] AS event_type
        FROM range(1000000) t(i)""")
    con.close()
    fd = connect(path, now=NOW)
    assert fd.row_counts()["events"] == 1_000_000
    assert max(rows for _, rows in fd.materialized) <= 1
    fd.close()


def test_demo_validation_pulls_only_counts(demo_path):
    # Validation speed is measured in benchmarks/; here: every check runs in the engine.
    fd = connect(demo_path)
    assert max(rows for _, rows in fd.materialized) <= 1  # only counts left the engine
    assert fd.row_counts()["fans"] == 20_000
    fd.close()


# --------------------------------------------------------------------------- CLI


def run_cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "fanlib", "validate", *args],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )


def test_cli_ok_prints_row_counts(tmp_path, tables, capsys):
    path = frames_to_duckdb(tables, tmp_path / "ok.duckdb")
    assert main([str(path), "--now", NOW]) == 0
    out = capsys.readouterr().out
    assert out.startswith("OK")
    assert f"{len(tables['events']):,} rows" in out


def test_cli_reports_problems_without_traceback_and_exits_2(tmp_path, tables):
    tables["orders"].loc[[1, 2], "amount_cny"] = -5.0
    path = frames_to_duckdb(tables, tmp_path / "bad.duckdb")
    result = run_cli(str(path), "--now", NOW)
    assert result.returncode == 2
    assert "Traceback" not in result.stdout + result.stderr
    assert "orders.amount_cny [min_value, 2 failing rows]" in result.stdout


def test_cli_with_mapping_file(tmp_path, tables):
    folder = tmp_path / "csv"
    folder.mkdir()
    for name, frame in tables.items():
        frame.to_csv(folder / f"{name}.csv", index=False, encoding="gbk")
    tables["fans"].rename(columns={"fan_id": "用户ID"}).to_csv(folder / "fans.csv", index=False, encoding="gbk")
    mapping = tmp_path / "mine.yaml"
    mapping.write_text("source: x\nmapping:\n  fans:\n    用户ID: fan_id\n", encoding="utf-8")
    assert main([str(folder), "--mapping", str(mapping), "--now", NOW]) == 0
    params = tmp_path / "params.yaml"  # a params file, as in params/default.yaml
    params.write_text("common:\n  source: x\n  mapping:\n    fans: {用户ID: fan_id}\n", encoding="utf-8")
    assert main([str(folder), "--mapping", str(params), "--now", NOW]) == 0
    assert main([str(folder), "--now", NOW]) == 2


def test_cli_unreadable_source_exits_2_with_a_message(tmp_path, capsys):
    assert main([str(tmp_path / "nowhere.duckdb")]) == 2
    assert "not found" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("- just\n- a list\n")
    assert main([str(tmp_path), "--mapping", str(bad)]) == 2
    assert "a mapping must look like" in capsys.readouterr().err


def test_a_pass_is_reused_within_a_run_but_changed_or_failing_data_is_checked_again(tmp_path, tables, monkeypatch):
    from fanlib.data.checks import PASSED_DIR_ENV

    run = tmp_path / "run"
    run.mkdir()
    monkeypatch.setenv(PASSED_DIR_ENV, str(run))
    good = frames_to_duckdb(tables, tmp_path / "good.duckdb")
    with connect(good) as fd:
        assert fd.validated == "checked"
    assert len(list(run.glob("*.passed"))) == 1
    with connect(good) as fd:
        assert fd.validated == "earlier in this run"
    # one more order: another fingerprint, so the data is checked again
    more = dict(tables, orders=pd.concat([tables["orders"], tables["orders"].tail(1).assign(order_id="O-extra")]))
    with connect(frames_to_duckdb(more, tmp_path / "more.duckdb")) as fd:
        assert fd.validated == "checked"
    # failing data is never recorded: every connect reports its problems
    bad = dict(tables, orders=tables["orders"].assign(amount_cny=-1.0))
    bad_path = frames_to_duckdb(bad, tmp_path / "bad.duckdb")
    for _ in range(2):
        with pytest.raises(ContractError, match="amount_cny"):
            connect(bad_path)
    assert len(list(run.glob("*.passed"))) == 2
    # outside a run nothing is recorded
    monkeypatch.delenv(PASSED_DIR_ENV)
    with connect(good) as fd:
        assert fd.validated == "checked"
