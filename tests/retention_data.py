"""Small hand-made fan data sets for the retention tests, written to DuckDB and opened with connect()."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd


def write_duckdb(
    path: Path, fans: pd.DataFrame, events: pd.DataFrame, orders: pd.DataFrame, comments: pd.DataFrame | None = None
) -> Path:
    con = duckdb.connect(str(path))
    for name, df in (("fans", fans), ("events", events), ("orders", orders), ("comments", comments)):
        if df is not None:
            con.register("tmp_df", df)
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM tmp_df")
            con.unregister("tmp_df")
    con.close()
    return path


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
