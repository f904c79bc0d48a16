"""Benchmark: the sentiment model against SnowNLP, measured in the same run.

    .venv/bin/python benchmarks/bench_sentiment.py [--repeat R] [--texts N]

* cold start: a fresh Python process imports fanlib, loads the cached model and scores one
  text (median of R processes; the first build of the cache is timed separately);
* batch speed on one core (BLAS and OpenMP pinned to one thread): texts per second on fan
  comments from the demo and on held-out review sentences, fanlib against SnowNLP on the same
  texts (SnowNLP on a subsample: it is about 100 times slower);
* accuracy, macro-F1, AUC and ECE of both on held-out labelled texts (the model card), on the
  demo's human-labelled comments, and on the fan comments written for evaluation
  (``fanlib/sentiment/data/fan_comments_eval.csv``, never trained on) with a paired bootstrap
  interval and McNemar test for the accuracy difference;
* character n-grams against jieba word tokens (same TF-IDF and logistic regression);
* the planted-crisis benchmark (not timed): the detector on the model's scores, on true labels
  and a volume-only detector.

Writes ``benchmarks/results/sentiment.json`` and ``sentiment.md``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import PYTHON, ROOT, machine, write_results  # noqa: E402

COLD = (
    "import time; t = time.perf_counter(); from fanlib.sentiment.store import load_model; "
    "m = load_model(); m.predict_proba(['物流很快，质量不错[赞]']); print(time.perf_counter() - t)"
)


def cold_start(repeat: int) -> dict:
    walls, inside = [], []
    for _ in range(repeat):
        t = time.perf_counter()
        out = subprocess.run([PYTHON, "-c", COLD], capture_output=True, text=True, cwd=ROOT, check=True)
        walls.append(time.perf_counter() - t)
        inside.append(float(out.stdout.strip().splitlines()[-1]))
    return {
        "runs": repeat,
        "median_s": statistics.median(inside),
        "max_s": max(inside),
        "median_process_wall_s": statistics.median(walls),
        "target_s": 3.0,
        "met": statistics.median(inside) <= 3.0,
    }


def rate(fn, texts, repeat: int) -> dict:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn(texts)
        times.append(time.perf_counter() - t)
    med = statistics.median(times)
    return {"texts": len(texts), "runs": repeat, "median_s": med, "texts_per_second": len(texts) / med}


def demo_comments(n: int):
    import duckdb

    path = ROOT / "data" / "demo.duckdb"
    if not path.exists():
        from fanlib.demo import generate

        path = Path(tempfile.mkdtemp(prefix="fanlib-bench-")) / "demo.duckdb"
        generate(path, n_fans=5000, seed=7, progress=False)
    con = duckdb.connect(str(path), read_only=True)
    texts = con.execute(f"select text from comments where text is not null order by comment_id limit {n}").df()["text"]
    labelled = con.execute(
        "select distinct text, label from comments where label in ('positive', 'negative') order by text"
    ).df()
    con.close()
    return texts.tolist(), labelled


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--texts", type=int, default=20_000)
    ap.add_argument("--snownlp-texts", type=int, default=300)
    ap.add_argument("--streams", type=int, default=20)
    args = ap.parse_args(argv)

    from fanlib.sentiment import benchmark, corpus, store
    from fanlib.sentiment.card import Metrics, fan_comment_evaluation, snownlp_proba

    started = time.perf_counter()
    model = store.load_model()
    card = store.load_card()
    build_s = time.perf_counter() - started
    result: dict = {"machine": machine(), "model_dir": str(store.default_model_dir()), "load_or_build_s": build_s}
    print("cold start …", flush=True)
    result["cold_start"] = cold_start(args.repeat)

    snow = corpus.snownlp_corpus()
    held_out = snow[snow["split"] == "test"]["text"].tolist()
    fan, labelled = demo_comments(args.texts)
    speed = {}
    for name, texts in (("fan_comments", fan), ("review_sentences", held_out)):
        print(f"speed on {name} …", flush=True)
        ours = rate(model.predict_proba, texts, args.repeat)
        sub = texts[: args.snownlp_texts]
        theirs = rate(snownlp_proba, sub, max(3, args.repeat // 2))
        speed[name] = {
            "fanlib": ours,
            "snownlp": theirs,
            "mean_chars": sum(map(len, texts)) / len(texts),
            "ratio": ours["texts_per_second"] / theirs["texts_per_second"],
        }
    result["speed"] = speed
    result["speed_target_texts_per_second"] = 5000
    # The target is for fan comments, what the reports score; long review sentences are reported beside them.
    result["speed_met"] = speed["fan_comments"]["fanlib"]["texts_per_second"] >= 5000

    result["model_card"] = {"held_out": card.held_out, "comparison": card.comparison}
    y = (labelled["label"] == "positive").astype(int).to_numpy()
    result["demo_labelled"] = {
        "fanlib": Metrics.of(y, model.predict_proba(labelled["text"].tolist())).__dict__,
        "snownlp": Metrics.of(y, snownlp_proba(labelled["text"].tolist())).__dict__,
    }
    print("fan-comment evaluation set …", flush=True)
    result["fan_comments_eval"] = fan_comment_evaluation(model)

    print("character n-grams against word tokens …", flush=True)
    result["tokenisation"] = benchmark.tokenisation_comparison(snow).to_dict(orient="records")

    print("planted-crisis benchmark …", flush=True)
    neg_p, pos_p = benchmark.held_out_pools(model, snow)
    planted = benchmark.run(neg_p, pos_p, n_streams=args.streams, seed=0)
    result["planted_crisis"] = {k: v.as_dict() for k, v in planted.items()}
    js, md = write_results("sentiment", result, markdown(result))
    print(md.read_text(encoding="utf-8"))
    print(f"written {js} and {md}")
    return 0


def markdown(r: dict) -> str:
    cs = r["cold_start"]
    lines = [
        "# Sentiment model benchmark",
        "",
        f"{r['machine']['cpus']} CPUs (shared), load average at start {r['machine']['load_average_at_start']}; "
        "one thread for BLAS/OpenMP; medians of repeated runs; SnowNLP measured in the same run.",
        "",
        f"**Cold start** (fresh process: import, load the cached model, score one text): median "
        f"{cs['median_s']:.2f} s over {cs['runs']} processes, max {cs['max_s']:.2f} s (target ≤ 3 s: "
        f"{'met' if cs['met'] else 'NOT met'}); whole process including the interpreter "
        f"{cs['median_process_wall_s']:.2f} s.",
        "",
        "| texts | mean chars | fanlib texts/s | SnowNLP texts/s | ratio |",
        "|---|---|---|---|---|",
    ]
    for name, s in r["speed"].items():
        lines.append(
            f"| {name} ({s['fanlib']['texts']:,}; SnowNLP on {s['snownlp']['texts']:,}) | "
            f"{s['mean_chars']:.0f} | {s['fanlib']['texts_per_second']:,.0f} | "
            f"{s['snownlp']['texts_per_second']:,.0f} | {s['ratio']:.0f}× |"
        )
    lines += [
        "",
        f"Batch target ≥ 5,000 fan comments/s on one core: {'met' if r['speed_met'] else 'NOT met'} "
        "(scoring time grows with length: long review sentences run slower).",
        "",
        "## Accuracy on labelled texts neither model trained on",
        "",
        "| texts | model | n | accuracy | macro-F1 | AUC | ECE |",
        "|---|---|---|---|---|---|---|",
    ]
    mc = r["model_card"]
    rows = [("SnowNLP corpus, held-out split", "fanlib", mc["held_out"])]
    if mc["comparison"]:
        rows += [
            ("same, shared subsample", "fanlib", mc["comparison"]["fanlib"]),
            ("same, shared subsample", "SnowNLP", mc["comparison"]["snownlp"]),
        ]
    rows += [
        ("demo comments with a human label", "fanlib", r["demo_labelled"]["fanlib"]),
        ("demo comments with a human label", "SnowNLP", r["demo_labelled"]["snownlp"]),
    ]
    fan = r["fan_comments_eval"]
    rows += [
        ("fan comments written for evaluation", "fanlib", fan["fanlib"]),
        ("fan comments written for evaluation", "SnowNLP", fan["snownlp"]),
    ]
    for texts, model, m in rows:
        lines.append(
            f"| {texts} | {model} | {m['n']:,} | {m['accuracy']:.3f} | {m['macro_f1']:.3f} | {m['auc']:.3f} | "
            f"{m['ece']:.3f} |"
        )
    if mc["comparison"]:
        d = mc["comparison"]["accuracy_diff"]
        lines += [
            "",
            f"Accuracy fanlib − SnowNLP on the shared subsample: {d['estimate']:+.3f} (95% paired bootstrap "
            f"{d['low']:+.3f} to {d['high']:+.3f}). SnowNLP's shipped model was trained on the whole corpus, "
            "this split included.",
        ]
    d, mcn = fan["accuracy_diff"], fan["mcnemar"]
    lines += [
        "",
        f"Accuracy fanlib − SnowNLP on {fan['n']} fan comments written for evaluation "
        f"({fan['n_positive']} positive, {fan['n_negative']} negative; neither model trained on them): "
        f"{d['estimate']:+.3f} (95% paired bootstrap {d['low']:+.3f} to {d['high']:+.3f}); McNemar "
        f"{mcn['a_only']} vs {mcn['b_only']} discordant texts, p = {mcn['p_value']:.4f}.",
        "",
        "| aspect | n | fanlib accuracy | SnowNLP accuracy |",
        "|---|---|---|---|",
    ]
    for a in fan["by_aspect"]:
        lines.append(f"| {a['aspect']} | {a['n']} | {a['fanlib']:.3f} | {a['snownlp']:.3f} |")
    if "neutral" in fan:
        nt = fan["neutral"]
        lines += [
            "",
            f"Neutral comments in the set ({nt['n']}): mean P(positive) fanlib {nt['fanlib_mean']:.2f}, "
            f"SnowNLP {nt['snownlp_mean']:.2f}; scored below 0.2 (read as negative): fanlib "
            f"{nt['fanlib_below_0_2']:.0%}, SnowNLP {nt['snownlp_below_0_2']:.0%}.",
        ]
    lines += [
        "",
        "## Character n-grams against word tokens (same TF-IDF + logistic regression, held-out split)",
        "",
        "| features | features kept | accuracy | macro-F1 | AUC | train s | texts/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for t in r["tokenisation"]:
        lines.append(
            f"| {t['features']} | {t['n_features']:,} | {t['accuracy']:.3f} | {t['macro_f1']:.3f} | "
            f"{t['auc']:.3f} | {t['train_seconds']:.1f} | {t['texts_per_second']:,.0f} |"
        )
    lines += [
        "",
        "## Planted-crisis benchmark (not timed)",
        "",
        "| detector | crises | detected | recall | alerts | precision | false alerts / 30 days | "
        "median delay (bins) | alerts on campaign spikes |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, s in r["planted_crisis"].items():
        lines.append(
            f"| {name} | {s['crises']} | {s['detected']} | {s['recall']:.2f} | {s['alerts']} | "
            f"{s['precision']:.2f} | {s['false_alerts_per_30_days']:.3f} | {s['median_delay_bins']:.1f} | "
            f"{s['distractor_alerts']} |"
        )
    lines += [
        "",
        "Targets for the detector on model scores: recall ≥ 0.8, precision ≥ 0.95, ≤ 0.2 false alerts per "
        "30 days, median delay ≤ 1 bin.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
