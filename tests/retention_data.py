"""Small hand-made fan data sets for the retention tests, written to DuckDB and opened with connect()."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from helpers import frames_to_duckdb


def write_duckdb(
    path: Path, fans: pd.DataFrame, events: pd.DataFrame, orders: pd.DataFrame, comments: pd.DataFrame | None = None
) -> Path:
    """The four tables as a DuckDB file (the shared helper, in the retention tests' argument order)."""
    return frames_to_duckdb({"fans": fans, "events": events, "orders": orders, "comments": comments}, path)


def random_fans(n: int = 400, seed: int = 0, start="2025-01-01", days: int = 120, end="2025-06-30"):
    """Fans joining over ``days`` days, each active on random later days until a random churn day."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp(start)
    end = pd.Timestamp(end)
    ids = [f"F{i:05d}" for i in range(n)]
    join = (
        start
        + pd.to_timedelta(rng.integers(0, days, n), unit="D")
        + pd.to_timedelta(rng.integers(0, 86400, n), unit="s")
    )
    channels = rng.choice(["wechat", "douyin", "weibo"], n)
    fans = pd.DataFrame(
        {
            "fan_id": ids,
            "join_time": join,
            "channel": channels,
            "community_id": rng.choice(["C1", "C2", "C3"], n),
            "city_tier": rng.integers(1, 4, n),
        }
    )
    life = rng.exponential(60, n)
    rows = []
    for fid, j, lifetime in zip(ids, join, life, strict=True):
        last = min(j + pd.Timedelta(days=float(lifetime)), end + pd.Timedelta(hours=23))
        span = (last - j).total_seconds()
        k = rng.poisson(max(span, 0) / 86400 * 0.4) + 1
        offs = np.sort(rng.uniform(0, max(span, 1), k))
        for o in offs:
            rows.append((fid, j + pd.Timedelta(seconds=float(o)), "view"))
    events = pd.DataFrame(rows, columns=["fan_id", "event_time", "event_type"])
    events = events[events.event_time <= end + pd.Timedelta(hours=23, minutes=59)]
    buy = events.sample(frac=0.05, random_state=seed)
    orders = pd.DataFrame(
        {
            "order_id": [f"O{i:06d}" for i in range(len(buy))],
            "fan_id": buy.fan_id.values,
            "order_time": buy.event_time.values,
            "amount_cny": rng.lognormal(4, 0.5, len(buy)),
        }
    )
    return fans, events.reset_index(drop=True), orders


def year_end_data():
    """Fans joining either side of ISO week 1 of 2025 (Monday 30 Dec 2024) and of a month end."""
    joins = {
        "A": "2024-12-29 20:00",  # Sunday: ISO week 2024-W52
        "B": "2024-12-30 09:00",  # Monday: ISO week 2025-W01, though still in December
        "C": "2025-01-01 12:00",  # 2025-W01
        "D": "2025-01-31 18:00",  # January; ISO week 2025-W05
        "E": "2025-02-01 08:00",  # February; ISO week 2025-W05
    }
    active = {
        "A": ["2024-12-30", "2025-01-05"],  # calendar week 1 (both); fixed 7 days: period 0, then 1
        "B": ["2025-01-05", "2025-01-06"],  # calendar week 0, then 1
        "C": ["2025-01-06", "2025-03-31"],  # the data ends on 31 March
        "D": ["2025-02-01"],  # calendar month 1, but day 1: fixed 30-day period 0
        "E": ["2025-02-28", "2025-03-01"],  # calendar month 0, then 1; fixed 30 days: both period 0
    }
    fans = pd.DataFrame(
        {
            "fan_id": list(joins),
            "join_time": pd.to_datetime(list(joins.values())),
            "channel": "wechat",
            "community_id": "C1",
            "city_tier": 1,
        }
    )
    events = pd.DataFrame(
        [(f, pd.Timestamp(d) + pd.Timedelta(hours=12), "view") for f, days in active.items() for d in days],
        columns=["fan_id", "event_time", "event_type"],
    )
    orders = pd.DataFrame(
        {"order_id": ["O1"], "fan_id": ["E"], "order_time": [pd.Timestamp("2025-02-28 13:00")], "amount_cny": [9.5]}
    )
    return fans, events, orders


def orders_only_source(path: Path, n: int = 400, seed: int = 11, channels: bool = True):
    """A shop's purchase log: every activity of :func:`random_fans` is an order (no events, no comments
    table). With ``channels`` a fans table gives channel, community and city tier; without, there is no
    fans table at all and the data layer derives the fans from the orders (joining at the first order)."""
    from fanlib.data.fandata import connect

    fans, events, _ = random_fans(n=n, seed=seed)
    rng = np.random.default_rng(seed)
    orders = pd.DataFrame(
        {
            "order_id": [f"O{i:06d}" for i in range(len(events))],
            "fan_id": events["fan_id"].to_numpy(),
            "order_time": events["event_time"].to_numpy(),
            "amount_cny": rng.lognormal(3.5, 0.6, len(events)).round(2),
        }
    )
    return connect(frames_to_duckdb({"fans": fans if channels else None, "orders": orders}, path))
