"""Alert details for the report: affected communities, driver keywords, masked example
comments (the recommended actions are in ``narrative.what_to_do``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from ibis import _

from fanlib.present.privacy import mask_pii
from fanlib.sentiment.crisis import Alert, CrisisParams
from fanlib.sentiment.drivers import log_odds, term_counts

if TYPE_CHECKING:
    from fanlib.data.tables import FanData
    from fanlib.sentiment.queries import ScoredComments

_BIN = {"hour": pd.Timedelta(hours=1), "day": pd.Timedelta(days=1), "week": pd.Timedelta(days=7)}


def _window(table, start, end_exclusive):
    return table.filter((table.comment_time >= start) & (table.comment_time < end_exclusive))


def enrich(
    fd: FanData,
    scored: ScoredComments,
    alerts: list[Alert],
    params: CrisisParams,
    freq: str = "day",
    n_drivers: int = 8,
    n_examples: int = 5,
    n_communities: int = 5,
) -> list[Alert]:
    """Fill each alert's communities, driver keywords and masked example comments (in place)."""
    step = _BIN[freq]
    for alert in alerts:
        start, end = alert.start, alert.end + step
        base_start = start - step * params.baseline_bins * params.season
        span_bins = max((end - start) / step, 1.0)
        base_bins = max((start - base_start) / step, 1.0)
        t = scored.table.filter(scored.table.has_text == 1)
        now, before = _window(t, start, end), _window(t, base_start, start)

        # Communities whose negatives rose the most against their own baseline rate.
        comm_now = now.filter(now.is_negative == 1).group_by("community_id").aggregate(now=_.count())
        comm_base = before.filter(before.is_negative == 1).group_by("community_id").aggregate(base=_.count())
        comm = fd.execute(
            comm_now.left_join(comm_base, "community_id").select("community_id", "now", "base"),
            label="sentiment:alert:communities",
        )
        if len(comm):
            expected = comm["base"].fillna(0).astype(float) * span_bins / base_bins
            comm["expected"] = expected
            comm["z"] = (comm["now"] - expected) / np.sqrt(np.maximum(expected, 1.0))
            comm = comm[comm["z"] >= params.channel_z].sort_values(["z", "community_id"], ascending=[False, True])
            comm = comm.head(n_communities)
            alert.communities = [
                {
                    "community_id": r.community_id,
                    "negatives": int(r.now),
                    "expected": round(float(r.expected), 1),
                    "z": round(float(r.z), 1),
                }
                for r in comm.itertuples()
                if r.community_id is not None
            ]

        # Driver keywords: negative comments now against all comments in the baseline.
        neg_now = fd.execute(
            now.filter(now.is_negative == 1).group_by("text").aggregate(k=_.count()),
            label="sentiment:alert:negative_texts",
        )
        base_texts = before.group_by("text").aggregate(k=_.count())
        base_texts = fd.execute(
            base_texts.order_by([base_texts.k.desc(), base_texts.text]).limit(50_000),
            label="sentiment:alert:baseline_texts",
        )
        drivers = log_odds(term_counts(neg_now["text"], neg_now["k"]), term_counts(base_texts["text"], base_texts["k"]))
        drivers = drivers[drivers["z"] >= 1.96].head(n_drivers)
        alert.drivers = drivers["term"].tolist()

        # Examples: the most repeated negative comments that name the top driver, masked first, so
        # comments that differ only in a contact detail count as the one comment a reader sees.
        examples = neg_now.assign(text=neg_now["text"].map(mask_pii)).groupby("text", as_index=False)["k"].sum()
        examples = examples.sort_values(["k", "text"], ascending=[False, True])  # ties by text: stable across runs
        if alert.drivers:
            named = examples[examples["text"].str.contains(alert.drivers[0], regex=False)]
            examples = pd.concat([named, examples[~examples.index.isin(named.index)]])
        alert.examples = examples["text"].head(n_examples).tolist()
    return alerts
