"""RFM: recency, frequency and monetary value of each fan's purchases, scored 1–5 by quantile.

Scores are computed in the engine over the fans who bought in the window:

* recency R = days from the last order in the window to the end of the analysis day (lower is better);
* frequency F = orders in the window; monetary M = spend in the window (orders.amount_cny, in the report's currency).

Each score is ``1 + floor(5 × percent_rank)``, capped at 5, where percent_rank orders
fans from worst to best (for R, the longest ago first). Ties share the *lowest* rank
of their group (SQL ``PERCENT_RANK``), so equal values always get the same score and
a large tie (e.g. many one-order buyers) is never split across scores by row order.
Fans without an order in the window get score 0 and the segment ``no_purchase``.

The named segments use the widely used R × F grid (Champions, Loyal, …): see
``SEGMENT_RULES``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import ibis
import pandas as pd

from fanlib.profiling.window import Note

#: (segment, R scores, F scores): the standard R × F segment grid, checked in order. Names are ``rfm_<segment>``
#: in the fan_profiling message catalogue.
SEGMENT_RULES = (
    ("champions", (5,), (4, 5)),
    ("loyal", (3, 4), (4, 5)),
    ("potential_loyalist", (4, 5), (2, 3)),
    ("new_customers", (5,), (1,)),
    ("promising", (4,), (1,)),
    ("need_attention", (3,), (3,)),
    ("about_to_sleep", (3,), (1, 2)),
    ("cant_lose", (1, 2), (5,)),
    ("at_risk", (1, 2), (3, 4)),
    ("hibernating", (1, 2), (1, 2)),
)
NO_PURCHASE = "no_purchase"
SEGMENT_ORDER = [k for k, *_ in SEGMENT_RULES] + [NO_PURCHASE]


def _score(col, descending: bool = False):
    order = ibis.desc(col) if descending else ibis.asc(col)
    pr = ibis.percent_rank().over(ibis.window(order_by=order))
    return ibis.least(5, (pr * 5).floor().cast("int64") + 1)


def rfm_scores(features: ibis.Table) -> ibis.Table:
    """Add r_score, f_score, m_score (1–5; 0 without a purchase), rfm_code and rfm_segment to ``features``.

    ``features`` is the table from :func:`fanlib.profiling.queries_features.fan_features`.
    """
    buyers = features.filter(features.orders > 0)
    scored = buyers.mutate(
        r_score=_score(buyers.days_since_order, descending=True),
        f_score=_score(buyers.orders),
        m_score=_score(buyers.spend),
    ).select("fan_id", "r_score", "f_score", "m_score")
    t = features.left_join(scored, "fan_id").drop("fan_id_right")
    t = t.mutate(r_score=t.r_score.fill_null(0), f_score=t.f_score.fill_null(0), m_score=t.m_score.fill_null(0))
    seg = ibis.cases(
        *[((t.r_score.isin(list(r)) & t.f_score.isin(list(f))), key) for key, r, f in SEGMENT_RULES],
        else_=NO_PURCHASE,
    )
    return t.mutate(
        rfm_code=(t.r_score.cast("string") + t.f_score.cast("string") + t.m_score.cast("string")),
        rfm_segment=seg,
    )


@dataclass
class SegmentValue:
    """Fans and GMV per RFM segment; ``notes`` say why a figure is missing."""

    table: pd.DataFrame
    total_gmv: float
    notes: list[str] = field(default_factory=list)

    def share_of(self, segments: Any) -> float | None:
        if self.total_gmv <= 0:
            return None
        return float(self.table.loc[self.table.segment.isin(list(segments)), "gmv"].sum() / self.total_gmv)


def segment_value(fd: Any, scored: ibis.Table) -> SegmentValue:
    """Fans, buyers, GMV and GMV share per RFM segment (aggregated in the engine)."""
    agg = scored.group_by("rfm_segment").aggregate(
        fans=scored.count(),
        gmv=scored.spend.sum(),
        orders=scored.orders.sum(),
        mean_r=scored.days_since_order.mean(),
    )
    df = fd.execute(agg).rename(columns={"rfm_segment": "segment"})
    df = df.set_index("segment").reindex(SEGMENT_ORDER).dropna(subset=["fans"]).reset_index()
    df["fan_share"] = df.fans / df.fans.sum()
    total = float(df.gmv.sum())
    notes = []
    if total > 0:
        df["gmv_share"] = df.gmv / total
    else:
        df["gmv_share"] = 0.0
        notes.append(Note("zero_spend_rfm"))
    if (df.segment == NO_PURCHASE).all():
        notes.append(Note("no_buyers_rfm"))
    df["fans"] = df.fans.astype(int)
    df["orders"] = df.orders.astype(int)
    return SegmentValue(df[["segment", "fans", "fan_share", "orders", "gmv", "gmv_share", "mean_r"]], total, notes)
