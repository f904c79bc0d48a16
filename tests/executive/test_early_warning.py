"""KPI early warnings: planted drops are caught, weekly cycles and holidays are not flagged."""

import numpy as np
import pandas as pd
import pytest

from fanlib.data.fandata import connect
from fanlib.executive import queries, stats


def _series(days=300, level=2000.0, growth=0.002, seed=0, drop=None, holiday=None):
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2025-01-01", periods=days, freq="D")
    weekly = np.array([0.93, 0.92, 0.93, 0.95, 1.02, 1.14, 1.11])[dates.dayofweek]
    mean = level * np.exp(growth * np.arange(days)) * weekly
    if holiday is not None:
        h = (dates >= holiday[0]) & (dates <= holiday[1])
        mean[h] *= 2.5
    if drop is not None:
        d = (dates >= drop[0]) & (dates <= drop[1])
        mean[d] *= drop[2]
    return pd.Series(rng.poisson(mean).astype(float), index=dates)


@pytest.mark.parametrize("seed", range(5))
def test_weekly_cycle_trend_and_noise_raise_no_warning(seed):
    assert stats.detect(_series(seed=seed), "events").empty


def test_a_planted_drop_is_caught_with_its_dates():
    found = stats.detect(_series(drop=("2025-08-10", "2025-08-12", 0.8)), "events")
    assert len(found) == 1
    row = found.iloc[0]
    assert row.direction == "drop"
    assert (row.start, row.end) == (pd.Timestamp("2025-08-10"), pd.Timestamp("2025-08-12"))
    assert row.change == pytest.approx(-0.2, abs=0.05)


def test_a_holiday_surge_is_expected_not_flagged():
    holidays = [("2025-06-01", "2025-06-18", "618")]
    series = _series(holiday=("2025-06-01", "2025-06-18"))
    assert stats.detect(series, "events", holidays=holidays).empty
    # Without the holiday calendar the same surge is flagged: the calendar is what prevents it.
    assert not stats.detect(series, "events", holidays=[]).empty


def test_too_short_a_history_is_a_clear_error():
    with pytest.raises(ValueError, match="at least 28"):
        stats.baseline(_series(days=20), "events")


def test_scan_leaves_out_a_kpi_too_small_to_judge_and_says_why():
    big = _series(drop=("2025-08-10", "2025-08-12", 0.8))
    daily = pd.DataFrame({"date": big.index, "events": big.to_numpy(), "orders": _series(level=3.0).to_numpy()})
    found = stats.scan(daily, columns=["events", "orders"])
    assert list(found.kpi) == ["events"]
    assert list(found.attrs["not_judged"]) == ["orders"]
    assert "too few days with an expected value of at least 50" in found.attrs["not_judged"]["orders"]
    assert stats.scan(daily, columns=["events"]).attrs["not_judged"] == {}


def test_drill_down_names_the_group_that_moved():
    dates = pd.date_range("2025-01-01", periods=60, freq="D")
    rows = []
    for d in dates:
        for ch, level in (("wechat", 500), ("douyin", 300), ("weibo", 100)):
            value = level * (
                0.5 if ch == "douyin" and d >= pd.Timestamp("2025-02-20") and d <= pd.Timestamp("2025-02-22") else 1.0
            )
            rows.append({"date": d, "channel": ch, "events": value})
    by = pd.DataFrame(rows)
    out = stats.drill_down(by, "channel", "events", "2025-02-20", "2025-02-22")
    assert out.iloc[0]["channel"] == "douyin"
    assert out.iloc[0]["share_of_change"] == pytest.approx(1.0)
    assert out.iloc[0]["change"] == pytest.approx(-0.5)


def test_demo_douyin_incident_is_caught_and_nothing_else(demo_path, demo_truth):
    plant = demo_truth["kpi_drop"]
    fd = connect(demo_path, validate=False)
    daily = queries.daily_kpis(fd)
    found = stats.scan(daily, columns=["active_fans", "events"])
    start, end = pd.Timestamp(plant["start"]), pd.Timestamp(plant["end"])
    hits = found[(found.start <= end) & (found.end >= start)]
    assert set(hits.kpi) == {"active_fans", "events"}
    assert (hits.direction == "drop").all()
    # Weekly cycles, Spring Festival, Double 11 and growth raise nothing else.
    assert found.drop(hits.index).empty, found.drop(hits.index)
    by_channel = queries.daily_kpis(fd, by="channel")
    top = stats.drill_down(by_channel, "channel", "events", start, end).iloc[0]
    assert top["channel"] == plant["channel"] and top["share_of_change"] > 0.5
    # Computed in the engine: only daily aggregates came back.
    assert max(rows for _, rows in fd.materialized) < 10_000
