"""The per-fan profile: RFM scores, fan class and layer of every fan, in one engine expression."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import ibis
import pandas as pd

from fanlib.profiling.errors import ProfilingDataError
from fanlib.profiling.layers import LayerRules, assign_layers, fan_layers
from fanlib.profiling.queries_features import fan_features
from fanlib.profiling.rfm import rfm_scores
from fanlib.profiling.tiers import TierRules, assign_tiers, high_value_threshold
from fanlib.profiling.window import Note, require_events, window

EXPORT_COLUMNS = [
    "fan_id",
    "channel",
    "community_id",
    "join_time",
    "tier",
    "layer",
    "r_score",
    "f_score",
    "m_score",
    "rfm_code",
    "rfm_segment",
    "orders",
    "spend",
    "days_since_order",
    "interactions",
    "orders_total",
    "spend_total",
]


@dataclass
class FanProfile:
    """The profile expression plus the figures that shaped it."""

    table: ibis.Table  # one row per fan: features, RFM, tier, layer
    high_value_spend: float | None  # spend (report currency) from which a fan is high-value (None: nobody spent)
    tier_rules: TierRules
    layer_rules: LayerRules
    notes: list[str] = field(default_factory=list)
    has_events: bool = True  # False: orders-only data, no fan class nor layer (NULL)


def fan_profile(
    fd: Any,
    as_of: Any,
    rfm_window_days: int = 90,
    tier_rules: TierRules | None = None,
    layer_rules: LayerRules | None = None,
) -> FanProfile:
    """RFM (over ``rfm_window_days``), fan class and layer for every fan who joined by ``as_of``
    (the default rules when none are given).

    Without an events table (orders-only data) the RFM scores are computed from the orders as always, but
    the fan class and the layer, which rest on interactions, are NULL (``FanProfile.has_events`` is False)."""
    tier_rules = tier_rules or TierRules()
    layer_rules = layer_rules or LayerRules()
    w = window(as_of, rfm_window_days)
    has_events = fd.has("events")
    if has_events:
        require_events(fd, w)
    notes = []
    feats = fan_features(fd, as_of, rfm_window_days).cache()  # read twice below: compute it once
    threshold = high_value_threshold(fd, feats, tier_rules)
    if threshold is None:
        notes.append(Note("no_spend", {"period": w.period}))
    scored = rfm_scores(feats)
    if not has_events:
        t = scored.mutate(tier=ibis.null("string"), layer=ibis.null("string"))
    else:
        scored = assign_tiers(scored, threshold, tier_rules)
        if layer_rules.window_days == rfm_window_days:
            t = assign_layers(scored, layer_rules)
        else:
            t = scored.left_join(fan_layers(fd, as_of, layer_rules), "fan_id").drop("fan_id_right")
    # Kept as a temporary table in the engine: the sections aggregate it many times, and recomputing the
    # per-fan features from the events table each time would cost seconds per figure on large data.
    t = t.cache()
    counts = fd.execute(t.aggregate(fans=t.count(), silent_no_events=(t.events == 0).ifelse(1, 0).sum()))
    n, idle = int(counts.fans.iloc[0]), int(counts.silent_no_events.iloc[0])
    if n == 0:
        raise ProfilingDataError(
            f"table 'fans' has no fan who joined by {w.as_of} (check: join_time)", "no_fans", as_of=w.as_of
        )
    if idle and has_events:
        notes.append(Note("fans_without_events", {"idle": idle, "n": n, "share": idle / n, "period": w.period}))
    return FanProfile(t, threshold, tier_rules, layer_rules, notes, has_events)


def tier_shares(fd: Any, profile: FanProfile) -> pd.DataFrame:
    """Fans, share (Wilson interval), GMV and GMV share per fan class."""
    from fanlib.profiling.stats import PROFILING_Z
    from fanlib.profiling.tiers import TIERS
    from fanlib.stats.intervals import wilson_interval

    t = profile.table
    df = fd.execute(t.group_by("tier").aggregate(fans=t.count(), gmv=t.spend.sum(), orders=t.orders.sum()))
    df = df.set_index("tier").reindex(list(TIERS)).fillna(0)
    n, gmv = int(df.fans.sum()), float(df.gmv.sum())
    rows = []
    for tier, r in df.iterrows():
        lo, hi = wilson_interval(int(r.fans), n, PROFILING_Z)
        rows.append(
            {
                "tier": tier,
                "fans": int(r.fans),
                "share": r.fans / n if n else None,
                "ci_low": lo,
                "ci_high": hi,
                "orders": int(r.orders),
                "gmv": float(r.gmv),
                "gmv_share": float(r.gmv / gmv) if gmv > 0 else None,
            }
        )
    return pd.DataFrame(rows)
