"""RFM: recency, frequency and monetary value of each fan's purchases, scored 1–5 by quantile.

Scores are computed in the engine over the fans who bought in the window:

* recency R = days from the last order in the window to the end of the analysis day (lower is better);
* frequency F = orders in the window; monetary M = spend in the window (CNY).

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

import ibis
import pandas as pd

#: (segment, Chinese name, R scores, F scores): the standard R × F segment grid, checked in order.
SEGMENT_RULES = (
    ("champions", "重要价值客户 Champions", (5,), (4, 5)),
    ("loyal", "忠诚客户 Loyal", (3, 4), (4, 5)),
    ("potential_loyalist", "潜力客户 Potential loyalist", (4, 5), (2, 3)),
    ("new_customers", "新客户 New customers", (5,), (1,)),
    ("promising", "有潜力新客 Promising", (4,), (1,)),
    ("need_attention", "需要关注 Need attention", (3,), (3,)),
    ("about_to_sleep", "即将沉睡 About to sleep", (3,), (1, 2)),
    ("cant_lose", "不能失去 Can't lose them", (1, 2), (5,)),
    ("at_risk", "有流失风险 At risk", (1, 2), (3, 4)),
    ("hibernating", "休眠客户 Hibernating", (1, 2), (1, 2)),
)
NO_PURCHASE = ("no_purchase", "窗口内未购买 No purchase in window")
SEGMENT_NAMES = {k: name for k, name, _, _ in SEGMENT_RULES} | {NO_PURCHASE[0]: NO_PURCHASE[1]}
SEGMENT_ORDER = [k for k, *_ in SEGMENT_RULES] + [NO_PURCHASE[0]]


def _score(col, descending: bool = False):
    order = ibis.desc(col) if descending else ibis.asc(col)
    pr = ibis.percent_rank().over(ibis.window(order_by=order))
    return ibis.least(5, (pr * 5).floor().cast("int64") + 1)


def rfm_scores(features: ibis.Table) -> ibis.Table:
    """Add r_score, f_score, m_score (1–5; 0 without a purchase), rfm_code and rfm_segment to ``features``.

    ``features`` is the table from :func:`fanlib.profiling.features.fan_features`.
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
        *[((t.r_score.isin(list(r)) & t.f_score.isin(list(f))), key) for key, _, r, f in SEGMENT_RULES],
        else_=NO_PURCHASE[0],
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

    def share_of(self, segments) -> float | None:
        if self.total_gmv <= 0:
            return None
        return float(self.table.loc[self.table.segment.isin(list(segments)), "gmv"].sum() / self.total_gmv)


def segment_value(fd, scored: ibis.Table) -> SegmentValue:
    """Fans, buyers, GMV and GMV share per RFM segment (aggregated in the engine)."""
    agg = scored.group_by("rfm_segment").aggregate(
        fans=scored.count(), gmv=scored.spend.sum(), orders=scored.orders.sum(),
        mean_r=scored.days_since_order.mean(),
    )
    df = fd.execute(agg).rename(columns={"rfm_segment": "segment"})
    df = df.set_index("segment").reindex(SEGMENT_ORDER).dropna(subset=["fans"]).reset_index()
    df["name"] = df.segment.map(SEGMENT_NAMES)
    df["fan_share"] = df.fans / df.fans.sum()
    total = float(df.gmv.sum())
    notes = []
    if total > 0:
        df["gmv_share"] = df.gmv / total
    else:
        df["gmv_share"] = 0.0
        notes.append("All spend in the window is zero (orders.amount_cny sums to 0): "
                     "GMV shares by segment are not defined and are shown as 0.")
    if (df.segment == NO_PURCHASE[0]).all():
        notes.append("No fan bought in the window (table 'orders' has no rows in it): RFM scores are all 0.")
    df["fans"] = df.fans.astype(int)
    df["orders"] = df.orders.astype(int)
    return SegmentValue(df[["segment", "name", "fans", "fan_share", "orders", "gmv", "gmv_share", "mean_r"]],
                        total, notes)
