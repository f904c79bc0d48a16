"""Cohort retention in the engine equals a brute-force pandas computation; edge cases give clear messages."""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pandas as pd
import pytest
from retention_data import random_fans, write_duckdb, year_end_data

from fanlib.data.fandata import connect
from fanlib.retention import cohorts
from fanlib.retention.activity import RetentionDataWarning
from fanlib.retention.errors import RetentionInputError

AS_OF = dt.date(2025, 6, 30)


@pytest.fixture(scope="module")
def hand_data(tmp_path_factory):
    fans, events, orders = random_fans(n=300, seed=3)
    path = write_duckdb(tmp_path_factory.mktemp("cohorts") / "d.duckdb", fans, events, orders)
    return connect(path), fans, events, orders


#: pandas' own calendar periods (ISO weeks end on Sunday), and the fixed lengths
_PANDAS_FREQ = {"day": "D", "week": "W-SUN", "month": "M"}
_FIXED = {"7d": 7, "30d": 30, 7: 7, 1: 1, 30: 30}


def _period_of(day: dt.date, start: dt.date, period) -> int:
    """Period number of ``day`` counted from ``start``: pandas Period ordinals for calendar periods, whole
    days divided by the length for fixed ones."""
    if period in _PANDAS_FREQ:
        freq = _PANDAS_FREQ[period]
        return pd.Period(day, freq).ordinal - pd.Period(start, freq).ordinal
    return (day - start).days // _FIXED[period]


def brute_force(fans, events, orders, *, period_days=None, period=None, max_period, as_of, key):
    """Per-fan loops over plain pandas: the definition, written the slow obvious way. ``period`` is a
    calendar period (day, week, month) or a fixed one (7d, 30d); ``period_days`` a fixed length."""
    period = period if period is not None else period_days
    act = pd.concat(
        [
            events[["fan_id", "event_time"]].rename(columns={"event_time": "t"}),
            orders[["fan_id", "order_time"]].rename(columns={"order_time": "t"}),
        ]
    )
    act["day"] = act["t"].dt.date
    days_by_fan = act.groupby("fan_id")["day"].apply(lambda s: sorted(set(s)))
    rows = []
    for f in fans.itertuples():
        start = f.join_time.date()
        if start > as_of:
            continue
        max_obs = _period_of(as_of + dt.timedelta(days=1), start, period) - 1
        periods = {_period_of(d, start, period) for d in days_by_fan.get(f.fan_id, []) if start <= d <= as_of}
        for k in range(max_period + 1):
            if k > max_obs:
                continue
            rows.append({"group": key(f), "period": k, "on": k in periods, "after": any(p >= k for p in periods)})
    df = pd.DataFrame(rows)
    return df.groupby(["group", "period"]).agg(eligible=("on", "size"), on=("on", "sum"), after=("after", "sum"))


def _cohort_start(period):
    """The first day of the calendar period that groups a fan into a cohort (pandas' own periods)."""
    freq = _PANDAS_FREQ[{"7d": "week", "30d": "month"}.get(period, period)]
    return lambda f: pd.Period(f.join_time, freq).start_time.date()


@pytest.mark.parametrize("period", ["day", "week", "month", "7d", "30d"])
def test_cohort_table_matches_brute_force(hand_data, period):
    """Calendar periods (ISO weeks, months) and fixed lengths alike equal the plain pandas computation."""
    fd, fans, events, orders = hand_data
    ct = cohorts.cohort_table(fd, period=period, max_periods=10, as_of=AS_OF, min_cohort_size=1)
    assert ct.calendar == (period in ("day", "week", "month"))
    ref = brute_force(fans, events, orders, period=period, max_period=10, as_of=AS_OF, key=_cohort_start(period))
    got = ct.cells.set_index(["cohort", "period"])
    for (cohort, period), r in ref.iterrows():
        row = got.loc[(cohort, period)]
        assert row["eligible"] == r["eligible"]
        assert row["retained_on"] == r["on"]
        assert row["retained_on_or_after"] == r["after"]
    # cells with nobody observable yet have no rate, never a 0% drop
    unobservable = got[got["eligible"] == 0]
    assert unobservable["rate_on"].isna().all()
    # "on or after" is never below "on", and is non-increasing in the period
    assert (got["rate_on_or_after"].fillna(0) >= got["rate_on"].fillna(0) - 1e-12).all()
    for _, g in ct.cells.groupby("cohort"):
        full = g[g["complete"]]
        assert np.all(np.diff(full["rate_on_or_after"].to_numpy()) <= 1e-12)


@pytest.mark.parametrize("period", ["week", "7d"])
def test_incomplete_periods_are_marked_and_blank_in_the_matrix(hand_data, period):
    """A cell is complete when its period is over for every fan of the cohort: the calendar week k after
    the cohort's week ends on a Sunday on or before the analysis date; a fixed 7-day period k ends 7(k+1)−1
    days after the cohort's latest joiner."""
    fd, fans, *_ = hand_data
    ct = cohorts.cohort_table(fd, period=period, max_periods=12, as_of=AS_OF, min_cohort_size=1)
    c = ct.cells
    last_start = (
        fans.assign(c=fans.join_time.dt.to_period("W-SUN").dt.start_time.dt.date)
        .groupby("c")["join_time"]
        .max()
        .dt.date
    )
    for row in c.itertuples():
        if period == "week":
            expected = row.cohort + dt.timedelta(days=7 * (row.period + 1) - 1) <= AS_OF
        else:
            expected = last_start[row.cohort] + dt.timedelta(days=7 * (row.period + 1) - 1) <= AS_OF
        assert row.complete == expected
    m = ct.matrix("on")
    for row in c[~c["complete"]].itertuples():
        assert np.isnan(m.loc[row.cohort, row.period])
    partial = c[~c["complete"] & (c["eligible"] > 0)]
    if period == "week":  # a calendar period is over for every fan of the cohort at once, or for none
        assert partial.empty
        return
    shown = ct.matrix("on", show_incomplete=True)
    partial = partial.iloc[0]
    assert shown.loc[partial.cohort, partial.period] == pytest.approx(partial.rate_on)


@pytest.mark.parametrize("period", ["week", "month", "7d", "30d"])
def test_calendar_periods_across_a_year_end_and_month_ends(tmp_path, period):
    """ISO week 1 of 2025 starts on 30 December 2024; a fan joining on 31 January is in month 1 a day
    later. The engine's cells equal pandas' own calendar periods, and the labels say ISO week and month."""
    from fanlib.retention.cohort_matrix import matrix_rows

    fans, events, orders = year_end_data()
    fd = connect(write_duckdb(tmp_path / "d.duckdb", fans, events, orders))
    as_of = dt.date(2025, 3, 31)
    ct = cohorts.cohort_table(fd, period=period, max_periods=4, as_of=as_of, min_cohort_size=1)
    ref = brute_force(fans, events, orders, period=period, max_period=4, as_of=as_of, key=_cohort_start(period))
    got = ct.cells.set_index(["cohort", "period"])
    for (cohort, k), r in ref.iterrows():
        row = got.loc[(cohort, k)]
        assert (row["eligible"], row["retained_on"], row["retained_on_or_after"]) == (
            r["eligible"],
            r["on"],
            r["after"],
        )
    labels = [row["cohort"] for row in matrix_rows(ct)]
    on = {row["cohort"]: row["on"] for row in matrix_rows(ct)}
    if period in ("week", "7d"):
        assert labels == ["2024-W52", "2025-W01", "2025-W05"]
    else:
        assert labels == ["2024-12", "2025-01", "2025-02"]
    # the cells that tell calendar and fixed periods apart, by hand
    if period == "week":
        assert on["2024-W52"][:2] == [0.0, 1.0]  # A: Monday 30 Dec is the next ISO week
        assert on["2025-W01"][:2] == [0.5, 1.0]  # B on Sunday 5 Jan (week 0), B and C on Monday 6 Jan
    if period == "7d":
        assert on["2024-W52"][:2] == [1.0, 1.0]  # A: day 1, then day 7
    if period == "month":
        assert on["2025-01"][:3] == [0.5, 0.5, 0.5]  # C in January and March; D on 1 February, the next month
        assert on["2025-02"][:2] == [1.0, 1.0]  # E: 28 February, then 1 March
    if period == "30d":
        # C: days 5 and 89; D: day 1 of its first 30 days, and its days 60–89 are not over yet
        assert on["2025-01"][:3] == [1.0, 0.0, None]
        assert on["2025-02"][:2] == [1.0, None]  # E: days 27 and 28; its days 30–59 are not over yet


def test_cohort_labels_name_iso_weeks_and_months():
    from fanlib.retention.narrative import cohort_label

    assert cohort_label(dt.date(2024, 12, 30), "week") == "2025-W01"
    assert cohort_label(dt.date(2021, 1, 3), "week") == "2020-W53"
    assert cohort_label(dt.date(2025, 3, 1), "month", "zh") == "2025年3月"
    assert cohort_label(dt.date(2025, 3, 1), "month", "en") == "2025-03"


def test_single_fan_cohort_gives_a_clear_message(tmp_path):
    fans, events, orders = random_fans(n=60, seed=5, days=20)
    # one fan joins alone in a month nobody else joins
    lone = fans.iloc[[0]].assign(fan_id="LONE", join_time=pd.Timestamp("2025-05-10 10:00"))
    fans = pd.concat([fans, lone], ignore_index=True)
    events = pd.concat(
        [
            events,
            pd.DataFrame({"fan_id": ["LONE"], "event_time": [pd.Timestamp("2025-05-11")], "event_type": ["view"]}),
        ],
        ignore_index=True,
    )
    fd = connect(write_duckdb(tmp_path / "d.duckdb", fans, events, orders))
    with pytest.warns(RetentionDataWarning, match=r"2025-05-01 \(1 fan\)"):
        ct = cohorts.cohort_table(fd, period="7d", cohort_period="month", max_periods=4, as_of=AS_OF)
    assert ct.notes and "fewer than 20 fans" in ct.notes[0]
    assert ct.matrix().loc[dt.date(2025, 5, 1)].isna().all()


def test_curves_by_channel_and_day_n(hand_data):
    fd, fans, events, orders = hand_data
    curves = cohorts.retention_curves(fd, "channel", period="day", max_periods=30, as_of=AS_OF)
    ref = brute_force(fans, events, orders, period_days=1, max_period=30, as_of=AS_OF, key=lambda f: f.channel)
    got = curves.set_index(["channel", "period"])
    for (ch, k), r in ref.iterrows():
        assert got.loc[(ch, k), "retained_on"] == r["on"]
        assert got.loc[(ch, k), "rate_on_or_after"] == pytest.approx(r["after"] / r["eligible"])
    dn = cohorts.day_n_retention(fd, days=(1, 7, 30), as_of=AS_OF)
    allref = brute_force(fans, events, orders, period_days=1, max_period=30, as_of=AS_OF, key=lambda f: "all")
    for row in dn.itertuples():
        r = allref.loc[("all", row.day)]
        assert row.rate_on == pytest.approx(r["on"] / r["eligible"])
    assert dn.set_index("day").loc[7, "healthy"] == 0.5  # planning documents' benchmark


def test_curves_for_several_attributes_in_one_pass_match_brute_force(hand_data):
    """One shared per-fan pass for channel, community and city tier gives each attribute's brute-force counts,
    and the same curves as one call per attribute."""
    fd, fans, events, orders = hand_data
    got = cohorts.retention_curves_by(
        fd, ["channel", "community_id", "city_tier"], period="7d", max_periods=8, as_of=AS_OF, top={"community_id": 2}
    )
    for by in ("channel", "community_id", "city_tier"):
        ref = brute_force(
            fans, events, orders, period_days=7, max_period=8, as_of=AS_OF, key=lambda f: str(getattr(f, by))
        )
        curve = got[by].set_index([by, "period"])
        groups = set(curve.index.get_level_values(0))
        assert groups <= set(ref.index.get_level_values(0)) and len(groups) == (
            2 if by == "community_id" else fans[by].nunique()
        )
        for (group, k), r in ref.iterrows():
            if group in groups:
                assert curve.loc[(group, k), "eligible"] == r["eligible"]
                assert curve.loc[(group, k), "retained_on"] == r["on"]
                assert curve.loc[(group, k), "retained_on_or_after"] == r["after"]
        alone = cohorts.retention_curves(
            fd, by, period="7d", max_periods=8, as_of=AS_OF, top=2 if by == "community_id" else None
        )
        pd.testing.assert_frame_equal(got[by], alone)


def test_silent_fans_and_long_daily_curves_match_brute_force(tmp_path):
    """Fans with no activity at all count in the denominator only; more than 62 daily periods (the engine
    keeps active periods as bits of 64-bit masks, so these span two masks) are counted like the first ones."""
    fans, events, orders = random_fans(n=200, seed=9)
    silent = set(fans["fan_id"].iloc[::7])
    events = events[~events["fan_id"].isin(silent)].reset_index(drop=True)
    orders = orders[~orders["fan_id"].isin(silent)].reset_index(drop=True)
    fd = connect(write_duckdb(tmp_path / "d.duckdb", fans, events, orders))
    curves = cohorts.retention_curves(fd, "all", period="day", max_periods=80, as_of=AS_OF)
    ref = brute_force(fans, events, orders, period_days=1, max_period=80, as_of=AS_OF, key=lambda f: "all")
    got = curves.set_index(["all", "period"])
    assert len(ref) > 62
    for (g, k), r in ref.iterrows():
        assert got.loc[(g, k), "eligible"] == r["eligible"]
        assert got.loc[(g, k), "retained_on"] == r["on"]
        assert got.loc[(g, k), "retained_on_or_after"] == r["after"]


def test_lifecycle_counts_match_brute_force(hand_data):
    fd, fans, events, orders = hand_data
    lc = cohorts.lifecycle_counts(fd, period="month", as_of=AS_OF)
    act = pd.concat(
        [
            events[["fan_id", "event_time"]].rename(columns={"event_time": "t"}),
            orders[["fan_id", "order_time"]].rename(columns={"order_time": "t"}),
        ]
    )
    act["m"] = act["t"].dt.year * 12 + act["t"].dt.month - 1
    months = act.groupby("fan_id")["m"].apply(set)
    join_m = fans.set_index("fan_id")["join_time"]
    join_m = join_m.dt.year * 12 + join_m.dt.month - 1
    for row in lc.itertuples():
        m = row.period_start.year * 12 + row.period_start.month - 1
        new = ret = res = dorm = 0
        for fid, ms in months.items():
            if m in ms:
                if join_m[fid] == m:
                    new += 1
                elif m - 1 in ms:
                    ret += 1
                else:
                    res += 1
            elif m - 1 in ms:
                dorm += 1
        assert (row.new, row.returning, row.resurrected, row.dormant) == (new, ret, res, dorm)
    assert lc["complete"].all()  # AS_OF is a month end


def test_orders_without_events_warns(tmp_path):
    fans, events, orders = random_fans(n=50, seed=8)
    buyer = fans.iloc[[0]].assign(fan_id="BUYER_ONLY")
    fans = pd.concat([fans, buyer], ignore_index=True)
    orders = pd.concat(
        [
            orders,
            pd.DataFrame(
                {
                    "order_id": ["OX"],
                    "fan_id": ["BUYER_ONLY"],
                    "order_time": [pd.Timestamp("2025-03-03")],
                    "amount_cny": [99.0],
                }
            ),
        ],
        ignore_index=True,
    )
    fd = connect(write_duckdb(tmp_path / "d.duckdb", fans, events, orders))
    from fanlib.retention.durations import fan_durations

    with pytest.warns(RetentionDataWarning, match=r"1 fans have orders but no events \(e\.g\. BUYER_ONLY\)"):
        d = fan_durations(fd, as_of=AS_OF)
    assert "BUYER_ONLY" in set(d["fan_id"])


def test_bad_parameters_and_dates(hand_data):
    fd, *_ = hand_data
    with pytest.raises(RetentionInputError, match="period must be one of"):
        cohorts.cohort_table(fd, period="fortnight")
    with pytest.raises(RetentionInputError, match="after the data ends"):
        cohorts.cohort_table(fd, as_of="2030-01-01")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RetentionDataWarning)
        ct = cohorts.cohort_table(fd, period="month", as_of=AS_OF, cohort_by="first_order")
    assert ct.cells["cohort_size"].sum() > 0


@pytest.mark.parametrize("period, cohort_period", [("day", "week"), ("30d", "month"), ("month", "month")])
def test_first_order_cohorts_on_orders_match_brute_force(hand_data, period, cohort_period):
    """Cohorts by first order, retention counted on orders only: the clock starts at the first order."""
    fd, fans, events, orders = hand_data
    first = orders.groupby("fan_id")["order_time"].min()
    starts = fans[fans["fan_id"].isin(first.index)].assign(join_time=lambda f: f["fan_id"].map(first))
    no_events = events.iloc[0:0]
    monday = lambda f: f.join_time.date() - dt.timedelta(days=f.join_time.weekday())  # noqa: E731
    month = lambda f: dt.date(f.join_time.year, f.join_time.month, 1)  # noqa: E731
    ref = brute_force(
        starts,
        no_events,
        orders,
        period=period,
        max_period=8,
        as_of=AS_OF,
        key=monday if cohort_period == "week" else month,
    )
    ct = cohorts.cohort_table(
        fd,
        period=period,
        cohort_period=cohort_period,
        cohort_by="first_order",
        basis="order",
        max_periods=8,
        as_of=AS_OF,
        min_cohort_size=1,
    )
    got = ct.cells.set_index(["cohort", "period"])
    assert len(ref) and int(ct.sizes.sum()) == len(starts)
    for (cohort, k), r in ref.iterrows():
        row = got.loc[(cohort, k)]
        assert (row["eligible"], row["retained_on"], row["retained_on_or_after"]) == (
            r["eligible"],
            r["on"],
            r["after"],
        )
    assert (got.xs(0, level="period")["rate_on"] == 1.0).all()  # everyone orders on their first-order day
