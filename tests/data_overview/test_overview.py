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


def test_the_overview_of_an_orders_only_source_with_lines_and_cancellations(tmp_path):
    """A shop's order lines alone: the fans are derived, the events sections say there is no events table,
    and the rows left out as cancellations are counted where the summary reads them."""
    import sys

    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1] / "data"))
    from test_shapes import lines_frame, pandas_orders

    from fanlib import data_overview

    lines = lines_frame()
    lines.to_csv(tmp_path / "orders.csv", index=False)
    fd = connect(tmp_path, validate=False, now="2026-01-01")
    result = data_overview.analyse(fd, {"lang": "en", "as_of": "2025-06-01"})
    assert not result.problems
    assert result.missing_charts == ["No events table: the event type and content type distributions cannot be shown."]
    assert [title for title, _ in result.distributions] == []  # derived fans have no channel or gender
    notes = " ".join(result.shape_notes)
    fans = lines.fan_id.nunique()
    assert f"the {fans} fans were derived from orders" in notes
    assert f"{len(lines)} rows make {len(pandas_orders(lines))} paid orders" in notes
    assert "4 rows are left out" in notes and "2 cancellations or returns" in notes
    assert "no events table" in result.conclusions[0]
    summary = result.summary
    shape = summary["source_shape"]
    assert shape["fans_derived_from"] == ["orders"] and shape["fans"] == fans
    assert shape["orders"]["left_out_rows"] == 4 and shape["orders"]["orders"] == len(pandas_orders(lines))
    assert next(h for h in summary["headline"] if h["key"] == "orders")["value"] == len(pandas_orders(lines))
    assert summary["status"] == "ok"  # an absent events table is described, not a failure of the overview
    assert len(result.growth) and result.growth.members.iloc[-1] == fans
    fd.close()


def test_the_demo_shaped_source_has_no_shape_notes(folder):
    from fanlib import data_overview

    path, tables = folder
    fd = connect(path, validate=False)
    result = data_overview.analyse(fd, {"lang": "en"})
    assert result.shape_notes == [] and result.missing_charts == []
    assert "source_shape" not in result.summary
    fd.close()


def test_the_overview_notebook_renders_on_orders_only_data(tmp_path, monkeypatch):
    """The 00 notebook, run in this process, on a shop's order lines alone (no fans, no events)."""
    import json
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root / "data"))
    from inprocess import render_notebook
    from test_shapes import lines_frame

    data = tmp_path / "shop"
    data.mkdir()
    lines_frame().to_csv(data / "orders.csv", index=False)
    summary_path = tmp_path / "00.summary.json"
    shown, _, _ = render_notebook(
        monkeypatch,
        root.parent / "notebooks" / "00_data_overview.ipynb",
        source=str(data),
        lang="en",
        summary_path=str(summary_path),
        output_dir=str(tmp_path),
    )
    text = " ".join(map(str, shown))
    assert "No events table" in text and "derived from orders" in text and "left out" in text
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    assert summary["status"] == "ok" and summary["source_shape"]["orders"]["left_out_rows"] == 4
