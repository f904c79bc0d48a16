"""The data overview's figures, computed in the engine, against hand counts on small tables."""

import pandas as pd
import pytest
from helpers import sample_tables

from fanlib.data.fandata import connect
from fanlib.data_overview import queries as overview


@pytest.fixture()
def folder(tmp_path):
    tables = sample_tables(n_fans=30, seed=3)
    orders = tables["orders"]
    # Plant: one duplicated order id, two missing campaign ids, one order from an unknown fan.
    dup = orders.iloc[[0]].copy()
    orders = pd.concat([orders, dup], ignore_index=True)
    orders.loc[1:2, "campaign_id"] = None
    orders.loc[3, "fan_id"] = "F99999"
    tables["orders"] = orders
    del tables["assignments"]
    for name, frame in tables.items():
        frame.to_parquet(tmp_path / f"{name}.parquet")
    return tmp_path, tables


def test_table_summary_counts_rows_and_marks_absent_optional_tables(folder):
    path, tables = folder
    fd = connect(path, validate=False)
    summary = overview.table_summary(fd).set_index("table")
    for name, frame in tables.items():
        assert summary.loc[name, "rows"] == len(frame)
    assert not summary.loc["assignments", "present"]
    events = tables["events"]
    assert summary.loc["events", "first"] == events.event_time.min()
    assert summary.loc["events", "last"] == events.event_time.max()


def test_nulls_duplicates_and_orphans_match_hand_counts(folder):
    path, tables = folder
    fd = connect(path, validate=False)
    nulls = overview.null_rates(fd).set_index(["table", "column"])
    expected = tables["orders"]["campaign_id"].isna().sum()
    assert nulls.loc[("orders", "campaign_id"), "missing"] == expected
    assert nulls.loc[("orders", "campaign_id"), "null_rate"] == pytest.approx(expected / len(tables["orders"]))
    dups = overview.duplicate_keys(fd).set_index("table")
    assert dups.loc["orders", "duplicated_keys"] == 1 and dups.loc["orders", "surplus_rows"] == 1
    assert dups.loc["fans", "duplicated_keys"] == 0
    orphans = overview.orphan_counts(fd).set_index("table")
    assert orphans.loc["orders", "orphan_rows"] == 1
    assert orphans.loc["events", "orphan_rows"] == 0


def test_daily_volume_growth_and_distribution(folder):
    path, tables = folder
    fd = connect(path, validate=False)
    daily = overview.daily_volume(fd)
    assert daily[daily.table == "events"].rows.sum() == len(tables["events"])
    growth = overview.member_growth(fd)
    assert growth.members.iloc[-1] == len(tables["fans"])
    dist = overview.distribution(fd, "fans", "channel", top=3)
    assert dist.rows.sum() == len(tables["fans"])
    assert len(dist) <= 4 and dist.share.sum() == pytest.approx(1.0)
    # Every query went through the counted door, and each result is small.
    assert all(rows < 1000 for _, rows in fd.materialized)


def test_absent_optional_columns_are_listed_not_counted_as_missing(tmp_path):
    tables = sample_tables(n_fans=10, seed=1)
    tables["fans"] = tables["fans"].drop(columns=["province", "city"])
    for name, frame in tables.items():
        frame.to_parquet(tmp_path / f"{name}.parquet")
    fd = connect(tmp_path, validate=False)
    absent = overview.absent_columns(fd)
    assert {("fans", "province"), ("fans", "city")} <= set(map(tuple, absent.values))
    nulls = overview.null_rates(fd)
    assert not ((nulls.table == "fans") & nulls.column.isin(["province", "city"])).any()
