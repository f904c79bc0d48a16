"""Orders (organic, Double-11 and the exp_coupon campaign orders) and the experiment assignments."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from fanlib.demo.config import (
    CHANNELS,
    COUPON,
    DOUBLE11,
    N_DAYS,
    ORDER_AMOUNT,
    ORDER_RATES,
    ORDER_SOURCE_P,
    ORDER_SOURCES,
    SEGMENTS,
    _choice,
    _hours_between,
)
from fanlib.demo.tables import _ChunkContext, _ids, _take, _ts


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
    return pa.table(
        {
            "order_id": _ids("O", first, owner.size, 9),
            "fan_id": _take(ctx.fan_ids, gfan),
            "order_time": _ts(t),
            "amount_cny": pa.array(amount, type=pa.float64()),
            "campaign_id": pa.array(campaign, type=pa.string()),
            "source": _take(pa.array(ORDER_SOURCES), source),
        }
    )


def _assignments_table(fan_ids, coupon, push) -> pa.Table:
    rows = []
    for exp_id, e in (("exp_coupon", coupon), ("exp_checkin_push", push)):
        rows.append(
            pa.table(
                {
                    "experiment_id": pa.array([exp_id] * e["fans"].size, pa.string()),
                    "fan_id": _take(fan_ids, e["fans"]),
                    "variant": pa.array(np.where(e["treatment"], "treatment", "control"), pa.string()),
                    "assigned_time": _ts(e["assigned"]),
                }
            )
        )
    return pa.concat_tables(rows)
