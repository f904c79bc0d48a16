"""The demo's calendar and every planted parameter: segments, rates, hazards, experiments, plants.

The truth file (``demo_truth.json``) reports these values; change one here and the data and the
truth change together.
"""

from __future__ import annotations

import numpy as np

from fanlib.data import contract

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


# Hour-of-day shape: peaks at lunch (12-13h) and in the evening (20-22h).
HOUR_PROFILE = np.array(
    [
        0.30,
        0.16,
        0.10,
        0.07,
        0.07,
        0.10,
        0.25,
        0.55,
        0.85,
        0.95,
        1.00,
        1.15,
        1.60,
        1.55,
        1.05,
        0.95,
        0.95,
        1.05,
        1.25,
        1.45,
        1.85,
        1.95,
        1.75,
        0.95,
    ]
)
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

OCCUPATIONS = (
    "white_collar",
    "student",
    "homemaker",
    "freelancer",
    "self_employed",
    "civil_servant",
    "blue_collar",
    "retired",
)
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
    2: [
        ("成都", "四川"),
        ("重庆", "重庆"),
        ("杭州", "浙江"),
        ("武汉", "湖北"),
        ("苏州", "江苏"),
        ("西安", "陕西"),
        ("南京", "江苏"),
        ("长沙", "湖南"),
        ("天津", "天津"),
        ("郑州", "河南"),
        ("东莞", "广东"),
        ("青岛", "山东"),
        ("昆明", "云南"),
        ("宁波", "浙江"),
        ("合肥", "安徽"),
    ],
    3: [
        ("佛山", "广东"),
        ("沈阳", "辽宁"),
        ("无锡", "江苏"),
        ("济南", "山东"),
        ("厦门", "福建"),
        ("福州", "福建"),
        ("温州", "浙江"),
        ("哈尔滨", "黑龙江"),
        ("石家庄", "河北"),
        ("大连", "辽宁"),
        ("南宁", "广西"),
        ("泉州", "福建"),
        ("金华", "浙江"),
        ("贵阳", "贵州"),
        ("常州", "江苏"),
        ("长春", "吉林"),
        ("南昌", "江西"),
        ("南通", "江苏"),
        ("嘉兴", "浙江"),
        ("徐州", "江苏"),
        ("惠州", "广东"),
        ("太原", "山西"),
        ("台州", "浙江"),
        ("绍兴", "浙江"),
        ("保定", "河北"),
        ("中山", "广东"),
        ("潍坊", "山东"),
        ("临沂", "山东"),
        ("珠海", "广东"),
        ("烟台", "山东"),
    ],
    4: [
        ("兰州", "甘肃"),
        ("海口", "海南"),
        ("扬州", "江苏"),
        ("汕头", "广东"),
        ("湖州", "浙江"),
        ("盐城", "江苏"),
        ("洛阳", "河南"),
        ("芜湖", "安徽"),
        ("江门", "广东"),
        ("漳州", "福建"),
        ("揭阳", "广东"),
        ("襄阳", "湖北"),
        ("宜昌", "湖北"),
        ("赣州", "江西"),
        ("绵阳", "四川"),
        ("桂林", "广西"),
        ("莆田", "福建"),
        ("淮安", "江苏"),
        ("镇江", "江苏"),
        ("泰州", "江苏"),
        ("济宁", "山东"),
        ("廊坊", "河北"),
        ("唐山", "河北"),
        ("呼和浩特", "内蒙古"),
        ("乌鲁木齐", "新疆"),
        ("湛江", "广东"),
        ("威海", "山东"),
        ("银川", "宁夏"),
    ],
    5: [
        ("韶关", "广东"),
        ("梅州", "广东"),
        ("河源", "广东"),
        ("潮州", "广东"),
        ("丽水", "浙江"),
        ("衢州", "浙江"),
        ("三明", "福建"),
        ("南平", "福建"),
        ("龙岩", "福建"),
        ("宁德", "福建"),
        ("日照", "山东"),
        ("枣庄", "山东"),
        ("宿州", "安徽"),
        ("六安", "安徽"),
        ("九江", "江西"),
        ("岳阳", "湖南"),
        ("常德", "湖南"),
        ("南阳", "河南"),
        ("遵义", "贵州"),
        ("曲靖", "云南"),
        ("宝鸡", "陕西"),
        ("大庆", "黑龙江"),
    ],
    6: [
        ("铜川", "陕西"),
        ("嘉峪关", "甘肃"),
        ("石嘴山", "宁夏"),
        ("鹤岗", "黑龙江"),
        ("七台河", "黑龙江"),
        ("白山", "吉林"),
        ("张家界", "湖南"),
        ("丽江", "云南"),
        ("黄山", "安徽"),
        ("防城港", "广西"),
        ("汕尾", "广东"),
        ("云浮", "广东"),
    ],
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
INTERACTIVE_TYPES = contract.ENGAGED_TYPES  # what churn calls interactive too
#: Events per alive day, by segment and type (check-ins are added for participants).
EVENT_RATES = {
    "core": {
        "view": 0.15,
        "visit": 0.10,
        "click": 0.01,
        "live_watch": 0.02,
        "like": 0.19,
        "comment": 0.10,
        "share": 0.08,
        "message": 0.07,
        "ugc_post": 0.10,
    },
    "active": {
        "view": 0.15,
        "visit": 0.10,
        "click": 0.005,
        "live_watch": 0.01,
        "like": 0.11,
        "comment": 0.05,
        "share": 0.06,
        "message": 0.01,
        "ugc_post": 0.005,
    },
    "potential": {
        "view": 0.16,
        "visit": 0.09,
        "click": 0.02,
        "live_watch": 0.02,
        "like": 0.02,
        "comment": 0.006,
        "share": 0.004,
    },
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

COUPON = dict(
    start="2025-10-01",
    days=7,
    window_days=28,
    eligible_share=0.5,
    treatment_share=0.5,
    target_lift=0.03,
    amount=(150.0, 0.6),
)
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
ASPECT_P = {
    "quality": 0.20,
    "logistics": 0.17,
    "price": 0.15,
    "service": 0.12,
    "authenticity": 0.08,
    "packaging": 0.09,
    "effect": 0.13,
    "live": 0.06,
}
SECOND_ASPECT_P = 0.3  # comments that also remark on a second aspect
OWN_CHANNEL_P = 0.7  # comments written on the fan's own channel
LABEL_SHARE = 0.10

CRISIS = dict(
    start="2025-08-18",
    end="2025-08-20",
    multipliers={"weibo": 7.0, "xiaohongshu": 7.0, "douyin": 2.0, "wechat": 2.0, "qq": 2.0, "live": 2.0},
    day_weights=[0.30, 0.45, 0.25],
    baseline_days=28,
)

PII_SHARE = 0.002
PII_KINDS = ("phone", "wechat", "email", "id_number")
PII_P = np.array([0.4, 0.3, 0.15, 0.15])

DOUYIN_DROP = dict(channel="douyin", start="2025-12-03", end="2025-12-05", factor=0.5)


def _hours_between(first_day: str, last_day: str) -> slice:
    return slice(_hour(first_day), _hour(last_day) + 24)


def _choice(rng, p: np.ndarray, n: int) -> np.ndarray:
    """Vectorized categorical draw (indices into p)."""
    return np.minimum(np.searchsorted(np.cumsum(p), rng.random(n) * p.sum(), side="right"), len(p) - 1)


def _lognormal_mean(median: float, sigma: float) -> float:
    return float(median * np.exp(sigma**2 / 2))
