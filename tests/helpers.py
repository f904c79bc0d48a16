"""Helpers shared by the tests: small contract-conforming data sets, and DuckDB files made of frames."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from fanlib.data import contract


def sample_tables(n_fans: int = 40, seed: int = 0) -> dict:
    """A small data set that meets the contract (all five tables), as pandas DataFrames.

    For tests of loaders and checks; the demo generator (``fanlib.demo``) makes the realistic data set.
    """
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2025-01-01")
    fan_ids = [f"F{i:05d}" for i in range(n_fans)]
    fans = pd.DataFrame(
        {
            "fan_id": fan_ids,
            "join_time": start + pd.to_timedelta(rng.integers(0, 60 * 86400, n_fans), unit="s"),
            "gender": rng.choice(contract.GENDERS, n_fans),
            "birth_year": rng.integers(1975, 2006, n_fans),
            "province": rng.choice(["广东", "上海", "浙江", "四川"], n_fans),
            "city": rng.choice(["深圳", "上海", "杭州", "成都"], n_fans),
            "city_tier": rng.integers(1, 7, n_fans),
            "channel": rng.choice(contract.CHANNELS, n_fans),
            "community_id": rng.choice(["C01", "C02", "C03"], n_fans),
        }
    )
    n_events = n_fans * 10
    events = pd.DataFrame(
        {
            "fan_id": rng.choice(fan_ids, n_events),
            "event_time": start + pd.to_timedelta(rng.integers(60 * 86400, 120 * 86400, n_events), unit="s"),
            "event_type": rng.choice(contract.EVENT_TYPES, n_events),
            "community_id": rng.choice(["C01", "C02", "C03"], n_events),
            "content_id": [f"P{i:03d}" for i in rng.integers(0, 50, n_events)],
            "content_type": rng.choice(contract.CONTENT_TYPES, n_events),
        }
    )
    n_orders = n_fans * 2
    orders = pd.DataFrame(
        {
            "order_id": [f"O{i:06d}" for i in range(n_orders)],
            "fan_id": rng.choice(fan_ids, n_orders),
            "order_time": start + pd.to_timedelta(rng.integers(60 * 86400, 120 * 86400, n_orders), unit="s"),
            "amount_cny": np.round(rng.lognormal(4.5, 0.8, n_orders), 2),
            "campaign_id": rng.choice(["spring", "618"], n_orders),
            "source": rng.choice(contract.ORDER_SOURCES, n_orders),
        }
    )
    n_comments = n_fans
    comments = pd.DataFrame(
        {
            "comment_id": [f"M{i:05d}" for i in range(n_comments)],
            "fan_id": rng.choice(fan_ids, n_comments),
            "comment_time": start + pd.to_timedelta(rng.integers(60 * 86400, 120 * 86400, n_comments), unit="s"),
            "channel": rng.choice(contract.CHANNELS, n_comments),
            "text": rng.choice(["很喜欢这款面霜", "物流太慢了", "还行吧", "客服态度很好"], n_comments),
            "label": rng.choice(contract.SENTIMENT_LABELS, n_comments),
        }
    )
    assignments = pd.DataFrame(
        {
            "experiment_id": "exp_coupon",
            "fan_id": fan_ids,
            "variant": rng.choice(["control", "treatment"], n_fans),
            "assigned_time": start + pd.Timedelta(days=61),
        }
    )
    return {"fans": fans, "events": events, "orders": orders, "comments": comments, "assignments": assignments}


def frames_to_duckdb(
    tables: Mapping[str, pd.DataFrame | None], path: str | Path, *, session_timezone: str | None = None
) -> Path:
    """A DuckDB file at ``path`` with one table per frame, named after its key (``None`` frames are left out).

    The column types are DuckDB's reading of the frames (naive datetimes become TIMESTAMP, aware ones
    TIMESTAMPTZ). ``session_timezone`` sets the writing session's zone first, for tests of aware times.
    """
    path = Path(path)
    con = duckdb.connect(str(path))
    try:
        if session_timezone is not None:
            con.execute(f"SET TimeZone = '{session_timezone}'")
        for name, frame in tables.items():
            if frame is None:
                continue
            con.register("frame", frame)
            con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM frame')
            con.unregister("frame")
    finally:
        con.close()
    return path
