"""A tiny, hand-checkable fan data set: 10 fans, one week of events (2025-03-03 … 2025-03-09).

Used by the profiling tests, whose expected figures are worked out by hand from the rows below.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

AS_OF = "2025-03-09"

FANS = [
    # fan_id, join_time, channel, community_id, gender, birth_year, province, city_tier, occupation
    ("F01", "2025-02-24 00:00:00", "wechat", "C1", "female", 1995, "广东", 1, "white_collar"),
    ("F02", "2025-02-20 12:00:00", "douyin", "C1", "female", 2001, "浙江", 2, "student"),
    ("F03", "2025-01-01 00:00:00", "wechat", "C1", "male", 1988, "广东", 1, "white_collar"),
    ("F04", "2025-01-29 10:00:00", "xiaohongshu", "C1", "female", 1992, "上海", 1, "homemaker"),
    ("F05", "2024-11-30 00:00:00", "wechat", "C1", "female", 1979, "江苏", 2, "white_collar"),
    ("F06", "2025-03-05 09:00:00", "douyin", "C2", "male", 2003, "北京", 1, "student"),
    ("F07", "2025-03-08 20:00:00", "wechat", "C2", "female", 1990, "四川", 2, "freelancer"),
    ("F08", "2025-02-01 00:00:00", "weibo", "C2", "unknown", None, "广东", 3, "white_collar"),
    ("F09", "2025-01-15 00:00:00", "wechat", "C2", "female", 1985, "山东", 3, "homemaker"),
    ("F10", "2025-03-12 00:00:00", "wechat", "C2", "female", 1998, "福建", 3, "student"),
]

EVENTS = [
    # fan_id, event_time, event_type, community_id, content_id, content_type
    ("F01", "2025-03-03 10:00:00", "view", "C1", "P1", "product"),  # e1
    ("F01", "2025-03-03 10:05:00", "click", "C1", "P1", "product"),  # e2
    ("F01", "2025-03-03 20:00:00", "like", "C1", "E1", "educational"),  # e3
    ("F01", "2025-03-05 12:00:00", "comment", "C1", "E1", "educational"),  # e4
    ("F01", "2025-03-08 21:00:00", "message", "C1", None, None),  # e5
    ("F02", "2025-03-04 12:30:00", "view", "C1", "P1", "product"),  # e6
    ("F02", "2025-03-06 13:00:00", "ugc_post", "C1", "U1", "interactive"),  # e7
    ("F02", "2025-03-07 20:00:00", "share", "C1", "E1", "educational"),  # e8
    ("F03", "2025-03-09 21:00:00", "view", "C1", "P2", "product"),  # e9
    ("F04", "2025-03-03 21:00:00", "checkin", "C1", None, None),  # e10
    ("F04", "2025-03-04 21:00:00", "checkin", "C1", None, None),  # e11
    ("F04", "2025-03-05 21:00:00", "message", "C1", None, None),  # e12
    ("F04", "2025-03-05 21:30:00", "message", "C1", None, None),  # e13
    ("F05", "2025-03-06 12:00:00", "view", "C1", "P2", "product"),  # e14
    ("F05", "2025-03-06 12:10:00", "click", "C1", "P2", "product"),  # e15
    ("F06", "2025-03-05 10:00:00", "view", "C2", "P1", "product"),  # e16
    ("F06", "2025-03-05 10:01:00", "like", "C2", "P1", "product"),  # e17
    ("F06", "2025-03-09 12:00:00", "ugc_post", "C2", "U2", "interactive"),  # e18
    ("F07", "2025-03-08 20:30:00", "view", "C2", "E2", "emotional"),  # e19
    ("F07", "2025-03-08 20:31:00", "click", "C2", "E2", "emotional"),  # e20
    ("F08", "2025-03-07 12:00:00", "view", "C2", "E3", "entertainment"),  # e21
    ("F08", "2025-03-07 12:02:00", "share", "C2", "E3", "entertainment"),  # e22
    ("F08", "2025-03-07 12:05:00", "comment", "C2", "E3", "entertainment"),  # e23
]

ORDERS = [
    # order_id, fan_id, order_time, amount_cny, campaign_id, source
    ("O1", "F01", "2025-03-03 11:00:00", 100.0, None, "community"),
    ("O2", "F01", "2025-03-08 22:00:00", 50.0, None, "community"),
    ("O3", "F02", "2025-02-25 09:00:00", 80.0, None, "private_domain"),
    ("O4", "F02", "2025-03-07 20:30:00", 120.0, None, "community"),
    ("O5", "F05", "2025-03-06 15:00:00", 200.0, None, "public_domain"),
    ("O6", "F07", "2025-03-09 10:00:00", 60.0, None, "community"),
]


def frames(fans=FANS, events=EVENTS, orders=ORDERS) -> dict[str, pd.DataFrame]:
    f = pd.DataFrame(
        fans,
        columns=[
            "fan_id",
            "join_time",
            "channel",
            "community_id",
            "gender",
            "birth_year",
            "province",
            "city_tier",
            "occupation",
        ],
    )
    f["join_time"] = pd.to_datetime(f.join_time)
    f["birth_year"] = f.birth_year.astype("Int64")
    f["age"] = pd.array([None] * len(f), dtype="Int64")
    f["city"] = None
    e = pd.DataFrame(
        events, columns=["fan_id", "event_time", "event_type", "community_id", "content_id", "content_type"]
    )
    e["event_time"] = pd.to_datetime(e.event_time)
    o = pd.DataFrame(orders, columns=["order_id", "fan_id", "order_time", "amount_cny", "campaign_id", "source"])
    o["order_time"] = pd.to_datetime(o.order_time)
    o["amount_cny"] = o.amount_cny.astype(float)
    return {"fans": f, "events": e, "orders": o}


def write(path: Path, tables: dict[str, pd.DataFrame] | None = None) -> Path:
    """Write the tables into a DuckDB file with contract column types."""
    tables = tables or frames()
    types = {
        "fans": {
            "fan_id": "VARCHAR",
            "join_time": "TIMESTAMP",
            "channel": "VARCHAR",
            "community_id": "VARCHAR",
            "gender": "VARCHAR",
            "birth_year": "BIGINT",
            "province": "VARCHAR",
            "city_tier": "BIGINT",
            "occupation": "VARCHAR",
            "age": "BIGINT",
            "city": "VARCHAR",
        },
        "events": {
            "fan_id": "VARCHAR",
            "event_time": "TIMESTAMP",
            "event_type": "VARCHAR",
            "community_id": "VARCHAR",
            "content_id": "VARCHAR",
            "content_type": "VARCHAR",
        },
        "orders": {
            "order_id": "VARCHAR",
            "fan_id": "VARCHAR",
            "order_time": "TIMESTAMP",
            "amount_cny": "DOUBLE",
            "campaign_id": "VARCHAR",
            "source": "VARCHAR",
        },
    }
    con = duckdb.connect(str(path))
    try:
        for name, df in tables.items():
            cols = ", ".join(f'"{c}" {t}' for c, t in types[name].items())
            con.execute(f"CREATE OR REPLACE TABLE {name} ({cols})")
            if len(df):
                con.register("src", df[list(types[name])])
                con.execute(f"INSERT INTO {name} SELECT * FROM src")
                con.unregister("src")
    finally:
        con.close()
    return path


def connect_tiny(path: Path, **kwargs):
    from fanlib.data.fandata import connect

    return connect(write(path, **kwargs), validate=False)
