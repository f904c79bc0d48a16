"""Values that used to become silent wrong numbers or crashes: decimal commas, fractions in integer
columns, infinite amounts, header-only optional tables, CSV errors and very long CSV fields."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import sample_tables

from fanlib.data.errors import ContractError, MissingTableError, Problem, SourceError
from fanlib.data.fandata import connect

NOW = "2026-01-01 00:00:00"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def tables() -> dict[str, pd.DataFrame]:
    return sample_tables(n_fans=30, seed=4)


def write_csvs(folder: Path, tables: dict[str, pd.DataFrame]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.to_csv(folder / f"{name}.csv", index=False)
    return folder


def write_parquets(folder: Path, tables: dict[str, pd.DataFrame]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.to_parquet(folder / f"{name}.parquet", index=False)
    return folder


def with_amounts(tables, amounts: list[str], decimal: str = ".") -> dict[str, pd.DataFrame]:
    """The first orders' amounts as the texts given; the others written with ``decimal`` as the mark."""
    orders = tables["orders"].copy()
    orders["amount_cny"] = [f"{x:.2f}".replace(".", decimal) for x in orders["amount_cny"]]
    orders.loc[orders.index[: len(amounts)], "amount_cny"] = amounts
    return dict(tables, orders=orders)


def problems_of(source, **kwargs) -> list[Problem]:
    with pytest.raises(ContractError) as err:
        connect(source, now=NOW, **kwargs)
    return err.value.problems


def only(found: list[Problem], check: str) -> Problem:
    hits = [p for p in found if p.check == check]
    assert len(hits) == 1, found
    return hits[0]


def amounts(fd) -> dict[str, float]:
    got = fd.execute(fd.orders.select("order_id", "amount_cny"))
    return dict(zip(got["order_id"], got["amount_cny"], strict=True))


def run_validate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fanlib", "validate", *args, "--now", NOW],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )


# --------------------------------------------------------------------------- decimal commas


def test_a_decimal_comma_is_refused_not_read_as_thousands(tmp_path, tables):
    folder = write_csvs(tmp_path / "csv", with_amounts(tables, ["195,74", "1,5", "1,234.50", "12,345", "-2,000.5"]))
    p = only(problems_of(folder), "number_format")
    assert (p.table, p.column, p.failing_rows) == ("orders", "amount_cny", 2)
    assert sorted(e["amount_cny"] for e in p.examples) == ["1,5", "195,74"]
    assert {"order_id", "fan_id", "order_time"} <= set(p.examples[0])
    assert "decimal: ','" in p.detail
    # the refused values are not also counted as unreadable
    assert not [q for q in problems_of(folder) if q.check == "parse"]
    # valid thousands groups keep working
    with connect(folder, validate=False, now=NOW) as fd:
        got = amounts(fd)
    ids = tables["orders"]["order_id"]
    assert [got[i] for i in ids[2:5]] == [1234.5, 12345.0, -2000.5]
    assert pd.isna(got[ids.iloc[0]]) and pd.isna(got[ids.iloc[1]])  # never 19574 or 15


def test_a_declared_decimal_comma_reads_european_numbers(tmp_path, tables):
    folder = write_csvs(tmp_path / "csv", with_amounts(tables, ["195,74", "1,5", "1.234,56", "12", "2.000"], ","))
    ids = tables["orders"]["order_id"]
    for mapping in ({"decimal": ","}, {"decimal": {"orders": ","}}, {"decimal": {"orders.amount_cny": ","}}):
        with connect(folder, mapping=mapping, now=NOW) as fd:
            got = amounts(fd)
        assert [got[i] for i in ids[:5]] == [195.74, 1.5, 1234.56, 12.0, 2000.0], mapping
        total = tables["orders"]["amount_cny"].iloc[5:].round(2).sum() + 195.74 + 1.5 + 1234.56 + 12 + 2000
        assert sum(got.values()) == pytest.approx(total)


def test_a_dot_that_is_no_thousands_group_is_refused_when_the_comma_is_declared(tmp_path, tables):
    folder = write_csvs(tmp_path / "csv", with_amounts(tables, ["1.5", "1.234,5"], ","))
    p = only(problems_of(folder, mapping={"decimal": ","}), "number_format")
    assert p.failing_rows == 1 and p.examples[0]["amount_cny"] == "1.5"


@pytest.mark.parametrize(
    "declared, message",
    [
        (";", "the decimal mark must be '.' or ','"),
        ({"orders.order_id": ","}, "neither a contract table nor a number column"),
        ({"orderz": ","}, "neither a contract table nor a number column"),
        ([","], "must be '.' or ','"),
    ],
)
def test_a_wrong_decimal_declaration_is_a_mapping_problem(tmp_path, tables, declared, message):
    folder = write_csvs(tmp_path / "csv", tables)
    p = only(problems_of(folder, mapping={"decimal": declared}), "mapping")
    assert message in p.detail


def test_cli_names_table_column_check_and_rows_for_decimal_commas(tmp_path, tables):
    folder = write_csvs(tmp_path / "csv", with_amounts(tables, ["195,74"]))
    result = run_validate(str(folder))
    assert result.returncode == 2
    assert "orders.amount_cny [number_format, 1 failing row]" in result.stdout
    assert "'amount_cny': '195,74'" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    folder = write_csvs(tmp_path / "eu", with_amounts(tables, ["195,74"], ","))
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text('decimal: ","\n', encoding="utf-8")
    ok = run_validate(str(folder), "--mapping", str(mapping))
    assert ok.returncode == 0, ok.stdout + ok.stderr


# --------------------------------------------------------------------------- integers and infinity


def test_a_fraction_in_an_integer_column_is_refused_not_rounded(tmp_path, tables):
    fans = tables["fans"].astype({"birth_year": "string"})
    fans.loc[fans.index[:4], "birth_year"] = ["2001.7", "1990.0", "1,985", "inf"]
    csv = write_csvs(tmp_path / "csv", dict(tables, fans=fans))
    p = only(problems_of(csv), "integer")
    assert (p.table, p.column, p.failing_rows) == ("fans", "birth_year", 2)
    assert sorted(e["birth_year"] for e in p.examples) == ["2001.7", "inf"]
    assert {e["fan_id"] for e in p.examples} == {fans["fan_id"].iloc[0], fans["fan_id"].iloc[3]}
    with connect(csv, validate=False, now=NOW) as fd:
        years = fd.execute(fd.fans.select("fan_id", "birth_year")).set_index("fan_id")["birth_year"]
    assert pd.isna(years[fans["fan_id"].iloc[0]])  # never 2002
    assert years[fans["fan_id"].iloc[1]] == 1990 and years[fans["fan_id"].iloc[2]] == 1985
    # the same from a float column (Parquet, Excel): no rounding either
    floats = tables["fans"].astype({"birth_year": "float64"})
    floats.loc[floats.index[0], "birth_year"] = 2001.7
    floats.loc[floats.index[1], "birth_year"] = np.nan  # a missing value, allowed
    p = only(problems_of(write_parquets(tmp_path / "pq", dict(tables, fans=floats))), "integer")
    assert (p.column, p.failing_rows, p.examples[0]["birth_year"]) == ("birth_year", 1, 2001.7)


@pytest.mark.parametrize("kind", ["parquet", "csv"])
def test_an_infinite_or_nan_amount_is_refused(tmp_path, tables, kind):
    if kind == "parquet":
        orders = tables["orders"].copy()
        orders.loc[orders.index[:2], "amount_cny"] = [np.inf, -np.inf]
        source = write_parquets(tmp_path / "pq", dict(tables, orders=orders))
        failing = 2
    else:
        source = write_csvs(tmp_path / "csv", with_amounts(tables, ["inf", "NaN", "Infinity", "-inf"]))
        failing = 4
    p = only(problems_of(source), "finite")
    assert (p.table, p.column, p.failing_rows) == ("orders", "amount_cny", failing)
    assert "finite" in p.detail and p.examples
    result = run_validate(str(source))
    assert result.returncode == 2
    assert f"orders.amount_cny [finite, {failing} failing rows]" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


# --------------------------------------------------------------------------- header-only optional tables


def test_a_header_only_optional_table_reads_as_absent(tmp_path, tables):
    empty = dict(tables, comments=tables["comments"].iloc[:0], assignments=tables["assignments"].iloc[:0])
    folder = write_csvs(tmp_path / "csv", empty)
    with connect(folder, now=NOW) as fd:  # validates
        assert not fd.has("comments") and not fd.has("assignments") and fd.has("orders")
        assert fd.empty_tables == ["comments", "assignments"]
        assert set(fd.row_counts()) == {"fans", "events", "orders"}
        with pytest.raises(MissingTableError, match="'comments' has no rows"):
            _ = fd.comments
    result = run_validate(str(folder))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "comments" in result.stdout and "a header only" in result.stdout
    # orders and events are optional too; a header-only fans table is still a contract problem (not derived)
    folder = write_csvs(tmp_path / "orders", dict(tables, orders=tables["orders"].iloc[:0]))
    with connect(folder, now=NOW) as fd:
        assert fd.empty_tables == ["orders"] and not fd.has("orders")
    folder = write_csvs(tmp_path / "required", dict(tables, fans=tables["fans"].iloc[:0]))
    p = only(problems_of(folder), "not_empty")
    assert p.table == "fans"


# --------------------------------------------------------------------------- CSV errors and long fields


def test_a_csv_error_keeps_duckdbs_cause(tmp_path, tables):
    folder = write_csvs(tmp_path / "csv", tables)
    (folder / "orders.csv").write_text("order_id,fan_id\nO1,F00001\nO2,F00002,extra,cells\n", encoding="utf-8")
    with pytest.raises(SourceError) as err:
        connect(folder, now=NOW)
    text = str(err.value)
    assert "orders.csv: cannot read the CSV data" in text
    assert "Line: 3" in text and "Expected Number of Columns: 2" in text and "O2,F00002,extra,cells" in text
    assert "Possible fixes" not in text and "strict_mode" not in text
    result = run_validate(str(folder))
    assert result.returncode == 2
    assert "Expected Number of Columns: 2" in result.stderr and "Traceback" not in result.stderr


def test_a_csv_field_over_2_mb_loads(tmp_path, tables):
    comments = tables["comments"].copy()
    long_text = "很长的评论" * 600_000  # 3,000,000 characters, 9 MB of UTF-8
    comments.loc[comments.index[0], "text"] = long_text
    folder = write_csvs(tmp_path / "csv", dict(tables, comments=comments))
    with connect(folder, now=NOW) as fd:
        got = fd.execute(fd.comments.filter(fd.comments.comment_id == comments["comment_id"].iloc[0]).text)
    assert got.iloc[0] == long_text
