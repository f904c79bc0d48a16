"""What fans say more in one group of comments than in another: log-odds ratios with an
informative Dirichlet prior (Monroe, Colaresi & Quinn 2008), on jieba words.

For a word w with counts y_a, y_b in groups a and b (totals n_a, n_b) and prior
α_w = α_0 × (w's share of all words in both groups):

    δ_w = log((y_a + α_w) / (n_a + α_0 − y_a − α_w)) − log((y_b + α_w) / (n_b + α_0 − y_b − α_w))
    z_w = δ_w / sqrt(1 / (y_a + α_w) + 1 / (y_b + α_w))

The prior shrinks rare words towards zero, so a word seen twice does not top the list.
Also here: the aspect breakdown (quality, logistics, price, …) computed in the engine.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from ibis import _

from fanlib.present.privacy import PLACEHOLDER, mask_pii
from fanlib.stats.intervals import wilson

if TYPE_CHECKING:
    from fanlib.data.tables import FanData
    from fanlib.sentiment.queries import DayLike, ScoredComments

#: Aspects and the words that mark them (matched as substrings, in the engine).
ASPECT_KEYWORDS = {
    "quality": ("质量", "做工", "质感", "用料", "坏了", "粗糙", "瑕疵"),
    "logistics": ("物流", "快递", "发货", "送货", "到货", "收到", "配送"),
    "price": ("价格", "性价比", "贵", "便宜", "降价", "划算", "优惠"),
    "service": ("客服", "售后", "退款", "态度", "退货", "回复"),
    "authenticity": ("正品", "假货", "防伪", "专柜", "真假", "假的"),
    "packaging": ("包装", "漏液", "破损", "礼盒", "压烂"),
    "effect": ("效果", "过敏", "皮肤", "味道", "刺痛", "红疹", "上脸"),
    "live": ("直播", "主播", "开播", "直播间"),
}

_KEEP = re.compile(r"^(?:[\u4e00-\u9fff]{2,}|[a-z]{3,}|\[[^\]]+\])$")
_EMOTICON = re.compile(r"\[[^\[\]]{1,8}\]")


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from fanlib.sentiment.corpus import snownlp_folder

    words = {
        "一个",
        "这个",
        "那个",
        "什么",
        "怎么",
        "还是",
        "就是",
        "真的",
        "我们",
        "你们",
        "他们",
        "自己",
        "已经",
        "可以",
        "没有",
        "不是",
        "感觉",
        "时候",
        "觉得",
        "这样",
        "还有",
        "一下",
        "家人",
        "姐妹",
        "说真的",
    }
    path = snownlp_folder().parent / "normal" / "stopwords.txt"
    if path.exists():
        words |= {w.strip() for w in path.read_text(encoding="utf-8", errors="ignore").splitlines() if w.strip()}
    return frozenset(words)


@lru_cache(maxsize=1)
def _jieba():
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def words(text: str) -> list[str]:
    """Content words of a comment: jieba words of two or more Chinese characters, English words,
    and platform emoticons; stop words, personal details and mask placeholders dropped."""
    if not isinstance(text, str) or not text.strip():
        return []
    return list(_words(text))


@lru_cache(maxsize=200_000)
def _words(text: str) -> tuple[str, ...]:
    # Comments repeat a lot, and several tables segment the same texts: cache per text.
    # Masked details are left out whole: a placeholder such as [手机号已隐藏] is no driver keyword.
    text = PLACEHOLDER.sub(" ", mask_pii(text))
    emoticons = _EMOTICON.findall(text)
    text = _EMOTICON.sub(" ", text)
    # jieba segments each run of Chinese/Latin characters on its own and cuts everything else into
    # single characters, which no kept word can be; so segmenting the runs alone, each cached (far
    # fewer distinct runs than texts: comments are built from common phrases), gives the same words.
    han = _jieba().re_han_default
    out = [w for block in han.split(text) if block and han.match(block) for w in _block_words(block)]
    return tuple(out + emoticons)


@lru_cache(maxsize=200_000)
def _block_words(block: str) -> tuple[str, ...]:
    stop = _stopwords()
    return tuple(w.lower() for w in _jieba().lcut(block, HMM=False) if _KEEP.match(w.lower()) and w not in stop)


def term_counts(texts: pd.Series, weights: pd.Series | None = None) -> Counter:
    """Word counts over texts (each text weighted by how often it occurs)."""
    counts: Counter = Counter()
    weights = weights if weights is not None else pd.Series(1, index=texts.index)
    for text, w in zip(texts, weights, strict=True):
        for word in set(words(text)):
            counts[word] += int(w)
    return counts


def log_odds(counts_a: Counter, counts_b: Counter, prior_strength: float = 500.0, min_count: int = 3) -> pd.DataFrame:
    """Log-odds ratio of each word in group a against group b, with an informative Dirichlet
    prior from both groups together; sorted by z (most typical of a first)."""
    vocab = sorted(w for w in set(counts_a) | set(counts_b) if counts_a.get(w, 0) + counts_b.get(w, 0) >= min_count)
    if not vocab:
        return pd.DataFrame(columns=["term", "count_a", "count_b", "delta", "z"])
    ya = np.array([counts_a.get(w, 0) for w in vocab], dtype=float)
    yb = np.array([counts_b.get(w, 0) for w in vocab], dtype=float)
    na, nb = float(sum(counts_a.values())), float(sum(counts_b.values()))
    background = (ya + yb) / (ya + yb).sum()
    alpha0 = prior_strength
    alpha = alpha0 * background
    delta = np.log((ya + alpha) / (na + alpha0 - ya - alpha)) - np.log((yb + alpha) / (nb + alpha0 - yb - alpha))
    z = delta / np.sqrt(1 / (ya + alpha) + 1 / (yb + alpha))
    return (
        pd.DataFrame({"term": vocab, "count_a": ya.astype(int), "count_b": yb.astype(int), "delta": delta, "z": z})
        .sort_values("z", ascending=False)
        .reset_index(drop=True)
    )


def _texts_with_counts(fd, table, label: str, limit: int = 50_000) -> pd.DataFrame:
    grouped = table.filter(table.has_text == 1).group_by("text").aggregate(k=_.count())
    # Ties at the limit are broken by text, so the same texts are kept on every run.
    return fd.execute(grouped.order_by([grouped.k.desc(), grouped.text]).limit(limit), label=label)


def negative_drivers(
    fd: FanData,
    scored: ScoredComments,
    start: DayLike | None = None,
    end: DayLike | None = None,
    top: int = 15,
    limit: int = 50_000,
) -> pd.DataFrame:
    """Words that separate negative comments from the rest over a window (z ≥ 1.96 is significant)."""
    t = _window(scored.table, start, end)
    neg = _texts_with_counts(fd, t.filter(t.is_negative == 1), "sentiment:drivers:negative", limit)
    rest = _texts_with_counts(fd, t.filter(t.is_negative == 0), "sentiment:drivers:rest", limit)
    table = log_odds(term_counts(neg["text"], neg["k"]), term_counts(rest["text"], rest["k"]))
    return table.rename(columns={"count_a": "in_negative", "count_b": "in_rest"}).head(top)


def emerging_terms(
    fd: FanData,
    scored: ScoredComments,
    as_of: DayLike,
    days: int = 7,
    baseline_days: int = 56,
    top: int = 15,
    limit: int = 50_000,
) -> pd.DataFrame:
    """Words said more in the last ``days`` days up to ``as_of`` than in the ``baseline_days`` before."""
    as_of = pd.Timestamp(as_of).normalize()
    recent_start = as_of - pd.Timedelta(days=days - 1)
    base_start = recent_start - pd.Timedelta(days=baseline_days)
    recent = _texts_with_counts(fd, _window(scored.table, recent_start, as_of), "sentiment:emerging:recent", limit)
    base = _texts_with_counts(
        fd, _window(scored.table, base_start, recent_start - pd.Timedelta(days=1)), "sentiment:emerging:baseline", limit
    )
    table = log_odds(term_counts(recent["text"], recent["k"]), term_counts(base["text"], base["k"]))
    return table.rename(columns={"count_a": "this_period", "count_b": "baseline"}).head(top)


def example_comments(
    fd: FanData,
    scored: ScoredComments,
    start: DayLike | None = None,
    end: DayLike | None = None,
    top: int = 5,
    limit: int = 50_000,
) -> pd.DataFrame:
    """The most repeated negative comments over a window, the most clearly negative first among equally
    repeated ones; masked before counting, so comments that differ only in a contact detail count as the
    one comment a reader sees. Columns ``example`` and ``comments``."""
    t = _window(scored.table, start, end)
    t = t.filter((t.is_negative == 1) & (t.has_text == 1))
    grouped = t.group_by("text").aggregate(k=_.count(), p=t.p_pos.max())
    neg = fd.execute(grouped.order_by([grouped.k.desc(), grouped.text]).limit(limit), label="sentiment:examples")
    neg["example"] = neg["text"].map(mask_pii)
    masked = neg.groupby("example", as_index=False).agg(k=("k", "sum"), p=("p", "max"))
    masked = masked.sort_values(["k", "p", "example"], ascending=[False, True, True])  # ties by text: stable
    return masked[["example", "k"]].rename(columns={"k": "comments"}).head(top).reset_index(drop=True)


def _window(table, start=None, end=None):
    if start is not None:
        table = table.filter(table.comment_time >= pd.Timestamp(start))
    if end is not None:
        table = table.filter(table.comment_time < pd.Timestamp(end) + pd.Timedelta(days=1))
    return table


def aspects(
    fd: FanData, scored: ScoredComments, start: DayLike | None = None, end: DayLike | None = None
) -> pd.DataFrame:
    """Per aspect: how many negative and other comments mention it (counted in the engine), the
    share of negative comments that mention it, and the aspect's negative rate with a Wilson interval."""
    from fanlib.present.i18n import messages

    zh = messages("sentiment", "zh")  # the summary names each aspect in Chinese too, whatever the report's language
    t = _window(scored.table, start, end)
    t = t.filter(t.has_text == 1)
    # Keywords are searched once per distinct text (comments repeat a lot), weighted by its counts.
    per_text = t.group_by("text").aggregate(n=t.count(), n_neg=t.is_negative.sum())
    metrics = {"n_negative": per_text.n_neg.sum(), "n_all": per_text.n.sum()}
    for aspect, keys in ASPECT_KEYWORDS.items():
        hit = per_text.text.re_search("|".join(re.escape(k) for k in keys))
        metrics[f"{aspect}__neg"] = hit.ifelse(per_text.n_neg, 0).sum()
        metrics[f"{aspect}__all"] = hit.ifelse(per_text.n, 0).sum()
    row = fd.execute(per_text.aggregate(**metrics), label="sentiment:aspects").iloc[0]
    rows = []
    for aspect in ASPECT_KEYWORDS:
        k, n = (0 if pd.isna(row[f"{aspect}__{part}"]) else int(row[f"{aspect}__{part}"]) for part in ("neg", "all"))
        rate, low, high = wilson([k], [n])
        rows.append(
            {
                "aspect": aspect,
                "aspect_zh": zh(f"aspect_{aspect}"),
                "mentions": n,
                "negative_mentions": k,
                "share_of_negative": k / row["n_negative"] if row["n_negative"] else np.nan,
                "negative_rate": rate[0],
                "negative_rate_low": low[0],
                "negative_rate_high": high[0],
            }
        )
    return pd.DataFrame(rows).sort_values("negative_mentions", ascending=False).reset_index(drop=True)
