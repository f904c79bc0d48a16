"""Benchmark: the fan-profiling computations on the demo data, in the engine against naive pandas.

    .venv/bin/python benchmarks/bench_profiling.py [--fans N] [--repeat R] [--pandas/--no-pandas] [--source DB]

The issue's size is 1,000,000 fans (about 64 million events in the demo's mix): ``--fans 1000000``.
The default (100,000 fans, about 6.4 million events) keeps ``make bench`` short on a shared machine.
Naive pandas needs about 38 MB of memory per 1,000 fans (3.8 GB at 100,000), so at 1,000,000 fans it
would need more memory than a 23 GB machine has: run that size with ``--pandas-memory-gb 16`` (its running
out of memory is recorded as its result) or ``--no-pandas``.

Generates the demo (``fanlib.demo.generate``, seed 7; kept in ``--data`` between runs), then times, each
scenario in a fresh process so peak memory is per scenario, the median of ``--repeat`` runs after an
untimed warm-up:

* fanlib: from the DuckDB file, the per-fan features over 90 days, RFM scores, fan classes and layers
  (``fan_profile``) with their shares and GMV (``tier_shares``, ``layer_shares``, ``segment_value``), and
  the 30-day activity KPIs overall and by community (``activity_kpis``): every aggregation in DuckDB;
* pandas: the same figures the naive way: read the fans, events and orders tables into pandas, then
  filter, group and merge there. Its figures are checked against fanlib's (fan counts per class and layer
  equal, KPI values within 1e-9), so both compute the same thing.

Writes ``benchmarks/results/profiling.json`` and ``profiling.md`` (or ``--out``): medians, the ratio to
the pandas baseline measured in the same run, and peak resident memory.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ab import _baseline_rss_mb, _peak_rss_mb  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
SCENARIOS = ("fanlib", "pandas")
RFM_DAYS, KPI_DAYS = 90, 30


def build(folder: Path, n: int, seed: int = 7) -> Path:
    """The demo at ``n`` fans, generated once and kept in ``folder``."""
    from fanlib.demo import generate

    db = folder / f"demo_{n}_{seed}.duckdb"
    if not db.exists():
        folder.mkdir(parents=True, exist_ok=True)
        generate(db, n_fans=n, seed=seed, progress=False)
    return db


def as_of_of(db: Path) -> dt.date:
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("SELECT max(event_time)::DATE FROM events").fetchone()[0]


# --- the computation, in fanlib --------------------------------------------------------------------------


def fanlib_profiling(db: Path, as_of: dt.date) -> dict:
    from fanlib import profiling as fp
    from fanlib.data.fandata import connect
    from fanlib.profiling.kpis import activity_kpis
    from fanlib.profiling.window import window

    fd = connect(str(db), validate=False)
    profile = fp.fan_profile(fd, as_of, RFM_DAYS)
    tiers = fp.tier_shares(fd, profile)
    layers = fp.layer_shares(fd, profile.table)
    rfm = fp.segment_value(fd, profile.table)
    w = window(as_of, KPI_DAYS)
    overall = activity_kpis(fd, w).iloc[0]
    by_comm = activity_kpis(fd, w, "community_id")
    return {
        "tiers": dict(zip(tiers.tier, tiers.fans, strict=True)),
        "tier_gmv": dict(zip(tiers.tier, tiers.gmv, strict=True)),
        "layers": {**dict(zip(layers.table.layer, layers.table.fans, strict=True)), **layers.outside},
        "rfm_gmv": dict(zip(rfm.table.segment, rfm.table.gmv, strict=True)),
        "kpis": {
            k: float(overall[k])
            for k in ("members", "dau_rate", "mau", "speaking_rate", "ugc_share", "messages_per_1k_day")
        },
        "communities": int(len(by_comm)),
        "community_dau_rate": dict(zip(by_comm.group, by_comm.dau_rate, strict=True)),
    }


# --- the same computation, the naive pandas way -----------------------------------------------------------


def pandas_profiling(db: Path, as_of: dt.date) -> dict:
    import duckdb
    import numpy as np
    import pandas as pd

    from fanlib.profiling.features import INTERACTION_TYPES, PASSIVE_TYPES, SPEAKING_TYPES
    from fanlib.profiling.layers import LayerRules
    from fanlib.profiling.rfm import NO_PURCHASE, SEGMENT_RULES
    from fanlib.profiling.tiers import TierRules

    with duckdb.connect(str(db), read_only=True) as con:
        fans = con.sql("SELECT * FROM fans").df()
        events = con.sql("SELECT * FROM events").df()
        orders = con.sql("SELECT * FROM orders").df()
    end = pd.Timestamp(as_of) + pd.Timedelta(days=1)
    start = end - pd.Timedelta(days=RFM_DAYS)
    day = pd.Timedelta(days=1)

    # per-fan features over the RFM window
    f = fans[fans.join_time < end][["fan_id", "join_time", "community_id"]].copy()
    ev = events[(events.event_time >= start) & (events.event_time < end)]
    et = ev.event_type
    g = ev.assign(
        day=ev.event_time.dt.floor("D"),
        inter=et.isin(INTERACTION_TYPES),
        browse=et.isin(PASSIVE_TYPES),
        share=et == "share",
        click=et == "click",
    ).groupby("fan_id")
    ea = pd.DataFrame(
        {
            "events": g.size(),
            "active_days": g.day.nunique(),
            "interactions": g.inter.sum(),
            "browsing": g.browse.sum(),
            "shares": g.share.sum(),
            "clicks": g.click.sum(),
            "last_event": g.event_time.max(),
        }
    )
    od = orders[orders.order_time < end]
    odw = od[od.order_time >= start]
    oa = pd.DataFrame(
        {
            "orders": odw.groupby("fan_id").size(),
            "spend": odw.groupby("fan_id").amount_cny.sum(),
            "last_order": odw.groupby("fan_id").order_time.max(),
        }
    )
    ot = pd.DataFrame(
        {"orders_total": od.groupby("fan_id").size(), "spend_total": od.groupby("fan_id").amount_cny.sum()}
    )
    t = f.merge(ea, on="fan_id", how="left").merge(oa, on="fan_id", how="left").merge(ot, on="fan_id", how="left")
    for c in ("events", "active_days", "interactions", "browsing", "shares", "clicks", "orders", "orders_total"):
        t[c] = t[c].fillna(0).astype("int64")
    t["spend"] = t.spend.fillna(0.0)
    t["spend_total"] = t.spend_total.fillna(0.0)
    tenure = (end - t.join_time) / day
    observed = np.minimum(tenure, RFM_DAYS)
    last_seen = t[["last_event", "last_order"]].max(axis=1)
    present = ((last_seen - np.maximum(t.join_time, start)) / day).fillna(0.0)
    ipm = t.interactions / np.maximum(observed, 1.0) * 30
    ipp = t.interactions / np.maximum(present, 7.0) * 30
    intent = (t.interactions + t.clicks + t.orders) / np.maximum(present, 7.0) * 30
    t["days_since_order"] = (end - t.last_order) / day

    # RFM: SQL percent_rank (ties share the lowest rank) over buyers
    buyers = t.orders > 0
    b = t[buyers]

    def score(values):
        n = len(values)
        pr = (values.rank(method="min") - 1) / (n - 1) if n > 1 else values * 0.0
        return np.minimum(5, np.floor(pr * 5).astype("int64") + 1)

    for col, src in (("r_score", -b.days_since_order), ("f_score", b.orders), ("m_score", b.spend)):
        t[col] = 0
        t.loc[buyers, col] = score(src)
    seg = np.full(len(t), NO_PURCHASE, dtype=object)
    for key, rs, fs in reversed(SEGMENT_RULES):  # reversed: the first matching rule wins
        seg[(t.r_score.isin(rs) & t.f_score.isin(fs)).to_numpy()] = key
    t["rfm_segment"] = seg

    # fan classes and layers, by the same default rules
    tr, lr = TierRules(), LayerRules()
    spenders = t.spend[t.spend > 0]
    threshold = spenders.quantile(1 - tr.high_value_top_share) if len(spenders) else None
    hv = (t.spend >= threshold) & (t.spend > 0) if threshold is not None else pd.Series(False, index=t.index)
    loyal = (tenure >= tr.loyal_min_tenure_days) & (t.orders_total >= tr.loyal_min_orders)
    active = (ipm >= tr.active_min_interactions_per_30d) | (t.shares >= tr.active_min_shares)
    t["tier"] = np.select([hv, loyal, active], ["high_value", "loyal", "active"], "ordinary")
    t["layer"] = np.select(
        [
            (t.events == 0) & (t.orders == 0),
            present < lr.min_present_days,
            (ipp >= lr.core_min_interactions_per_30d) & (t.orders >= lr.core_min_orders),
            ipp >= lr.active_min_interactions_per_30d,
            intent >= lr.potential_min_intent_per_30d,
        ],
        ["lapsed", "unrated", "core", "active", "potential"],
        "silent",
    )

    # activity KPIs over the KPI window, overall and by community
    kstart = end - pd.Timedelta(days=KPI_DAYS)
    days = pd.date_range(kstart, end - day, freq="D")

    def activity(fans_g, ev_g):
        joined = np.maximum(fans_g.join_time.dt.floor("D"), kstart)
        members = joined.value_counts().reindex(days, fill_value=0).cumsum()
        evk = ev_g[ev_g.event_time >= kstart]
        active_by_day = evk.groupby(evk.event_time.dt.floor("D")).fan_id.nunique().reindex(days, fill_value=0)
        rate = (active_by_day / members.where(members > 0)).mean()
        mau = ev_g[ev_g.event_time >= end - pd.Timedelta(days=30)].fan_id.nunique()
        n = members.iloc[-1]
        ugc = (evk.event_type == "ugc_post").sum()
        brand = evk[evk.event_type != "ugc_post"].content_id.nunique()
        return {
            "members": float(n),
            "dau_rate": float(rate),
            "mau": float(mau),
            "speaking_rate": evk[evk.event_type.isin(SPEAKING_TYPES)].fan_id.nunique() / n if n else np.nan,
            "ugc_share": ugc / (ugc + brand) if ugc + brand else np.nan,
            "messages_per_1k_day": (evk.event_type == "message").sum() / members.sum() * 1000,
        }

    fans_k = fans[fans.join_time < end]
    ev_k = events[(events.event_time >= min(kstart, end - pd.Timedelta(days=30))) & (events.event_time < end)]
    ev_k = ev_k.merge(fans[["fan_id", "community_id"]].rename(columns={"community_id": "fan_community"}), on="fan_id")
    overall = activity(fans_k, ev_k)
    by_comm = {
        str(c): activity(fg, ev_k[ev_k.fan_community == c])["dau_rate"] for c, fg in fans_k.groupby("community_id")
    }
    tiers = t.groupby("tier").agg(fans=("fan_id", "size"), gmv=("spend", "sum"))
    return {
        "tiers": tiers.fans.to_dict(),
        "tier_gmv": tiers.gmv.to_dict(),
        "layers": t.layer.value_counts().to_dict(),
        "rfm_gmv": t.groupby("rfm_segment").spend.sum().to_dict(),
        "kpis": overall,
        "communities": len(by_comm),
        "community_dau_rate": by_comm,
    }


def same_figures(a: dict, b: dict) -> list[str]:
    """Where the two computations disagree (empty: they agree)."""
    import math

    bad = []
    for key in ("tiers", "layers"):
        if {k: int(v) for k, v in a[key].items() if v} != {k: int(v) for k, v in b[key].items() if v}:
            bad.append(f"{key}: {a[key]} vs {b[key]}")
    for key in ("tier_gmv", "rfm_gmv", "kpis", "community_dau_rate"):
        for k in set(a[key]) | set(b[key]):
            x, y = float(a[key].get(k, 0.0)), float(b[key].get(k, 0.0))
            if not (math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-6) or (math.isnan(x) and math.isnan(y))):
                bad.append(f"{key}[{k}]: {x} vs {y}")
    if a["communities"] != b["communities"]:
        bad.append(f"communities: {a['communities']} vs {b['communities']}")
    return bad


def _cap_address_space(gigabytes: float) -> None:
    import resource

    limit = int(gigabytes * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def worker(scenario: str, db: Path, repeat: int) -> dict:
    """Run one scenario ``repeat`` times in this process (after one untimed warm-up)."""
    run = fanlib_profiling if scenario == "fanlib" else pandas_profiling
    as_of = as_of_of(db)
    result = run(db, as_of)  # warm-up: imports and first-call set-up, as in a kernel that ran before
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        run(db, as_of)
        times.append(time.perf_counter() - t0)
    return {
        "scenario": scenario,
        "times": times,
        "median_s": statistics.median(times),
        "peak_rss_mb": _peak_rss_mb(),
        "figures": json.loads(json.dumps(result, default=str)),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fans", type=int, default=100_000, help="demo fans (the issue's size: 1000000)")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per scenario (the median is reported)")
    ap.add_argument("--data", type=Path, default=ROOT / "data" / "bench", help="where the generated demo is kept")
    ap.add_argument("--source", type=Path, help="an existing demo DuckDB file to use instead of generating one")
    ap.add_argument("--out", type=Path, default=RESULTS / "profiling", help="output path stem (.json and .md added)")
    ap.add_argument("--pandas", action=argparse.BooleanOptionalAction, default=True, help="run the pandas baseline")
    ap.add_argument(
        "--pandas-memory-gb",
        type=float,
        default=None,
        help="cap the pandas baseline's address space; running out is recorded as its result",
    )
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--db", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, Path(args.db), args.repeat)))
        return 0
    t0 = time.perf_counter()
    db = args.source or build(args.data, args.fans)
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        sizes = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("fans", "events", "orders")}
    print(
        f"demo {db.name}: {sizes['fans']:,} fans, {sizes['events']:,} events, {sizes['orders']:,} orders "
        f"(ready in {time.perf_counter() - t0:.0f} s)",
        flush=True,
    )
    rows = []
    out_of_memory = None
    for sc in SCENARIOS if args.pandas else SCENARIOS[:1]:
        cap = args.pandas_memory_gb if sc == "pandas" else None
        started = time.perf_counter()
        out = subprocess.run(
            [sys.executable, __file__, "--worker", sc, "--db", str(db), "--repeat", str(args.repeat)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            preexec_fn=(lambda cap=cap: _cap_address_space(cap)) if cap else None,
        )
        if out.returncode and cap and "MemoryError" in out.stderr + out.stdout:
            # The baseline cannot hold the data: that is its result at this size, not a benchmark failure.
            out_of_memory = {
                "scenario": sc,
                "cap_gb": cap,
                "failed_after_s": time.perf_counter() - started,
                "error": (out.stderr.strip().splitlines() or ["MemoryError"])[-1][:300],
            }
            print(
                f"{sc:8s} ran out of memory under a {cap:g} GB cap after {out_of_memory['failed_after_s']:.0f} s",
                flush=True,
            )
            continue
        if out.returncode:
            print(out.stderr, file=sys.stderr)
            return out.returncode
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(f"{sc:8s} median {rows[-1]['median_s']:.2f} s  peak RSS {rows[-1]['peak_rss_mb']:.0f} MB", flush=True)
    by = {r["scenario"]: r for r in rows}
    disagreements = same_figures(by["fanlib"]["figures"], by["pandas"]["figures"]) if "pandas" in by else []
    if disagreements:
        print("the two computations disagree:\n" + "\n".join(disagreements[:20]), file=sys.stderr)
        return 1
    base_rss = _baseline_rss_mb()
    for r in rows:
        r["rss_above_imports_mb"] = r["peak_rss_mb"] - base_rss
        if "pandas" in by:
            r["speedup_vs_pandas"] = by["pandas"]["median_s"] / r["median_s"]
            r["memory_vs_pandas"] = r["peak_rss_mb"] / by["pandas"]["peak_rss_mb"]
        r.pop("figures")
    result = {
        "fans": sizes["fans"],
        "events": sizes["events"],
        "orders": sizes["orders"],
        "repeat": args.repeat,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_1min": os.getloadavg()[0],
        "imports_rss_mb": base_rss,
        "rfm_window_days": RFM_DAYS,
        "kpi_window_days": KPI_DAYS,
        "figures_agree": "pandas" in by,
        "scenarios": rows,
        "pandas_out_of_memory": out_of_memory,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2))
    lines = [
        f"# Fan-profiling benchmark: {sizes['fans']:,} fans, {sizes['events']:,} events, {sizes['orders']:,} orders",
        "",
        f"Median of {args.repeat} runs after a warm-up; {os.cpu_count()} CPUs (1-minute load "
        f"{result['load_1min']:.1f} at the end); peak RSS per scenario in a fresh process (imports alone: "
        f"{base_rss:.0f} MB). Both read the same DuckDB file; pandas loads the tables, fanlib queries them.",
        "",
        "| scenario | median (s) | vs pandas | peak RSS (MB) | above imports (MB) |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        vs = f"{r['speedup_vs_pandas']:.1f}× faster" if "speedup_vs_pandas" in r else "–"
        lines.append(
            f"| {r['scenario']} | {r['median_s']:.2f} | {vs} | {r['peak_rss_mb']:.0f} | "
            f"{r['rss_above_imports_mb']:.0f} |"
        )
    if "pandas" in by:
        lines += [
            "",
            "The figures of both (fans per class and layer, GMV per class and RFM segment, the activity "
            "KPIs overall and the daily active rate of every community) agree.",
        ]
    if out_of_memory:
        lines += [
            "",
            f"Naive pandas could not run at this size: it ran out of memory under a "
            f"{out_of_memory['cap_gb']:g} GB address-space cap after {out_of_memory['failed_after_s']:.0f} s "
            f"({out_of_memory['error']}).",
        ]
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
