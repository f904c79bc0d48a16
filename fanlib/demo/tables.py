"""Writing the demo into DuckDB: table definitions, Arrow column helpers and the counters kept while writing."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fanlib.data import contract
from fanlib.demo.config import _START_US, CHANNELS, N_DAYS, PII_KINDS

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
