"""The offline Chinese sentiment model: TF-IDF over character n-grams and emoticons,
logistic regression, Platt-calibrated probabilities.

Stored as two plain files in a folder, no pickles:

* ``model.json``: format version, settings, intercept, calibration, the
  traditional-to-simplified table, training provenance (corpus hash, sizes);
* ``weights.npz``: ``terms`` (unicode array), ``weights`` and ``idf`` (float32),
  loaded with ``allow_pickle=False``.

Scoring needs only numpy: ``SentimentModel.load(folder).predict_proba(texts)``.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from fanlib.io import atomic_target, write_atomic
from fanlib.sentiment import features
from fanlib.sentiment.errors import ModelFormatError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import ArrayLike

#: Bump when the files' layout or the feature definition changes; old caches are then rebuilt.
FORMAT_VERSION = 1
#: Training settings (part of the cache key).
DEFAULTS = {
    "C": 8.0,
    "min_df": 2,
    "max_features": 400_000,
    "lexicon_copies": 4,
    "ngrams": list(features.NGRAMS),
    "max_chars": features.MAX_CHARS,
}


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _code_points(text: str) -> np.ndarray:
    """The Unicode code points of ``text`` as int64 (lone surrogates kept as their own code)."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.int64)


def _ngram_codes(points: np.ndarray, n: int) -> np.ndarray:
    """One integer per run of ``n`` consecutive code points (21 bits each, so up to three fit in an
    int64): element i codes points[i:i + n]."""
    if n > 3:
        raise ValueError(f"character n-grams are coded up to n = 3 (got {n})")
    size = len(points) - n + 1
    if size <= 0:
        return np.empty(0, dtype=np.int64)
    codes = points[:size].copy()
    for j in range(1, n):
        codes = (codes << 21) | points[j : j + size]
    return codes


def _sorted_unique(keys: np.ndarray) -> np.ndarray:
    """``np.unique(keys)`` by sorting and dropping repeats: numpy 2's hash-based unique is about
    100 times slower on the millions of nearly sorted (text, feature) keys a scoring chunk makes."""
    keys = np.sort(keys)
    if len(keys) < 2:
        return keys
    keep = np.empty(len(keys), dtype=bool)
    keep[0] = True
    np.not_equal(keys[1:], keys[:-1], out=keep[1:])
    return keys[keep]


@dataclass
class SentimentModel:
    """Binary sentiment model returning calibrated P(positive).

    ``fit(texts, labels)`` returns self; fitted attributes end in ``_``. Texts with no
    known feature (empty, whitespace, unseen symbols) score exactly 0.5: no evidence.
    """

    C: float = DEFAULTS["C"]
    min_df: int = DEFAULTS["min_df"]
    max_features: int = DEFAULTS["max_features"]
    lexicon_copies: int = DEFAULTS["lexicon_copies"]
    meta: dict = field(default_factory=dict)

    # ---- training -------------------------------------------------------------------------
    def fit(
        self,
        texts: Sequence[str],
        labels: ArrayLike,
        calibration_texts: Sequence[str] | None = None,
        calibration_labels: ArrayLike | None = None,
    ) -> SentimentModel:
        """Fit on ``texts``/``labels`` (1 positive, 0 negative), then calibrate on the
        calibration texts (required: calibrating on training texts would be overconfident)."""
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        started = time.perf_counter()
        labels = np.asarray(labels, dtype=int)
        if len(texts) != len(labels) or len(texts) == 0:
            raise ValueError(
                f"fit: need as many labels as texts, and at least one text (got {len(texts)} texts, "
                f"{len(labels)} labels)"
            )
        if set(np.unique(labels)) != {0, 1}:
            raise ValueError("fit: the labels must hold both classes, 0 (negative) and 1 (positive)")
        if calibration_texts is None or len(calibration_texts) == 0:
            raise ValueError("fit: calibration texts are required (a held-back part of the labelled data)")
        self.trad_to_simp_ = features.traditional_map()
        norm = [features.normalize(t, self.trad_to_simp_) for t in texts]
        # Seed emoticons, emoji and English words: review corpora hardly contain them.
        lexicon = {**features.EMOTICON_LEXICON, **features.ENGLISH_LEXICON}
        lex_tokens = list(lexicon)
        lex_labels = [int(v > 0) for v in lexicon.values()]
        norm += lex_tokens * self.lexicon_copies
        y = np.concatenate([labels, np.array(lex_labels * self.lexicon_copies, dtype=int)])

        vectorizer = TfidfVectorizer(
            analyzer=features.tokens,
            binary=True,
            min_df=self.min_df,
            max_features=self.max_features,
            sublinear_tf=False,
            norm="l2",
            dtype=np.float32,
        )
        X = vectorizer.fit_transform(norm)
        clf = LogisticRegression(C=self.C, solver="liblinear", max_iter=1000)
        clf.fit(X, y)
        vocab = vectorizer.vocabulary_
        terms = np.empty(len(vocab), dtype=object)
        for term, j in vocab.items():
            terms[j] = term
        self.terms_ = terms.astype(str)
        self.idf_ = vectorizer.idf_.astype(np.float32)
        self.weights_ = clf.coef_[0].astype(np.float32)
        self.intercept_ = float(clf.intercept_[0])
        self._index()
        # Platt scaling on held-back texts.
        raw = self.decision_function(calibration_texts)
        platt = LogisticRegression(C=1e6, solver="lbfgs")
        platt.fit(raw.reshape(-1, 1), np.asarray(calibration_labels, dtype=int))
        self.calibration_ = (float(platt.coef_[0, 0]), float(platt.intercept_[0]))
        self.meta = {
            **self.meta,
            "n_train": int(len(labels)),
            "n_calibration": int(len(calibration_texts)),
            "n_features": int(len(self.terms_)),
            "train_seconds": round(time.perf_counter() - started, 2),
        }
        return self

    def _index(self) -> None:
        terms = self.terms_.tolist()
        self._lookup = {t: i for i, t in enumerate(terms)}
        self._n_terms = len(self.terms_)
        self._w = self.weights_.astype(np.float64) * self.idf_
        self._idf2 = self.idf_.astype(np.float64) ** 2
        # Terms of one to three characters by their integer code (see _ngram_codes): the character
        # n-grams of a whole batch are then looked up at once, by binary search.
        self._ngram_index = {}
        for n in features.NGRAMS:
            ids = np.array([i for i, t in enumerate(terms) if len(t) == n], dtype=np.int64)
            codes = _ngram_codes(_code_points("".join(terms[i] for i in ids)), n)[::n]
            order = np.argsort(codes)
            self._ngram_index[n] = (codes[order], ids[order])

    # ---- scoring --------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "weights_"):
            raise RuntimeError("this SentimentModel is not fitted; call fit() or SentimentModel.load(folder)")

    def decision_function(self, texts: Sequence[str], chunk: int = 20_000) -> np.ndarray:
        """Raw scores (log-odds before calibration); NaN where the text has no known feature."""
        self._check_fitted()
        texts = list(texts)
        out = np.empty(len(texts), dtype=np.float64)
        for lo in range(0, len(texts), chunk):
            out[lo : lo + chunk] = self._decision_chunk(texts[lo : lo + chunk])
        return out

    def _decision_chunk(self, texts: list) -> np.ndarray:
        # The same features as features.tokens, found in bulk: emoticons, emoji and Latin words per
        # text in Python, character n-grams for the whole chunk as integer codes over one array of
        # code points. Per-text sums are then bincounts over the unique (text, feature) pairs, since
        # the features are binary.
        normalize, whole_tokens, trad = features.normalize, features.whole_tokens, self.trad_to_simp_
        flat: list[str] = []
        lengths = np.empty(len(texts), dtype=np.int64)
        rests: list[str] = []
        for k, text in enumerate(texts):
            whole, rest = whole_tokens(normalize(text, trad))
            lengths[k] = len(whole)
            flat += whole
            rests.append(rest)
        ids = [np.fromiter(map(self._lookup.get, flat, repeat(-1, len(flat))), dtype=np.int64, count=len(flat))]
        docs = [np.repeat(np.arange(len(texts), dtype=np.int64), lengths)]
        # The rests joined by spaces: no n-gram spans a space, so none spans two texts.
        points = _code_points(" ".join(rests))
        doc_of_point = np.repeat(np.arange(len(texts), dtype=np.int64), [len(r) + 1 for r in rests])[: len(points)]
        is_char = points != ord(" ")
        for n, (codes, term_ids) in self._ngram_index.items():
            if len(points) < n:
                continue
            inside_a_run = is_char[: len(points) - n + 1].copy()
            for j in range(1, n):
                inside_a_run &= is_char[j : len(points) - n + 1 + j]
            start = np.flatnonzero(inside_a_run)
            wanted = _ngram_codes(points, n)[start]
            at = np.minimum(np.searchsorted(codes, wanted), max(len(codes) - 1, 0))
            found = codes[at] == wanted if len(codes) else np.zeros(len(wanted), dtype=bool)
            ids.append(term_ids[at[found]])
            docs.append(doc_of_point[start[found]])
        ids, doc = np.concatenate(ids), np.concatenate(docs)
        known = ids >= 0
        pairs = _sorted_unique(doc[known] * self._n_terms + ids[known])
        doc, ids = pairs // self._n_terms, pairs % self._n_terms
        num = np.bincount(doc, weights=self._w[ids], minlength=len(texts))
        den = np.bincount(doc, weights=self._idf2[ids], minlength=len(texts))
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(den > 0, self.intercept_ + num / np.sqrt(den), np.nan)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Calibrated probability that each text is positive (0.5 when there is no evidence)."""
        if isinstance(texts, str):
            raise TypeError("predict_proba takes a list of texts; wrap a single text in a list")
        texts = list(texts)
        raw = self.decision_function(texts)
        a, c = self.calibration_
        p = _sigmoid(a * raw + c)
        return np.where(np.isnan(raw), 0.5, p)

    def predict(self, texts: Sequence[str], threshold: float = 0.5) -> np.ndarray:
        """1 for positive, 0 for negative."""
        return (self.predict_proba(texts) >= threshold).astype(int)

    def top_terms(self, n: int = 15) -> pd.DataFrame:
        """The most positive and most negative features, with their weights."""
        self._check_fitted()
        order = np.argsort(self.weights_)
        neg = pd.DataFrame(
            {"term": self.terms_[order[:n]], "weight": self.weights_[order[:n]], "direction": "negative"}
        )
        pos = pd.DataFrame(
            {"term": self.terms_[order[::-1][:n]], "weight": self.weights_[order[::-1][:n]], "direction": "positive"}
        )
        return pd.concat([neg, pos], ignore_index=True)

    # ---- persistence ----------------------------------------------------------------------
    def save(self, folder: str | os.PathLike) -> Path:
        """Write ``model.json`` and ``weights.npz`` into ``folder`` (atomically replaced)."""
        self._check_fitted()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_target(folder / "weights.npz", suffix=".npz") as tmp_npz:
            np.savez_compressed(tmp_npz, terms=self.terms_.astype(str), weights=self.weights_, idf=self.idf_)
        doc = {
            "format": "fanlib-sentiment",
            "format_version": FORMAT_VERSION,
            "kind": "tfidf-char-ngram-logreg",
            "settings": {
                "C": self.C,
                "min_df": self.min_df,
                "max_features": self.max_features,
                "lexicon_copies": self.lexicon_copies,
                "ngrams": list(features.NGRAMS),
                "max_chars": features.MAX_CHARS,
            },
            "intercept": self.intercept_,
            "calibration": {"a": self.calibration_[0], "b": self.calibration_[1]},
            "traditional_to_simplified": {chr(k): v for k, v in sorted(self.trad_to_simp_.items())},
            "meta": self.meta,
        }
        write_atomic(folder / "model.json", json.dumps(doc, ensure_ascii=False, indent=1))
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike) -> SentimentModel:
        """Read a model saved by ``save``; a clear error if it is missing or of another format version."""
        folder = Path(folder)
        meta_path, npz_path = folder / "model.json", folder / "weights.npz"
        if not meta_path.exists() or not npz_path.exists():
            raise ModelFormatError(
                f"{folder}: not a saved sentiment model (needs model.json and weights.npz); "
                "build one with `fanlib sentiment train`"
            )
        try:
            doc = json.loads(meta_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ModelFormatError(f"{meta_path}: unreadable ({exc})") from None
        if doc.get("format") != "fanlib-sentiment" or doc.get("format_version") != FORMAT_VERSION:
            raise ModelFormatError(
                f"{meta_path}: format {doc.get('format')!r} version {doc.get('format_version')!r}; "
                f"this fanlib reads fanlib-sentiment version {FORMAT_VERSION}. Retrain with "
                "`fanlib sentiment train`"
            )
        s = doc["settings"]
        model = cls(
            C=s["C"],
            min_df=s["min_df"],
            max_features=s["max_features"],
            lexicon_copies=s["lexicon_copies"],
            meta=doc.get("meta", {}),
        )
        with np.load(npz_path, allow_pickle=False) as z:
            model.terms_, model.weights_, model.idf_ = z["terms"], z["weights"], z["idf"]
        model.intercept_ = float(doc["intercept"])
        model.calibration_ = (float(doc["calibration"]["a"]), float(doc["calibration"]["b"]))
        model.trad_to_simp_ = {ord(k): v for k, v in doc["traditional_to_simplified"].items()}
        model._index()
        return model
