"""The planted-crisis benchmark: simulated comment streams with planted negative crises and
positive distractor spikes, built from labelled texts the model never trained on.

Each stream is ``days`` daily bins over six channels. Ordinary days draw positive and
negative comments per channel from Poisson counts with a weekly cycle. A *crisis* adds
extra negative comments for 2–4 days, spread over 1–3 channels: per day between 2.5 and 5
times (``crisis_size``) the stream's usual daily negatives, so negative volume reaches
3.5–6 times normal. A *distractor* multiplies positive volume by
``distractor_size`` on every channel for 3–11 days, like a Double-11 campaign. The texts
themselves are sampled from the held-out labelled pool and scored by the model (or, for
the upper bound, by their true labels), so the detector sees the model's real errors.

A crisis is *detected* when an alert overlaps its days (or the day after); the delay is
the alert's first bin minus the crisis' first bin. An alert that overlaps no crisis is a
false alert.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from fanlib.sentiment.crisis import CrisisParams, detect

if TYPE_CHECKING:
    from fanlib.sentiment.crisis import Alert
    from fanlib.sentiment.model import SentimentModel

CHANNELS = ("wechat", "weibo", "douyin", "xiaohongshu", "qq", "live")
BASE_VOLUME = np.array([40.0, 15.0, 25.0, 20.0, 8.0, 10.0])  # comments per day and channel


@dataclass
class StreamSpec:
    days: int = 365
    negative_share: float = 0.12
    weekly_amplitude: float = 0.2
    n_crises: int = 3
    n_distractors: int = 3
    crisis_size: tuple[float, float] = (2.5, 5.0)
    distractor_size: tuple[float, float] = (2.0, 4.0)
    warmup_days: int = 35


@dataclass
class Planted:
    kind: str  # "crisis" or "distractor"
    start: int
    days: int
    channels: list[str]
    size: float


@dataclass
class Stream:
    counts_true: pd.DataFrame  # bin, channel, n, n_neg with true labels
    counts_model: pd.DataFrame  # the same with the model's negatives
    planted: list[Planted] = field(default_factory=list)
    days: int = 365


def _place(rng, spec: StreamSpec, n: int, length_range, taken: np.ndarray) -> list[tuple[int, int]]:
    out = []
    for _ in range(n):
        for _try in range(200):
            length = int(rng.integers(length_range[0], length_range[1] + 1))
            start = int(rng.integers(spec.warmup_days, spec.days - length - 2))
            if not taken[max(0, start - 10) : start + length + 10].any():
                taken[start : start + length] = True
                out.append((start, length))
                break
    return out


def simulate_stream(
    rng: np.random.Generator,
    spec: StreamSpec,
    neg_pool_p: np.ndarray,
    pos_pool_p: np.ndarray,
    negative_threshold: float,
) -> Stream:
    """One stream. ``neg_pool_p``/``pos_pool_p``: the model's P(positive) for held-out negative and
    positive texts; sampled comments inherit them."""
    d, c = spec.days, len(CHANNELS)
    day = np.arange(d)
    weekly = 1 + spec.weekly_amplitude * np.sin(2 * np.pi * day / 7)
    mu_neg = np.outer(weekly, BASE_VOLUME * spec.negative_share)
    mu_pos = np.outer(weekly, BASE_VOLUME * (1 - spec.negative_share))
    taken = np.zeros(d, dtype=bool)
    planted = []
    for start, length in _place(rng, spec, spec.n_crises, (2, 4), taken):
        k = int(rng.integers(1, 4))
        chans = sorted(rng.choice(c, size=k, replace=False).tolist())
        size = float(rng.uniform(*spec.crisis_size))
        extra = size * mu_neg.sum(axis=1).mean()  # extra negatives per day, whole stream
        share = rng.dirichlet(np.ones(k))
        for j, ch in enumerate(chans):
            mu_neg[start : start + length, ch] += extra * share[j]
        planted.append(Planted("crisis", start, length, [CHANNELS[i] for i in chans], size))
    for start, length in _place(rng, spec, spec.n_distractors, (3, 11), taken):
        size = float(rng.uniform(*spec.distractor_size))
        mu_pos[start : start + length, :] *= size
        planted.append(Planted("distractor", start, length, list(CHANNELS), size))
    n_neg_true = rng.poisson(mu_neg)
    n_pos_true = rng.poisson(mu_pos)
    # Score sampled texts: each comment is a random held-out text of its true label.
    neg_flag_rate_draws = _flagged(rng, n_neg_true, neg_pool_p, negative_threshold)
    pos_flag_draws = _flagged(rng, n_pos_true, pos_pool_p, negative_threshold)
    bins = pd.date_range("2025-01-01", periods=d, freq="D")
    long = lambda a: a.reshape(-1)  # noqa: E731
    base = pd.DataFrame(
        {"bin": np.repeat(bins, c), "channel": np.tile(CHANNELS, d), "n": long(n_neg_true + n_pos_true)}
    )
    counts_true = base.assign(n_neg=long(n_neg_true))
    counts_model = base.assign(n_neg=long(neg_flag_rate_draws + pos_flag_draws))
    return Stream(counts_true, counts_model, planted, d)


def _flagged(rng, counts: np.ndarray, pool_p: np.ndarray, threshold: float) -> np.ndarray:
    total = int(counts.sum())
    flags = (pool_p[rng.integers(0, len(pool_p), size=total)] < threshold).astype(np.int64)
    ends = np.cumsum(counts.reshape(-1))
    csum = np.r_[0, np.cumsum(flags)]
    return (csum[ends] - csum[np.r_[0, ends[:-1]]]).reshape(counts.shape)


@dataclass
class Score:
    """Detection quality over many streams."""

    crises: int
    detected: int
    alerts: int
    true_alerts: int
    false_alerts: int
    days: int
    delays: list[int]
    distractor_alerts: int

    @property
    def recall(self) -> float:
        return self.detected / self.crises if self.crises else float("nan")

    @property
    def precision(self) -> float:
        return self.true_alerts / self.alerts if self.alerts else 1.0

    @property
    def false_alerts_per_30_days(self) -> float:
        return self.false_alerts / (self.days / 30)

    @property
    def median_delay(self) -> float:
        return float(np.median(self.delays)) if self.delays else float("nan")

    def as_dict(self) -> dict:
        d = asdict(self)
        d.pop("delays")
        return {
            **d,
            "recall": self.recall,
            "precision": self.precision,
            "false_alerts_per_30_days": self.false_alerts_per_30_days,
            "median_delay_bins": self.median_delay,
        }


def score_alerts(alerts: list[Alert], stream: Stream) -> Score:
    origin = stream.counts_true["bin"].min()
    spans = [((a.start - origin).days, (a.end - origin).days) for a in alerts]
    crises = [p for p in stream.planted if p.kind == "crisis"]
    distractors = [p for p in stream.planted if p.kind == "distractor"]
    detected, delays, true_alerts = 0, [], set()
    for p in crises:
        hits = [i for i, (s, e) in enumerate(spans) if s <= p.start + p.days and e >= p.start]
        if hits:
            detected += 1
            delays.append(max(0, min(spans[i][0] for i in hits) - p.start))
            true_alerts.update(hits)
    false = [i for i in range(len(spans)) if i not in true_alerts]
    on_distractor = sum(
        1 for i in false for p in distractors if spans[i][0] <= p.start + p.days and spans[i][1] >= p.start
    )
    return Score(len(crises), detected, len(spans), len(true_alerts), len(false), stream.days, delays, on_distractor)


def _add(a: Score | None, b: Score) -> Score:
    if a is None:
        return b
    return Score(
        a.crises + b.crises,
        a.detected + b.detected,
        a.alerts + b.alerts,
        a.true_alerts + b.true_alerts,
        a.false_alerts + b.false_alerts,
        a.days + b.days,
        a.delays + b.delays,
        a.distractor_alerts + b.distractor_alerts,
    )


def run(
    neg_pool_p: np.ndarray,
    pos_pool_p: np.ndarray,
    n_streams: int = 20,
    seed: int = 0,
    spec: StreamSpec | None = None,
    params: CrisisParams | dict | None = None,
    negative_threshold: float = 0.2,
) -> dict[str, Score]:
    """Run the benchmark: the detector on the model's scores, on true labels (upper bound), and
    the volume-only detector; the same streams for all three."""
    spec = spec or StreamSpec()
    params = params if isinstance(params, CrisisParams) else CrisisParams.from_dict(params)
    rng = np.random.default_rng(seed)
    totals: dict[str, Score | None] = {"model": None, "true_labels": None, "volume_only": None}
    for _ in range(n_streams):
        s = simulate_stream(rng, spec, neg_pool_p, pos_pool_p, negative_threshold)
        bins = pd.DatetimeIndex(sorted(s.counts_true["bin"].unique()))
        for name, counts, mode in (
            ("model", s.counts_model, "sentiment"),
            ("true_labels", s.counts_true, "sentiment"),
            ("volume_only", s.counts_true, "volume"),
        ):
            alerts, _ = detect(counts, params, mode=mode, bins=bins)
            totals[name] = _add(totals[name], score_alerts(alerts, s))
    return totals  # type: ignore[return-value]


def held_out_pools(model: SentimentModel, corpus: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The model's P(positive) for the corpus' held-out negative and positive test texts."""
    test = corpus[(corpus["split"] == "test") & corpus["label"].notna()]
    p = model.predict_proba(test["text"].tolist())
    y = test["label"].astype(int).to_numpy()
    return p[y == 0], p[y == 1]


def results_frame(results: dict[str, Score]) -> pd.DataFrame:
    """The three detectors side by side."""
    rows = []
    for name, s in results.items():
        rows.append(
            {
                "detector": name,
                **{
                    k: v
                    for k, v in s.as_dict().items()
                    if k
                    in (
                        "crises",
                        "detected",
                        "alerts",
                        "false_alerts",
                        "recall",
                        "precision",
                        "false_alerts_per_30_days",
                        "median_delay_bins",
                        "distractor_alerts",
                    )
                },
            }
        )
    return pd.DataFrame(rows)


def jieba_tokens(text: str) -> list[str]:
    """Word tokens for the comparison with character n-grams: jieba words, emoticons and emoji kept whole."""
    from fanlib.sentiment import features
    from fanlib.sentiment.drivers import _jieba

    out: list[str] = []
    if "[" in text:
        out += features.EMOTICON.findall(text)
        text = features.EMOTICON.sub(" ", text)
    out += features.EMOJI.findall(text)
    text = features.EMOJI.sub(" ", text)
    return out + [w for w in _jieba().lcut(text, HMM=True) if w.strip()]


def tokenisation_comparison(corpus: pd.DataFrame, C: float = 8.0, min_df: int = 2) -> pd.DataFrame:
    """Character n-grams against jieba word tokens (and words plus word bigrams), each with the same
    TF-IDF and logistic regression, trained on the corpus' train split and measured on its test split:
    accuracy, macro-F1, AUC, seconds to train, and texts per second to featurise and score."""
    import time

    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from fanlib.sentiment import features
    from fanlib.sentiment.card import Metrics

    trad = features.traditional_map()
    labelled = corpus[corpus["label"].notna()]
    train = labelled[labelled["split"] == "train"]
    test = labelled[labelled["split"] == "test"]
    if train.empty or test.empty:
        raise ValueError("tokenisation_comparison: the corpus needs train and test splits")
    norm_train = [features.normalize(t, trad) for t in train["text"]]
    norm_test = [features.normalize(t, trad) for t in test["text"]]

    def word_bigrams(text):
        w = jieba_tokens(text)
        return w + [a + " " + b for a, b in zip(w, w[1:], strict=False)]

    rows = []
    for name, analyzer in (
        ("char 1-3 grams", features.tokens),
        ("jieba words", jieba_tokens),
        ("jieba words + bigrams", word_bigrams),
    ):
        started = time.perf_counter()
        vec = TfidfVectorizer(analyzer=analyzer, binary=True, min_df=min_df, dtype=np.float32)
        clf = LogisticRegression(C=C, solver="liblinear", max_iter=1000)
        clf.fit(vec.fit_transform(norm_train), train["label"].astype(int).to_numpy())
        train_s = time.perf_counter() - started
        started = time.perf_counter()
        p = clf.predict_proba(vec.transform(norm_test))[:, 1]
        score_s = time.perf_counter() - started
        m = Metrics.of(test["label"].astype(int).to_numpy(), p)
        rows.append(
            {
                "features": name,
                "n_features": len(vec.vocabulary_),
                "accuracy": m.accuracy,
                "macro_f1": m.macro_f1,
                "auc": m.auc,
                "train_seconds": train_s,
                "texts_per_second": len(norm_test) / score_s,
            }
        )
    return pd.DataFrame(rows)
