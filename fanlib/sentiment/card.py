"""The model card: how well the sentiment model does on labelled texts it never trained on.

Metrics: accuracy, macro-F1, ROC AUC, Brier score and the expected calibration
error (ECE: the share-weighted gap between mean predicted probability and the
observed positive rate over ten equal-width probability bins), with the same
figures for SnowNLP on the same texts and a paired bootstrap interval for the
accuracy difference.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import ArrayLike

    from fanlib.sentiment.model import SentimentModel


@dataclass
class Metrics:
    """Classification and calibration metrics of P(positive) against 0/1 labels."""

    n: int
    accuracy: float
    macro_f1: float
    auc: float
    ece: float
    brier: float

    @classmethod
    def of(cls, labels: ArrayLike, proba: ArrayLike, threshold: float = 0.5) -> Metrics:
        from sklearn.metrics import accuracy_score, brier_score_loss, f1_score, roc_auc_score

        y = np.asarray(labels, dtype=int)
        p = np.asarray(proba, dtype=float)
        if len(y) == 0:
            raise ValueError("no labelled texts to evaluate on")
        pred = (p >= threshold).astype(int)
        auc = float(roc_auc_score(y, p)) if len(np.unique(y)) == 2 else float("nan")
        return cls(
            n=int(len(y)),
            accuracy=float(accuracy_score(y, pred)),
            macro_f1=float(f1_score(y, pred, average="macro")),
            auc=auc,
            ece=expected_calibration_error(y, p),
            brier=float(brier_score_loss(y, p)),
        )


def reliability_table(labels: ArrayLike, proba: ArrayLike, bins: int = 10) -> pd.DataFrame:
    """Per probability bin: count, mean predicted probability, observed positive rate."""
    y = np.asarray(labels, dtype=float)
    p = np.asarray(proba, dtype=float)
    idx = np.minimum((p * bins).astype(int), bins - 1)
    df = pd.DataFrame({"bin": idx, "p": p, "y": y})
    out = df.groupby("bin").agg(n=("y", "size"), mean_predicted=("p", "mean"), observed=("y", "mean")).reset_index()
    out["low"] = out["bin"] / bins
    out["high"] = (out["bin"] + 1) / bins
    return out[["low", "high", "n", "mean_predicted", "observed"]]


def expected_calibration_error(labels, proba, bins: int = 10) -> float:
    """ECE over equal-width bins: sum over bins of (bin share) x |mean predicted - observed|."""
    t = reliability_table(labels, proba, bins)
    return float((t["n"] / t["n"].sum() * (t["mean_predicted"] - t["observed"]).abs()).sum())


def paired_bootstrap_diff(
    labels: ArrayLike, proba_a: ArrayLike, proba_b: ArrayLike, n_boot: int = 2000, seed: int = 0
) -> tuple[float, float, float]:
    """Accuracy of A minus accuracy of B on the same texts, with a 95% percentile bootstrap interval."""
    y = np.asarray(labels, dtype=int)
    ca = ((np.asarray(proba_a) >= 0.5).astype(int) == y).astype(float)
    cb = ((np.asarray(proba_b) >= 0.5).astype(int) == y).astype(float)
    d = ca - cb
    rng = np.random.default_rng(seed)
    boots = d[rng.integers(0, len(d), size=(n_boot, len(d)))].mean(axis=1)
    return float(d.mean()), float(np.quantile(boots, 0.025)), float(np.quantile(boots, 0.975))


def mcnemar(labels: ArrayLike, proba_a: ArrayLike, proba_b: ArrayLike) -> dict:
    """Exact McNemar test on the texts where exactly one of A and B is right: ``a_only`` and
    ``b_only`` count them, ``p_value`` is the two-sided binomial p-value of a_only against b_only."""
    from scipy.stats import binomtest

    y = np.asarray(labels, dtype=int)
    ca = (np.asarray(proba_a) >= 0.5).astype(int) == y
    cb = (np.asarray(proba_b) >= 0.5).astype(int) == y
    a_only, b_only = int((ca & ~cb).sum()), int((cb & ~ca).sum())
    p = float(binomtest(a_only, a_only + b_only, 0.5).pvalue) if a_only + b_only else 1.0
    return {"a_only": a_only, "b_only": b_only, "p_value": p}


def fan_comment_evaluation(model: SentimentModel, seed: int = 0) -> dict:
    """Both models on the fan-comment evaluation set (``corpus.fan_comments_eval``), which neither
    trained on: metrics on the positive and negative comments, the paired bootstrap interval and
    McNemar test of the accuracy difference, per-aspect accuracy, and how the neutral comments score."""
    from fanlib.sentiment import corpus as corpus_mod

    ev = corpus_mod.fan_comments_eval()
    polar = ev[ev["y"].notna()]
    y = polar["y"].astype(int).to_numpy()
    ours, sn = model.predict_proba(polar["text"].tolist()), snownlp_proba(polar["text"].tolist())
    est, low, high = paired_bootstrap_diff(y, ours, sn, seed=seed)
    right_ours = (ours >= 0.5).astype(int) == y
    right_sn = (sn >= 0.5).astype(int) == y
    by_aspect = (
        pd.DataFrame({"aspect": polar["aspect"].to_numpy(), "fanlib": right_ours, "snownlp": right_sn})
        .groupby("aspect")
        .agg(n=("fanlib", "size"), fanlib=("fanlib", "mean"), snownlp=("snownlp", "mean"))
    )
    neutral = ev.loc[ev["label"] == "neutral", "text"].tolist()
    out = {
        "n": int(len(polar)),
        "n_positive": int(y.sum()),
        "n_negative": int(len(y) - y.sum()),
        "set_hash": corpus_mod.eval_set_hash(),
        "fanlib": asdict(Metrics.of(y, ours)),
        "snownlp": asdict(Metrics.of(y, sn)),
        "accuracy_diff": {"estimate": est, "low": low, "high": high},
        "mcnemar": mcnemar(y, ours, sn),
        "by_aspect": by_aspect.reset_index().to_dict(orient="records"),
    }
    if neutral:
        pn, sn_n = model.predict_proba(neutral), snownlp_proba(neutral)
        out["neutral"] = {
            "n": len(neutral),
            "fanlib_mean": float(pn.mean()),
            "snownlp_mean": float(sn_n.mean()),
            "fanlib_below_0_2": float((pn < 0.2).mean()),
            "snownlp_below_0_2": float((sn_n < 0.2).mean()),
        }
    return out


def snownlp_proba(texts: Sequence[str]) -> np.ndarray:
    """SnowNLP's P(positive) for each text (empty texts get 0.5)."""
    import snownlp.sentiment as sn

    return np.array([sn.classify(t) if isinstance(t, str) and t.strip() else 0.5 for t in texts], dtype=float)


@dataclass
class ModelCard:
    """What the model is, what it was trained on, and how it does on held-out texts."""

    model: dict
    training: dict
    held_out: dict  # Metrics of this model on the held-out split
    comparison: dict = field(default_factory=dict)  # both models on a shared subsample
    reliability: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    fan_comments: dict = field(default_factory=dict)  # both models on the fan-comment evaluation set

    @property
    def metrics(self) -> Metrics:
        return Metrics(**self.held_out)

    def to_dict(self) -> dict:
        return asdict(self)

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "card.json").write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")
        (folder / "card.md").write_text(self.markdown(), encoding="utf-8")
        return folder / "card.json"

    @classmethod
    def load(cls, folder: str | Path) -> ModelCard:
        path = Path(folder) / "card.json"
        if not path.exists():
            raise FileNotFoundError(f"{path}: no model card; build the model with `fanlib sentiment train`")
        return cls(**json.loads(path.read_text(encoding="utf-8")))

    def table(self) -> pd.DataFrame:
        """The metrics side by side: this model on the held-out split, and both models on the subsample."""
        rows = [{"model": "fanlib", "texts": "held-out split", **self.held_out}]
        for name in ("fanlib", "snownlp"):
            if name in self.comparison:
                rows.append({"model": name, "texts": "shared subsample", **self.comparison[name]})
        for name in ("fanlib", "snownlp"):
            if name in self.fan_comments:
                rows.append({"model": name, "texts": "fan comments", **self.fan_comments[name]})
        return pd.DataFrame(rows)

    def markdown(self) -> str:
        m = self.held_out
        lines = [
            "# Sentiment model card",
            "",
            f"Model: {self.model.get('kind')} (format version {self.model.get('format_version')}), "
            f"{self.model.get('n_features', 0):,} features.",
            "",
            f"Training corpus: {self.training.get('corpus')} (hash {self.training.get('corpus_hash', '')[:12]}), "
            f"{self.training.get('n_train', 0):,} training texts, {self.training.get('n_calibration', 0):,} "
            f"calibration texts, {m['n']:,} held-out test texts; trained in "
            f"{self.training.get('train_seconds', 0):.1f} s.",
            "",
            "| model | texts | n | accuracy | macro-F1 | AUC | ECE | Brier |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for _, r in self.table().iterrows():
            lines.append(
                f"| {r['model']} | {r['texts']} | {r['n']:,} | {r['accuracy']:.3f} | {r['macro_f1']:.3f} | "
                f"{r['auc']:.3f} | {r['ece']:.3f} | {r['brier']:.3f} |"
            )
        if "accuracy_diff" in self.comparison:
            d = self.comparison["accuracy_diff"]
            lines += [
                "",
                f"Accuracy difference fanlib − SnowNLP on the shared subsample: {d['estimate']:+.3f} "
                f"(95% paired bootstrap interval {d['low']:+.3f} to {d['high']:+.3f}).",
            ]
        if "accuracy_diff" in self.fan_comments:
            f, d, mc = self.fan_comments, self.fan_comments["accuracy_diff"], self.fan_comments["mcnemar"]
            lines += [
                "",
                f"Accuracy difference fanlib − SnowNLP on {f['n']} fan comments written for evaluation "
                f"(neither model trained on them): {d['estimate']:+.3f} (95% paired bootstrap interval "
                f"{d['low']:+.3f} to {d['high']:+.3f}; McNemar p = {mc['p_value']:.4f}, "
                f"{mc['a_only']} right only by fanlib, {mc['b_only']} only by SnowNLP).",
            ]
        lines += ["", *[f"- {n}" for n in self.notes], ""]
        return "\n".join(lines)


def build_card(model: SentimentModel, corpus: pd.DataFrame, compare_snownlp: int = 600, seed: int = 0) -> ModelCard:
    """Evaluate ``model`` on the corpus' test split, and against SnowNLP on a fixed random
    subsample of ``compare_snownlp`` test texts (0 skips the comparison: SnowNLP is slow)."""
    test = corpus[(corpus["split"] == "test") & corpus["label"].notna()]
    if test.empty:
        raise ValueError("the corpus has no held-out test texts to evaluate on")
    proba = model.predict_proba(test["text"].tolist())
    labels = test["label"].astype(int).to_numpy()
    held = Metrics.of(labels, proba)
    comparison: dict = {}
    notes = [
        "Held-out texts are chosen by a hash of their normalised content; near-identical texts share a split, "
        "so no test text (or near copy) was used in training or calibration.",
        "Probabilities are Platt-calibrated on the separate calibration split; ECE is measured on the test split.",
    ]
    if compare_snownlp and corpus["source"].eq("snownlp").any():
        k = min(compare_snownlp, len(test))
        sub = test.sample(k, random_state=seed)
        started = time.perf_counter()
        sn = snownlp_proba(sub["text"].tolist())
        sn_rate = k / max(time.perf_counter() - started, 1e-9)
        ours = model.predict_proba(sub["text"].tolist())
        y = sub["label"].astype(int).to_numpy()
        est, low, high = paired_bootstrap_diff(y, ours, sn, seed=seed)
        comparison = {
            "fanlib": asdict(Metrics.of(y, ours)),
            "snownlp": asdict(Metrics.of(y, sn)),
            "accuracy_diff": {"estimate": est, "low": low, "high": high},
            "n": k,
            "snownlp_texts_per_second": sn_rate,
        }
        notes.append(
            "SnowNLP's shipped model was built by its author from these same review files, so the "
            "held-out texts may be in its training data: the comparison favours SnowNLP."
        )
    fan_comments = fan_comment_evaluation(model, seed=seed) if compare_snownlp and _has_snownlp() else {}
    meta = model.meta
    return ModelCard(
        model={
            "kind": "tfidf-char-ngram-logreg",
            "format_version": meta.get("format_version"),
            "n_features": meta.get("n_features"),
            "calibration": list(model.calibration_),
        },
        training={
            k: meta.get(k) for k in ("corpus", "corpus_hash", "n_train", "n_calibration", "train_seconds", "trained_at")
        },
        held_out=asdict(held),
        comparison=comparison,
        reliability=reliability_table(labels, proba).to_dict(orient="records"),
        notes=notes,
        fan_comments=fan_comments,
    )


def _has_snownlp() -> bool:
    import importlib.util

    return importlib.util.find_spec("snownlp") is not None
