"""The sentiment report's reads of the comments, all in the engine (DuckDB, PostgreSQL, …).

The model scores each *distinct* comment text once in Python; the scores go back into the engine as
a small table joined on the text, once: the scored comments are kept as a temporary table in the
engine, and every count, mean and share is then aggregated there. Only per-bin sufficient statistics
(n, sum of P(positive), sum of squares, negative count) come back into pandas, where
:mod:`fanlib.sentiment.monitor` turns them into the index and the negative share.

* P(positive): the model's calibrated probability that a comment is positive.
* A comment counts as **negative** when P(positive) < ``negative_threshold`` (default 0.2, i.e. the
  model is at least 80% sure it is negative): questions and neutral remarks sit in the middle of the
  scale and should not count.

The link to retention (``negative_commenter_churn``): do fans who write negative comments churn more?
Fans are compared if they wrote at least one comment before the cut-off (``as_of`` − ``churn_days``).
A fan is *churned* when they have no event and no comment in the ``churn_days`` days up to ``as_of``.
Group A, the negative commenters: fans at least ``negative_share`` (default half) of whose comments
before the cut-off are negative; group B: the other commenters. (Counting any single negative comment
would put most frequent commenters in group A, since a busy fan sooner or later writes one, and
frequent commenters churn less.) The rates, their difference (Newcombe interval) and ratio (log
interval) are computed from the four counts in :class:`fanlib.sentiment.stats.TwoRates`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import ibis
import pandas as pd

from fanlib.sentiment.errors import ChurnComparisonError, NoCommentsError
from fanlib.sentiment.monitor import finish_stats
from fanlib.sentiment.stats import TwoRates

if TYPE_CHECKING:
    from fanlib.data.tables import FanData
    from fanlib.sentiment.model import SentimentModel

#: A day as the report's parameters give it: a date, a timestamp or an ISO string.
DayLike = pd.Timestamp | date | str

#: Bin sizes understood by ``aggregate``: name -> ibis truncate unit.
FREQS = {"hour": "h", "day": "D", "week": "W"}
#: Dimensions ``aggregate`` can split by (comments columns, the fan's city tier, and the fan's layer
#: in the four-layer model — core, active, potential, silent — as of the analysis day).
DIMENSIONS = ("channel", "community_id", "content_id", "city_tier", "fan_layer")
DEFAULT_NEGATIVE_THRESHOLD = 0.2


@dataclass
class ScoredComments:
    """Comments with their scores, as an engine table, plus how the scoring went.

    ``table`` has the comments' columns plus ``p_pos`` (calibrated P(positive)),
    ``is_negative`` (0/1) and ``has_text`` (0/1); it is a temporary table of the data
    source's connection, computed once.
    """

    table: object
    n_comments: int
    n_texts: int
    seconds: float
    negative_threshold: float
    first: pd.Timestamp
    last: pd.Timestamp
    # The scores' in-memory table: on engines where ``table`` stays a view over it (Spark), ibis
    # drops it once nothing refers to it, so it lives as long as the scored comments.
    scores_input: object = None

    @property
    def texts_per_second(self) -> float:
        return self.n_texts / self.seconds if self.seconds > 0 else float("nan")


def score_comments(
    fd: FanData,
    model: SentimentModel | None = None,
    negative_threshold: float = DEFAULT_NEGATIVE_THRESHOLD,
    start: DayLike | None = None,
    end: DayLike | None = None,
) -> ScoredComments:
    """Score every comment of ``fd`` (optionally between ``start`` and ``end``, inclusive dates).

    Raises ``NoCommentsError`` with a clear message when the source has no comments table or no
    comment in the window."""
    from fanlib.sentiment.store import load_model

    if not 0 < negative_threshold < 1:
        raise ValueError(f"negative_threshold must lie between 0 and 1 (got {negative_threshold})")
    if not fd.has("comments"):
        raise NoCommentsError(
            "the data source has no comments table, so sentiment monitoring is not available; "
            "add a 'comments' table (comment_id, fan_id, comment_time, channel, text)"
        )
    model = model or load_model()
    comments = fd.comments
    if start is not None:
        comments = comments.filter(comments.comment_time >= pd.Timestamp(start))
    if end is not None:
        comments = comments.filter(comments.comment_time < pd.Timestamp(end) + pd.Timedelta(days=1))
    stats = fd.execute(
        comments.aggregate(n=comments.count(), first=comments.comment_time.min(), last=comments.comment_time.max()),
        label="sentiment:comment_range",
    )
    n = int(stats["n"].iloc[0])
    if n == 0:
        raise NoCommentsError(
            "the comments table has no comment in the analysis window "
            f"({start or 'start'} to {end or 'end'}); nothing to score"
        )
    texts = fd.execute(
        comments.select("text").distinct().filter(lambda t: t.text.notnull()), label="sentiment:distinct_texts"
    )["text"]
    started = time.perf_counter()
    proba = model.predict_proba(texts.tolist())
    seconds = time.perf_counter() - started
    scores = ibis.memtable(pd.DataFrame({"score_text": texts.astype(str).to_numpy(), "p_pos": proba}))
    joined = comments.left_join(scores, comments.text == scores.score_text).drop("score_text")
    p = joined.p_pos.fill_null(0.5)
    # ifelse rather than a cast: PostgreSQL cannot cast boolean to bigint.
    has_text = (joined.text.notnull() & (joined.text.strip().length() > 0)).ifelse(1, 0)
    table = joined.mutate(p_pos=p, is_negative=(p < negative_threshold).ifelse(1, 0), has_text=has_text)
    # Kept as a temporary table in the engine: every later section reads it, and redoing the join
    # on the text for each of some twenty queries would cost about a second each at two million comments.
    # ibis 12's Spark backend caches without first registering the in-memory scores; do it here.
    register = getattr(fd.con, "_run_pre_execute_hooks", None)
    if register is not None:
        register(table)
    table = table.cache()
    return ScoredComments(
        table=table,
        n_comments=n,
        n_texts=len(texts),
        seconds=seconds,
        negative_threshold=negative_threshold,
        first=pd.Timestamp(stats["first"].iloc[0]),
        last=pd.Timestamp(stats["last"].iloc[0]),
        scores_input=scores,
    )


def _bin(col, freq: str):
    if freq not in FREQS:
        raise ValueError(f"freq must be one of {', '.join(FREQS)} (got {freq!r})")
    return col.truncate(FREQS[freq])


def _with_dimension(fd, table, by: str | None, as_of=None):
    if by is None or by in table.columns and by not in ("city_tier", "fan_layer"):
        return table
    if by == "city_tier":
        fans = fd.fans.select("fan_id", city_tier=fd.fans.city_tier)
        return table.left_join(fans, table.fan_id == fans.fan_id).drop("fan_id_right")
    if by == "fan_layer":
        from fanlib.profiling.layers import fan_layers

        if as_of is None:
            raise ValueError("splitting by fan_layer needs the analysis day (as_of): layers change over time")
        layers = fan_layers(fd, as_of).select("fan_id", fan_layer="layer")
        return table.left_join(layers, table.fan_id == layers.fan_id).drop("fan_id_right")
    raise ValueError(f"cannot split comments by {by!r}; use one of {', '.join(DIMENSIONS)}")


def aggregate(
    fd: FanData,
    scored: ScoredComments,
    freq: str = "day",
    by: str | None = None,
    start: DayLike | None = None,
    end: DayLike | None = None,
) -> pd.DataFrame:
    """Volume, mean sentiment, index and negative share per time bin (and per ``by`` value).

    Runs in the engine; returns one row per bin (and group) with: n, n_neg, mean_p, index
    (with a 95% interval), neg_share with a 95% Wilson interval. Without ``by``, bins with no
    comment are filled with n = 0 (their means are missing)."""
    t = _with_dimension(fd, scored.table, by)
    t = t.filter(t.has_text == 1)
    bin_ = _bin(t.comment_time, freq).name("bin")
    keys = [bin_] + ([t[by].name(by)] if by else [])
    agg = t.group_by(keys).aggregate(
        n=t.count(), sum_p=t.p_pos.sum(), sum_p2=(t.p_pos * t.p_pos).sum(), n_neg=t.is_negative.sum()
    )
    df = fd.execute(agg, label=f"sentiment:aggregate:{freq}:{by or 'all'}")
    df["bin"] = pd.to_datetime(df["bin"])
    if by is None:
        lo = pd.Timestamp(start) if start is not None else scored.first
        hi = pd.Timestamp(end) if end is not None else scored.last
        full = pd.date_range(_floor(lo, freq), _floor(hi, freq), freq=_pandas_freq(freq))
        df = df.set_index("bin").reindex(full).rename_axis("bin").reset_index()
        df[["n", "n_neg", "sum_p", "sum_p2"]] = df[["n", "n_neg", "sum_p", "sum_p2"]].fillna(0)
    df[["n", "n_neg"]] = df[["n", "n_neg"]].astype("int64")
    df = finish_stats(df).sort_values(["bin"] + ([by] if by else [])).reset_index(drop=True)
    return df[
        ["bin"]
        + ([by] if by else [])
        + ["n", "n_neg", "neg_share", "neg_low", "neg_high", "mean_p", "index", "index_low", "index_high"]
    ]


def _pandas_freq(freq: str) -> str:
    return {"hour": "h", "day": "D", "week": "W-MON"}[freq]


def _floor(ts: pd.Timestamp, freq: str) -> pd.Timestamp:
    if freq == "week":
        return (ts - pd.Timedelta(days=ts.weekday())).normalize()
    return ts.floor(_pandas_freq(freq))


def breakdown(
    fd: FanData,
    scored: ScoredComments,
    by: str,
    start: DayLike | None = None,
    end: DayLike | None = None,
    top: int | None = None,
    as_of: DayLike | None = None,
) -> pd.DataFrame:
    """Volume, negative share (Wilson interval) and mean sentiment per value of ``by``
    (channel, community_id, content_id, city_tier, or fan_layer as of ``as_of``) over a window,
    largest volume first."""
    t = _with_dimension(fd, scored.table, by, as_of)
    t = t.filter(t.has_text == 1)
    if start is not None:
        t = t.filter(t.comment_time >= pd.Timestamp(start))
    if end is not None:
        t = t.filter(t.comment_time < pd.Timestamp(end) + pd.Timedelta(days=1))
    agg = t.group_by(t[by].name(by)).aggregate(
        n=t.count(), sum_p=t.p_pos.sum(), sum_p2=(t.p_pos * t.p_pos).sum(), n_neg=t.is_negative.sum()
    )
    agg = agg.order_by([ibis.desc("n"), by])  # ties broken by value: the same top rows on every run
    if top:
        agg = agg.limit(top)
    df = finish_stats(fd.execute(agg, label=f"sentiment:breakdown:{by}"))
    return df[[by, "n", "n_neg", "neg_share", "neg_low", "neg_high", "mean_p", "index"]].reset_index(drop=True)


def channel_counts(fd: FanData, scored: ScoredComments, freq: str = "day") -> pd.DataFrame:
    """Per bin and channel: volume n and negative count n_neg (long form), for the crisis detector."""
    df = aggregate(fd, scored, freq=freq, by="channel")
    return df[["bin", "channel", "n", "n_neg"]]


def negative_commenter_churn(
    fd: FanData, scored: ScoredComments, as_of: DayLike, churn_days: int = 30, negative_share: float = 0.5
) -> TwoRates:
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
        raise ChurnComparisonError(negative=get(1, "n"), other=get(0, "n"), cutoff=f"{cutoff:%Y-%m-%d}")
    return TwoRates(k_a=get(1, "churned"), n_a=get(1, "n"), k_b=get(0, "churned"), n_b=get(0, "n"))


def labelled_scores(fd: FanData, scored: ScoredComments) -> pd.DataFrame:
    """The distinct comment texts that carry a human label (positive or negative), with their score."""
    t = scored.table
    lab = t.filter(t.label.isin(["positive", "negative"]) & (t.has_text == 1))
    return fd.execute(lab.group_by(["text", "label"]).aggregate(p_pos=lab.p_pos.max()), label="sentiment:labelled")
