"""Benchmark: the A/B readout on N assignment rows (default 10,000,000), against a pandas baseline.

    .venv/bin/python benchmarks/bench_ab.py [--fans N] [--repeat R]

Builds a one-row-per-fan experiment table (variant, conversion, revenue, orders and their
pre-period values) as Parquet and as a DuckDB file, then times, each in a fresh process so
peak memory is measured per scenario:

* fanlib compute: per-variant moments in DuckDB + the statistics, with the file already open and
  read once (as in a kernel that has run the report before);
* fanlib from DuckDB / from Parquet: the same including opening and reading the file;
* pandas baseline: pandas.read_parquet, then groupby aggregates and the same statistics;
* from the contract tables (``--contract``, default on): ``fanlib.data.fandata.connect`` and
  ``experiment_readout`` on ``assignments`` (N rows) and ``orders`` (about 0.4 N), which adds the
  duplicate-assignment check and the per-fan outcome windows (a join and a group-by over the fans
  with orders), against the same in pandas; ``fanlib_contract_uncapped`` is the same readout
  without its 512 MB DuckDB cap (only the connection's own), to show what the cap costs.

Writes ``benchmarks/results/ab.json`` and ``ab.md`` (or ``--out``) with medians, ratios to the
baseline measured in the same run, and whether the targets (2 s compute, 5 s with reading,
1 GB memory) are met.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SCENARIOS = ("fanlib_compute", "fanlib_duckdb", "fanlib_parquet", "pandas_compute", "pandas_parquet")
CONTRACT_SCENARIOS = ("fanlib_contract", "fanlib_contract_uncapped", "pandas_contract")


def build_contract(folder: Path, n: int, seed: int = 2) -> Path:
    """fans, assignments (one experiment, N fans) and orders in a window of ±28 days around assignment."""
    import duckdb

    db = folder / "contract.duckdb"
    con = duckdb.connect(str(db))
    con.execute(f"SELECT setseed({seed / 10})")
    con.execute(f"""CREATE TABLE fans AS SELECT 'F' || range AS fan_id,
        TIMESTAMP '2025-01-01' - to_days(CAST(floor(random() * 400) AS INTEGER)) AS join_time,
        (['wechat', 'douyin', 'weibo', 'xiaohongshu'])[1 + CAST(floor(random() * 4) AS INTEGER)] AS channel,
        1 + CAST(floor(random() * 6) AS INTEGER) AS city_tier FROM range({n})""")
    con.execute("""CREATE TABLE assignments AS SELECT 'exp' AS experiment_id, fan_id,
        CASE WHEN random() < 0.5 THEN 'control' ELSE 'treatment' END AS variant,
        TIMESTAMP '2025-03-01' + to_seconds(CAST(floor(random() * 7 * 86400) AS BIGINT)) AS assigned_time FROM fans""")
    con.execute("""CREATE TABLE orders AS SELECT 'O' || row_number() OVER () AS order_id, fan_id,
        assigned_time + to_seconds(CAST(floor((random() * 56 - 28) * 86400) AS BIGINT)) AS order_time,
        exp(4 + random()) AS amount_cny
        FROM assignments, range(2) r WHERE random() < 0.2 + 0.01 * (variant = 'treatment')::INT""")
    con.close()
    return db


def _fanlib_contract(db, memory_limit="default"):
    """As the report does it: ``fanlib.data.fandata.connect`` (its DuckDB settings, the contract's typed tables),
    then ``experiment_readout``. Validation is left out: it is a separate step of opening a source.
    ``memory_limit=None`` runs it without the readout's own DuckDB cap, to show what the cap costs."""
    from fanlib.ab.readout import experiment_readout
    from fanlib.data.fandata import connect

    fd = connect(db, validate=False)
    try:
        cap = {} if memory_limit == "default" else {"memory_limit": memory_limit}
        return experiment_readout(
            fd,
            "exp",
            planned_split={"control": 1, "treatment": 1},
            metrics=["conversion", "revenue_per_fan", "revenue_per_order"],
            **cap,
        )
    finally:
        fd.close()


def _pandas_contract(db):
    """The same outcomes the usual pandas way: read the tables, merge, filter the windows, group, join back."""
    import duckdb
    import pandas as pd

    con = duckdb.connect(db, read_only=True)
    a = con.execute("SELECT fan_id, variant, assigned_time FROM assignments WHERE experiment_id = 'exp'").df()
    orders = con.execute("SELECT fan_id, order_time, amount_cny FROM orders").df()
    con.close()
    if a["fan_id"].duplicated().any():
        raise ValueError("duplicate assignment")
    o = orders.merge(a, on="fan_id")
    day28 = pd.Timedelta(days=28)
    post = (o["order_time"] >= o["assigned_time"]) & (o["order_time"] < o["assigned_time"] + day28)
    pre = (o["order_time"] < o["assigned_time"]) & (o["order_time"] >= o["assigned_time"] - day28)
    per = o[post].groupby("fan_id").agg(revenue=("amount_cny", "sum"), orders=("amount_cny", "size"))
    per_pre = o[pre].groupby("fan_id").agg(pre_revenue=("amount_cny", "sum"), pre_orders=("amount_cny", "size"))
    units = a.set_index("fan_id").join(per).join(per_pre).fillna(0.0)
    units["converted"] = (units["orders"] > 0).astype(float)
    units["pre_converted"] = (units["pre_orders"] > 0).astype(float)
    return _pandas_readout(units.reset_index())


def build(folder: Path, n: int, seed: int = 1) -> tuple[Path, Path]:
    """Write the unit table with DuckDB's own generator (fast, little memory)."""
    import duckdb

    parquet, db = folder / "units.parquet", folder / "units.duckdb"
    con = duckdb.connect(str(db))
    con.execute(f"SELECT setseed({seed / 10})")
    con.execute(f"""
        CREATE TABLE units AS
        WITH base AS (
            SELECT range AS fan_id,
                   CASE WHEN random() < 0.5 THEN 'control' ELSE 'treatment' END AS variant,
                   random() AS u1, random() AS u2, random() AS u3, random() AS u4, random() AS u5
            FROM range({n})
        ), pre AS (
            SELECT *, CASE WHEN u1 < 0.25 THEN 1 + floor(-ln(u2) * 1.5) ELSE 0 END AS pre_orders FROM base
        )
        SELECT fan_id, variant,
               pre_orders,
               CASE WHEN pre_orders > 0
                    THEN pre_orders * exp(4.5 + 0.9 * sqrt(-2 * ln(u3)) * cos(6.2831853 * u4))
                    ELSE 0 END AS pre_revenue,
               CASE WHEN u5 < 0.2 + 0.3 * (pre_orders > 0)::INT + 0.01 * (variant = 'treatment')::INT
                    THEN 1 + floor(-ln(random()) * 1.2) ELSE 0 END AS orders
        FROM pre
    """)
    con.execute("""
        CREATE OR REPLACE TABLE units AS
        SELECT fan_id, variant, pre_orders, pre_revenue, orders,
               CASE WHEN orders > 0 THEN orders * exp(4.5 + 0.9 * sqrt(-2 * ln(random())) * cos(6.2831853 * random()))
                    ELSE 0 END AS revenue,
               (orders > 0)::DOUBLE AS converted, (pre_orders > 0)::DOUBLE AS pre_converted
        FROM units
    """)
    con.execute(f"COPY units TO '{parquet}' (FORMAT parquet)")
    con.close()
    return parquet, db


def _metrics():
    from fanlib.ab.metrics import Metric

    return {
        m.name: m
        for m in (
            Metric("conversion", "proportion", "converted", covariates=("pre_converted", "pre_revenue")),
            Metric("revenue_per_fan", "mean", "revenue", covariates=("pre_revenue", "pre_orders")),
            Metric("revenue_per_order", "ratio", "revenue", denominator="orders"),
        )
    }


class _Engine:
    """The door into pandas, for a bare ibis connection."""

    def __init__(self, con):
        self.con = con

    def execute(self, expr, label=None):
        return self.con.execute(expr)


def _fanlib_readout(con, table):
    from fanlib.ab.comparison import analyze
    from fanlib.ab.queries import by_variant, variant_moments

    metrics = _metrics()
    mom = by_variant(variant_moments(_Engine(con), table, metrics))
    return analyze(mom, metrics, control="control", planned_split={"control": 1, "treatment": 1})


def _pandas_readout(df):
    """The same statistics the usual pandas way: groupby aggregates on the full frame, then Welch/z/CUPED."""
    import numpy as np
    from scipy import stats

    out = {}
    g = df.groupby("variant")
    for col in ("converted", "revenue"):
        agg = g[col].agg(["count", "mean", "var"])
        c, t = agg.loc["control"], agg.loc["treatment"]
        se = np.sqrt(t["var"] / t["count"] + c["var"] / c["count"])
        out[col] = (t["mean"] - c["mean"], 2 * stats.norm.sf(abs(t["mean"] - c["mean"]) / se))
        # CUPED with one covariate
        x = df["pre_revenue"].to_numpy()
        y = df[col].to_numpy()
        theta = np.cov(y, x)[0, 1] / x.var(ddof=1)
        adj = y - theta * (x - x.mean())
        ctl = df["variant"].to_numpy() == "control"
        d = adj[~ctl].mean() - adj[ctl].mean()
        out[col + "_cuped"] = (d, adj[~ctl].var() / (~ctl).sum() + adj[ctl].var() / ctl.sum())
    s = g[["revenue", "orders"]].sum()
    out["revenue_per_order"] = (
        s.loc["treatment", "revenue"] / s.loc["treatment", "orders"]
        - s.loc["control", "revenue"] / s.loc["control", "orders"]
    )
    return out


def _tiny_frame():
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    n = 1_000
    return pd.DataFrame(
        {
            "variant": rng.choice(["control", "treatment"], n),
            "converted": rng.integers(0, 2, n) * 1.0,
            "revenue": rng.exponential(50, n),
            "orders": rng.integers(0, 3, n) * 1.0,
            "pre_revenue": rng.exponential(50, n),
            "pre_orders": rng.integers(0, 3, n) * 1.0,
            "pre_converted": rng.integers(0, 2, n) * 1.0,
        }
    )


def _tiny_fanlib():
    import ibis

    con = ibis.duckdb.connect()
    return con, ibis.memtable(_tiny_frame())


def worker(scenario: str, parquet: str, db: str, repeat: int) -> dict:
    """Run one scenario ``repeat`` times in this process; report times and peak memory."""
    import ibis
    import pandas as pd

    times = []
    # one untimed warm-up run per process (imports, first-call set-up), as a long-lived kernel has
    _warm = {"fanlib": lambda: _fanlib_readout(*_tiny_fanlib()), "pandas": lambda: _pandas_readout(_tiny_frame())}
    _warm[scenario.split("_")[0]]()
    if scenario in CONTRACT_SCENARIOS:
        run = {
            "fanlib_contract": _fanlib_contract,
            "pandas_contract": _pandas_contract,
            "fanlib_contract_uncapped": lambda db: _fanlib_contract(db, memory_limit=None),
        }[scenario]
        for _ in range(repeat):
            t0 = time.perf_counter()
            run(db)
            times.append(time.perf_counter() - t0)
    elif scenario == "fanlib_compute":
        con = ibis.duckdb.connect(db, read_only=True)
        table = con.table("units")
        _fanlib_readout(con, table)  # untimed: the engine has read the columns once
        for _ in range(repeat):
            t0 = time.perf_counter()
            _fanlib_readout(con, table)
            times.append(time.perf_counter() - t0)
    elif scenario in ("fanlib_duckdb", "fanlib_parquet"):
        for _ in range(repeat):
            t0 = time.perf_counter()
            if scenario == "fanlib_duckdb":
                con = ibis.duckdb.connect(db, read_only=True)
                table = con.table("units")
            else:
                con = ibis.duckdb.connect()
                table = con.read_parquet(parquet)
            _fanlib_readout(con, table)
            times.append(time.perf_counter() - t0)
            con.disconnect()
    elif scenario == "pandas_compute":
        df = pd.read_parquet(parquet)
        for _ in range(repeat):
            t0 = time.perf_counter()
            _pandas_readout(df)
            times.append(time.perf_counter() - t0)
    elif scenario == "pandas_parquet":
        for _ in range(repeat):
            t0 = time.perf_counter()
            df = pd.read_parquet(parquet)
            _pandas_readout(df)
            times.append(time.perf_counter() - t0)
            del df
    else:
        raise SystemExit(f"unknown scenario {scenario}")
    return {"scenario": scenario, "times": times, "median_s": statistics.median(times), "peak_rss_mb": _peak_rss_mb()}


def _peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM restarts at exec; ru_maxrss can carry the parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _baseline_rss_mb() -> float:
    """Peak memory of a process that only imports the libraries (subtracted to show the readout's own use)."""
    code = (
        "import ibis, pandas, scipy.stats, fanlib.ab.readout, pathlib;"
        "print([l for l in pathlib.Path('/proc/self/status').read_text().splitlines() if l.startswith('VmHWM')]"
        "[0].split()[1])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return int(out.stdout.strip()) / 1024


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fans", type=int, default=10_000_000, help="assignment rows (one per fan)")
    ap.add_argument("--repeat", type=int, default=5, help="runs per scenario (the median is reported)")
    ap.add_argument("--out", type=Path, default=RESULTS / "ab", help="output path stem (.json and .md are added)")
    ap.add_argument(
        "--contract",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time the readout from the contract tables (assignments + orders)",
    )
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--parquet", help=argparse.SUPPRESS)
    ap.add_argument("--db", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.parquet, args.db, args.repeat)))
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench_ab_") as tmp:
        t0 = time.perf_counter()
        parquet, db = build(Path(tmp), args.fans)
        build_s = time.perf_counter() - t0
        print(f"built {args.fans:,} rows in {build_s:.1f} s", flush=True)
        contract_db = build_contract(Path(tmp), args.fans) if args.contract else None
        rows = []
        for sc in SCENARIOS + (CONTRACT_SCENARIOS if args.contract else ()):
            source = str(contract_db) if sc in CONTRACT_SCENARIOS else str(db)
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--worker",
                    sc,
                    "--parquet",
                    str(parquet),
                    "--db",
                    source,
                    "--repeat",
                    str(args.repeat),
                ],
                capture_output=True,
                text=True,
                cwd=ROOT,
            )
            if out.returncode:
                print(out.stderr, file=sys.stderr)
                return out.returncode
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(
                f"{sc:16s} median {rows[-1]['median_s']:.3f} s  peak RSS {rows[-1]['peak_rss_mb']:.0f} MB", flush=True
            )
    base_rss = _baseline_rss_mb()
    by = {r["scenario"]: r for r in rows}
    for r in rows:
        ref = (
            by["pandas_compute"]
            if r["scenario"].endswith("compute")
            else by["pandas_contract"]
            if "contract" in r["scenario"]
            else by["pandas_parquet"]
        )
        r["speedup_vs_pandas"] = ref["median_s"] / r["median_s"]
        r["rss_above_imports_mb"] = r["peak_rss_mb"] - base_rss
    targets = {"compute_s": 2.0, "end_to_end_s": 5.0, "memory_mb": 1024}
    met = {
        "compute": by["fanlib_compute"]["median_s"] <= targets["compute_s"],
        "end_to_end": max(by["fanlib_duckdb"]["median_s"], by["fanlib_parquet"]["median_s"]) <= targets["end_to_end_s"],
        "memory": max(by[s]["peak_rss_mb"] for s in SCENARIOS if s.startswith("fanlib")) < targets["memory_mb"],
    }
    if args.contract:
        c = by["fanlib_contract"]
        met["contract_end_to_end"] = c["median_s"] <= targets["end_to_end_s"]
        met["contract_memory"] = c["peak_rss_mb"] < targets["memory_mb"]
    result = {
        "fans": args.fans,
        "repeat": args.repeat,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_1min": os.getloadavg()[0],
        "imports_rss_mb": base_rss,
        "scenarios": rows,
        "targets": targets,
        "targets_met": met,
    }
    stem = args.out
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2))
    lines = [
        f"# A/B readout benchmark: {args.fans:,} assignment rows",
        "",
        f"Median of {args.repeat} runs; {os.cpu_count()} CPUs; peak RSS per scenario (fresh process; "
        f"imports alone take {base_rss:.0f} MB).",
        "",
        "| scenario | median (s) | vs pandas | peak RSS (MB) | above imports (MB) |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['scenario']} | {r['median_s']:.3f} | {r['speedup_vs_pandas']:.1f}× | "
            f"{r['peak_rss_mb']:.0f} | {r['rss_above_imports_mb']:.0f} |"
        )
    lines += [
        "",
        f"Targets: compute ≤ {targets['compute_s']} s: {'met' if met['compute'] else 'NOT met'}; "
        f"with reading from DuckDB/Parquet ≤ {targets['end_to_end_s']} s: "
        f"{'met' if met['end_to_end'] else 'NOT met'}; peak memory < {targets['memory_mb']} MB: "
        f"{'met' if met['memory'] else 'NOT met'} (one-row-per-fan table).",
    ]
    if args.contract:
        lines += [
            "",
            f"From the contract tables (assignments + orders, duplicate check and outcome windows "
            f"included): ≤ {targets['end_to_end_s']} s: {'met' if met['contract_end_to_end'] else 'NOT met'}; "
            f"peak memory < {targets['memory_mb']} MB: {'met' if met['contract_memory'] else 'NOT met'}.",
        ]
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
