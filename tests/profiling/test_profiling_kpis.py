"""Every community KPI computed by hand on the tiny 10-fan, one-week table and compared exactly.

The rows are in profiling_tinydata.py (e1 … e23 are the events in order). Window: 2025-03-03 …
2025-03-09 (7 days). Members per day: F01–F05, F08, F09 all week; F06 from Wed 03-05; F07 from
Sat 03-08; F10 joins after the window → members 7, 7, 8, 8, 8, 9, 9 (member-days 56, 9 at the end).
"""

from __future__ import annotations

import datetime as dt

import pytest
from profiling_tinydata import AS_OF, connect_tiny
from pytest import approx

from fanlib.present.i18n import messages
from fanlib.profiling import benchmarks
from fanlib.profiling import queries as K
from fanlib.profiling import queries_content as content
from fanlib.profiling.window import window


@pytest.fixture(scope="module")
def fd(tmp_path_factory):
    return connect_tiny(tmp_path_factory.mktemp("tiny") / "tiny.duckdb")


@pytest.fixture(scope="module")
def result(fd):
    return K.community_kpis(fd, AS_OF, 7)


def test_activity_kpis_by_hand(result):
    o = result.overall
    assert o["members"] == 9 and o["member_days"] == 56
    # Daily active fans Mon…Sun: {F01,F04}, {F02,F04}, {F01,F04,F06}, {F02,F05}, {F02,F08}, {F01,F07}, {F03,F06}.
    assert o["dau_rate"] == approx((2 / 7 + 2 / 7 + 3 / 8 + 2 / 8 + 2 / 8 + 2 / 9 + 2 / 9) / 7, abs=1e-12)
    assert o["dau"] == approx(15 / 7)
    assert o["wau"] == 8 and o["mau"] == 8  # everyone with an event: F01–F08
    assert o["stickiness"] == approx((15 / 7) / 8)
    # Speakers (comment, message, UGC): F01, F02, F04, F06, F08.
    assert o["speakers"] == 5 and o["speaking_rate"] == approx(5 / 9)
    # Messages e5, e12, e13 over 56 member-days.
    assert o["messages"] == 3 and o["messages_per_1k_day"] == approx(3 / 56 * 1000)
    # UGC e7, e18; brand items P1, E1, P2, E2, E3.
    assert o["ugc_posts"] == 2 and o["brand_items"] == 5 and o["ugc_share"] == approx(2 / 7)


def test_retention_by_hand(result):
    o = result.overall
    # 7-day cohort (joined ≤ 02-24): F01, F02, F03, F04, F05, F08, F09; active in days 7–13: F01, F02.
    assert (o["cohort_7d"], o["retained_7d"]) == (7, 2) and o["retention_7d"] == approx(2 / 7)
    # 30-day cohort (joined ≤ 02-01): F03, F04, F05, F08, F09; active in days 30–36: F04, F08.
    assert (o["cohort_30d"], o["retained_30d"]) == (5, 2) and o["retention_30d"] == approx(2 / 5)
    # 90-day cohort (joined ≤ 2024-12-03): F05, active 2025-02-28 … 03-06 (e14).
    assert (o["cohort_90d"], o["retained_90d"]) == (1, 1) and o["retention_90d"] == 1.0


def test_value_and_funnel_by_hand(result):
    o = result.overall
    # Orders in the window: O1, O2 (F01), O4 (F02), O5 (F05), O6 (F07); GMV 100 + 50 + 120 + 200 + 60.
    assert (o["buyers"], o["repeat_buyers"], o["orders"]) == (4, 1, 5)
    assert o["repurchase_rate"] == approx(1 / 4)
    assert o["gmv"] == approx(530.0) and o["aov"] == approx(106.0)
    # Intervals: O1→O2 = 5 d 11 h; O3 (02-25 09:00)→O4 (03-07 20:30) = 10 d 11.5 h; median of the two.
    gaps = [5 + 11 / 24, 10 + 11.5 / 24]
    assert o["intervals"] == 2 and o["repurchase_interval_days"] == approx(sum(gaps) / 2)
    # Viewers F01, F02, F03, F05, F06, F07, F08; of them clicked F01, F05, F07; all three ordered.
    assert (o["viewers"], o["clickers"], o["converted"]) == (7, 3, 3)
    assert o["conversion_rate"] == approx(4 / 7)  # viewers who ordered: F01, F02, F05, F07
    assert result.funnel.fans.tolist() == [7, 3, 3]


def test_touch_steps_by_hand(result):
    # O1: e1, e2 → 3 steps; O2: e3, e4, e5 (after O1) → 4; O4: e6, e7, e8 → 4; O5: e14, e15 → 3; O6: e19, e20 → 3.
    o = result.overall
    assert o["touch_steps"] == approx((3 + 4 + 4 + 3 + 3) / 5)
    assert o["median_steps"] == 3.0


def test_groups_by_hand(result):
    comm = result.by_community.set_index("group")
    # C1 = F01–F05 (5 members all week): active 2, 2, 2, 2, 1, 1, 1.
    assert comm.loc["C1", "members"] == 5
    assert comm.loc["C1", "dau_rate"] == approx(11 / 35)
    assert comm.loc["C1", "speaking_rate"] == approx(3 / 5)
    # C2 members 2, 2, 3, 3, 3, 4, 4; active 0, 0, 1, 0, 1, 1, 1.
    assert comm.loc["C2", "members"] == 4
    assert comm.loc["C2", "dau_rate"] == approx((1 / 3 + 1 / 3 + 1 / 4 + 1 / 4) / 7)
    assert comm.loc["C2", "speaking_rate"] == approx(2 / 4)
    chan = result.by_channel.set_index("group")
    # wechat members F01, F03, F05, F07 (from Sat), F09: 4,4,4,4,4,5,5; active F01 Mon, Wed, Sat; F05 Thu;
    # F07 Sat; F03 Sun → 1, 0, 1, 1, 0, 2, 1.
    assert chan.loc["wechat", "members"] == 5
    assert chan.loc["wechat", "dau_rate"] == approx((1 / 4 + 0 + 1 / 4 + 1 / 4 + 0 + 2 / 5 + 1 / 5) / 7)
    assert chan.loc["wechat", "repurchase_rate"] == approx(1 / 3)  # buyers F01 (2 orders), F05, F07


def test_content_performance_by_hand(result):
    c = result.content.set_index("content_type")
    assert c.loc["product", ["items", "views", "interactions", "shares", "orders"]].tolist() == [2, 5, 1, 0, 2]
    assert c.loc["educational", ["items", "views", "interactions", "shares", "orders"]].tolist() == [1, 0, 3, 1, 0]
    assert c.loc["interactive", ["items", "interactions"]].tolist() == [2, 2]
    # O6 is attributed to F07's click on E2 the evening before; O2 and O4 have no click in the 24 h before.
    assert c.loc["emotional", ["items", "views", "orders"]].tolist() == [1, 1, 1]
    assert c.loc["entertainment", ["interactions", "shares"]].tolist() == [2, 1]
    assert c.loc["product", "orders_per_item"] == 1.0
    assert c.loc["educational", "interactions_per_item"] == 3.0


def test_publishing_hours_by_hand(result):
    # Interactions (check-ins e10, e11 are not): 12h e4, e18, e22, e23; 21h e5, e12, e13; 20h e3, e8;
    # 13h e7; 10h e17.
    h = result.hours
    assert h.interactions.sum() == 11
    by_hour = h.groupby("hour").interactions.sum()
    assert by_hour[12] == 4 and by_hour[21] == 3 and by_hour[20] == 2 and by_hour[13] == 1 and by_hour[10] == 1
    best = content.best_hours(h)
    assert best.hour.tolist() == [12, 21, 20]
    assert best.share.iloc[0] == approx(4 / 11)
    # Wednesday (2) at 21h: e12, e13.
    assert h.set_index(["weekday", "hour"]).loc[(2, 21), "interactions"] == 2


def test_scorecard_and_gaps(result):
    card = result.scorecard().set_index("kpi")
    assert card.loc["dau_rate", "target"] == 0.55 and card.loc["dau_rate", "good"] == False  # noqa: E712
    assert card.loc["touch_steps", "good"] == True  # 3.4 ≤ 5  # noqa: E712
    assert card.loc["repurchase_interval_days", "good"] == True  # noqa: E712
    assert card.loc["messages_per_1k_day", "relative_gap"] == approx((3 / 56 * 1000 - 89) / 89)
    gaps = benchmarks.biggest_gaps(result.scorecard())
    assert len(gaps) == 3
    # Relative shortfalls: DAU rate 27.0% vs 55% (-50.9%), repurchase 25% vs 50% (-50%), 7-day retention
    # 2/7 vs 50% (-42.9%), messages 53.6 vs 89 (-39.8%), UGC 2/7 vs 40% (-28.6%); speaking 5/9 meets 35%.
    assert gaps[0].startswith("日活跃率") and gaps[1].startswith("复购率") and gaps[2].startswith("7 日留存率")
    en = benchmarks.biggest_gaps(result.scorecard(messages("fan_profiling", "en")), T=messages("fan_profiling", "en"))
    assert en[0] == "Daily active rate is 27.0%, below the target of 55.0% (short by 51%)"


def test_monthly_trend_by_hand(fd):
    tr = K.kpi_trend(fd, AS_OF, months=1)
    assert len(tr) == 1 and tr.month.iloc[0] == dt.date(2025, 3, 1)
    r = tr.iloc[0]
    # March 1–9: 03-01 and 03-02 have 7 members and no activity.
    assert r.dau_rate == approx((0 + 0 + 2 / 7 + 2 / 7 + 3 / 8 + 2 / 8 + 2 / 8 + 2 / 9 + 2 / 9) / 9)
    assert r.speaking_rate == approx(5 / 9)
    assert r.messages_per_1k_day == approx(3 / (56 + 14) * 1000)
    assert r.ugc_share == approx(2 / 7)


def test_window_shape():
    w = window(AS_OF, 7)
    assert w.start == dt.datetime(2025, 3, 3) and w.end == dt.datetime(2025, 3, 10) and w.days == 7
