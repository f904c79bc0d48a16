"""The analysis date: the default is the last day with an event or order, a later day is refused."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from helpers import frames_to_duckdb, sample_tables

from fanlib.data.asof import AnalysisDateError, AsOf, data_end, resolve_as_of, to_date
from fanlib.data.fandata import connect
from fanlib.errors import InputError

NOW = "2026-01-01 00:00:00"


def _open(tmp_path, tables):
    return connect(frames_to_duckdb(tables, tmp_path / "asof.duckdb"), now=NOW)


def _last_day(frame: pd.DataFrame, column: str) -> dt.date:
    return frame[column].max().date()


@pytest.fixture()
def tables():
    return sample_tables(n_fans=30, seed=11)


def test_default_is_the_last_day_with_an_event_or_an_order(tmp_path, tables):
    expected = max(_last_day(tables["events"], "event_time"), _last_day(tables["orders"], "order_time"))
    with _open(tmp_path, tables) as fd:
        assert data_end(fd) == expected
        assert resolve_as_of(fd) == AsOf(expected, expected)


def test_the_later_of_events_and_orders_sets_the_default(tmp_path, tables):
    late_order = pd.Timestamp(tables["events"]["event_time"].max()) + pd.Timedelta(days=3)
    tables["orders"].loc[0, "order_time"] = late_order
    with _open(tmp_path, tables) as fd:
        assert resolve_as_of(fd).day == late_order.date()


def test_comments_are_not_activity(tmp_path, tables):
    end = max(_last_day(tables["events"], "event_time"), _last_day(tables["orders"], "order_time"))
    tables["comments"].loc[0, "comment_time"] = pd.Timestamp(end) + pd.Timedelta(days=20)
    with _open(tmp_path, tables) as fd:
        assert fd.date_range()[1].date() > end  # the comment is in the data ...
        assert resolve_as_of(fd) == AsOf(end, end)  # ... but does not move the analysis date


def test_a_day_on_or_before_the_data_end_is_kept(tmp_path, tables):
    with _open(tmp_path, tables) as fd:
        end = data_end(fd)
        earlier = end - dt.timedelta(days=10)
        assert resolve_as_of(fd, earlier.isoformat()) == AsOf(earlier, end)
        assert resolve_as_of(fd, pd.Timestamp(end)) == AsOf(end, end)
        assert resolve_as_of(fd, dt.datetime.combine(earlier, dt.time(15, 30))).day == earlier


def test_a_day_after_the_data_is_refused_naming_both_days(tmp_path, tables):
    with _open(tmp_path, tables) as fd:
        end = data_end(fd)
        later = end + dt.timedelta(days=1)
        with pytest.raises(AnalysisDateError) as err:
            resolve_as_of(fd, later)
    assert str(later) in str(err.value) and str(end) in str(err.value)
    assert isinstance(err.value, InputError) and isinstance(err.value, ValueError)


def test_empty_activity_tables_have_no_analysis_date(tmp_path, tables):
    tables["events"] = tables["events"].iloc[:0]
    tables["orders"] = tables["orders"].iloc[:0]
    with connect(frames_to_duckdb(tables, tmp_path / "empty.duckdb"), validate=False, now=NOW) as fd:
        with pytest.raises(AnalysisDateError, match="no events or orders with a time"):
            data_end(fd)
        with pytest.raises(AnalysisDateError):
            resolve_as_of(fd, "2025-03-01")


def test_to_date_reads_every_form_a_parameter_takes():
    day = dt.date(2025, 6, 30)
    assert to_date(day) == day
    assert to_date(dt.datetime(2025, 6, 30, 23, 59)) == day
    assert to_date(pd.Timestamp("2025-06-30 08:00")) == day
    assert to_date("2025-06-30") == day
