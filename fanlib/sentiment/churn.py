"""The link to retention: do fans who write negative comments churn more?

Fans are compared if they wrote at least one comment before the cut-off
(``as_of`` − ``churn_days``). A fan is *churned* when they have no event and no
comment in the ``churn_days`` days up to ``as_of``. Group A, the negative
commenters: fans at least ``negative_share`` (default half) of whose comments
before the cut-off are negative; group B: the other commenters. (Counting any
single negative comment would put most frequent commenters in group A, since a
busy fan sooner or later writes one, and frequent commenters churn less.) Counted in the engine; the rates, their difference (Newcombe interval)
and ratio (log interval) are computed from the four counts.
"""

from __future__ import annotations

import ibis
import pandas as pd

from fanlib.sentiment.stats import TwoRates


def negative_commenter_churn(fd, scored, as_of, churn_days: int = 30, negative_share: float = 0.5) -> TwoRates:
    """Churn rate of negative commenters (A) against other commenters (B)."""
    as_of_end = pd.Timestamp(as_of).normalize() + pd.Timedelta(days=1)
    cutoff = as_of_end - pd.Timedelta(days=churn_days)
    c = scored.table
    before = c.filter(c.comment_time < cutoff)
    writers = before.group_by("fan_id").aggregate(n=before.count(), neg=before.is_negative.sum())
    writers = writers.select("fan_id", negative=((writers.neg / writers.n) >= negative_share).ifelse(1, 0))
    ev = fd.events
    recent_events = ev.filter((ev.event_time >= cutoff) & (ev.event_time < as_of_end)).select("fan_id").distinct()
    recent_comments = c.filter((c.comment_time >= cutoff) & (c.comment_time < as_of_end)).select("fan_id").distinct()
    active = recent_events.union(recent_comments, distinct=True).mutate(active=ibis.literal(1))
    joined = writers.left_join(active, writers.fan_id == active.fan_id)
    churned = joined.active.isnull().ifelse(1, 0)  # PostgreSQL cannot cast boolean to bigint
    agg = joined.group_by(joined.negative).aggregate(n=joined.count(), churned=churned.sum())
    counts = fd.execute(agg, label="sentiment:churn_link").set_index("negative")
    get = lambda g, col: int(counts.loc[g, col]) if g in counts.index else 0  # noqa: E731
    if get(1, "n") == 0 or get(0, "n") == 0:
        raise ValueError(
            f"cannot compare churn: {get(1, 'n')} negative commenters and {get(0, 'n')} other "
            f"commenters before {cutoff:%Y-%m-%d}"
        )
    return TwoRates(k_a=get(1, "churned"), n_a=get(1, "n"), k_b=get(0, "churned"), n_b=get(0, "n"))
