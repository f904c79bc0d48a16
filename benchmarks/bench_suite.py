"""Benchmark: the report suite end to end, at several demo sizes, with same-run baselines.

    .venv/bin/python benchmarks/bench_suite.py                      # 20,000 fans (a few minutes)
    .venv/bin/python benchmarks/bench_suite.py --sizes 20000,200000,1000000 --data-dir /work/bench-data

For each size (fans; the demo has ~64 events per fan):

* demo generation (`fanlib demo`): wall time and peak memory;
* each report alone (`fanlib run NAME`), and the whole suite (`fanlib run all --jobs 2`), with the
  peak memory of the whole process tree (runner, workers, kernels); the suite runs audited
  (``fanlib.data.audit``): the largest result any step took from the engine is recorded against the
  events table's row count;
* the heavy aggregations through fanlib (ibis, ``FanData.execute``) against bare DuckDB SQL
  computing the same tables over the same file, alternating, in one process.

Once per run: the fixed overhead of one report (a trivial notebook through `fanlib run`, against
`jupyter nbconvert --execute --to html` of the same notebook), the import times behind it, and a
kernel start.

Medians over ``--repeat`` runs (``--repeat-large`` at 1,000,000 fans and more, where a run takes
minutes). Results merge into benchmarks/results/suite.json and suite.md: sizes measured earlier
and not now are kept, so the 1,000,000-fan figures survive a default run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import FANLIB, PYTHON, RESULTS, fmt_mb, fmt_s, machine, measure, summarise, write_results  # noqa: E402

REPORTS = ("00_data_overview", "01_fan_profiling", "02_ab_campaign", "03_retention", "04_sentiment", "05_overview")
DATE = "2026-01-05"
TARGETS = {
    "suite_default_s": 30.0,
    "fixed_overhead_s": 4.0,
    "suite_1m_s": 300.0,
    "peak_1m_mb": 8192.0,
    "aggregation_ratio": 3.0,
}
RAW_EVENT_COLUMNS = {"event_time", "event_type", "content_id"}


def log(msg: str) -> None:
    print(f"[bench_suite {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- generation and reports


def generate(size: int, out: Path, repeat: int) -> dict:
    runs = []
    for _ in range(repeat):
        r = measure(FANLIB + ["demo", "--fans", str(size), "--seed", "7", "--out", str(out), "--quiet"])
        runs.append(r)
        log(f"demo {size:,} fans: {r['wall_s']:.1f} s, peak {fmt_mb(r['peak_rss_mb'])}")
    counts = json.loads(out.with_name("demo_truth.json").read_text())["tables"]
    return {**summarise(runs), "tables": {k: v for k, v in counts.items() if not k.startswith("truth")}}


def _manifest_seconds(folder: Path, name: str) -> float | None:
    for path in (folder / f"{name}.manifest.json", folder / f"{name}.failed.manifest.json"):
        if path.exists():
            return json.loads(path.read_text()).get("durations", {}).get("total_s")
    return None


def each_report(source: Path, repeat: int, scratch: Path) -> dict:
    """Every report alone, in suite order (the overview reads the others' summaries, so it runs last)."""
    runs: dict[str, list[dict]] = {name: [] for name in REPORTS}
    for i in range(repeat):
        out = scratch / f"each-{i}"
        for name in REPORTS:
            r = measure(FANLIB + ["run", name, "--source", str(source), "--out", str(out), "--date", DATE])
            r["report_s"] = _manifest_seconds(out / DATE, name)
            runs[name].append(r)
            log(
                f"  {name}: {r['wall_s']:.1f} s, peak {fmt_mb(r['peak_rss_mb'])}"
                + ("" if r["returncode"] == 0 else "  FAILED")
            )
        shutil.rmtree(out, ignore_errors=True)
    out = {}
    for name, rs in runs.items():
        s = summarise(rs)
        inner = [r["report_s"] for r in rs if r["report_s"] is not None]
        s["report_median_s"] = round(statistics.median(inner), 3) if inner else None
        out[name] = s
    return out


def suite(source: Path, repeat: int, jobs: int, scratch: Path, events: int) -> dict:
    from fanlib.data.audit import read_log, sitecustomize_source

    site = scratch / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(sitecustomize_source(), encoding="utf-8")
    runs, biggest, raw, audited_pids = [], None, [], set()
    # The audit loads ibis' backends into every process (about half a second each), so with several
    # runs the timed ones run plain and one more run is audited; a single run is timed and audited.
    audit_separately = repeat > 1
    for i in range(repeat + (1 if audit_separately else 0)):
        audited = not audit_separately or i == repeat
        out, audit = scratch / f"suite-{i}", scratch / f"audit-{i}.jsonl"
        env = dict(os.environ, PYTHONPATH=str(site), FANLIB_AUDIT_LOG=str(audit)) if audited else None
        r = measure(
            FANLIB + ["run", "all", "--source", str(source), "--out", str(out), "--date", DATE, "--jobs", str(jobs)],
            env=env,
        )
        r["reports"] = {name: _manifest_seconds(out / DATE, name) for name in REPORTS}
        r["failed"] = sorted(p.name.split(".")[0] for p in (out / DATE).glob("*.failed.manifest.json"))
        r["errors"] = {
            p.name.split(".")[0]: (json.loads(p.read_text()).get("error") or {})
            for p in (out / DATE).glob("*.failed.manifest.json")
        }
        for name, err in r["errors"].items():
            log(f"  {name} failed: {err.get('ename')}: {err.get('evalue')} (cell {err.get('cell_index')})")
            shutil.copytree(
                out / DATE, scratch.parent / f"bench_suite_failed_{name}_{int(time.time())}", dirs_exist_ok=True
            )
        r["audited"] = audited
        if not (audit_separately and audited):
            runs.append(r)
        for e in read_log(audit):
            audited_pids.add((i, e["pid"]))
            if biggest is None or (e["rows"] or 0) > (biggest["rows"] or 0):
                biggest = e
            if RAW_EVENT_COLUMNS <= set(e["columns"]) and (e["rows"] or 0) > 100:  # beyond a few examples
                raw.append(e)
        log(
            f"  suite --jobs {jobs}{' (audited)' if audited else ''}: {r['wall_s']:.1f} s, "
            f"peak {fmt_mb(r['peak_rss_mb'])}" + (f"  FAILED: {', '.join(r['failed'])}" if r["failed"] else "")
        )
        shutil.rmtree(out, ignore_errors=True)
    s = summarise(runs)
    s["jobs"] = jobs
    s["timed_runs_audited"] = not audit_separately
    s["failed_reports"] = sorted({n for r in runs for n in r["failed"]})
    s["reports_in_suite_s"] = {
        name: statistics.median([r["reports"][name] for r in runs if r["reports"][name] is not None] or [float("nan")])
        for name in REPORTS
    }
    s["materialised"] = {
        "largest_rows": biggest["rows"] if biggest else None,
        "largest_columns": biggest["columns"] if biggest else None,
        "events_rows": events,
        "largest_share_of_events": (biggest["rows"] / events) if biggest and events else None,
        "raw_event_results": len(raw),
        "processes_audited": len(audited_pids),
    }
    return s


# --------------------------------------------------------------------------- heavy aggregations


def _events_sql_types(tuple_) -> str:
    return ", ".join(f"'{t}'" for t in tuple_)


def aggregation_pairs(fd, as_of) -> dict:
    """name -> (fanlib callable, bare SQL list). Both compute the same tables from the same file."""
    import pandas as pd

    from fanlib.ab.metrics import Metric
    from fanlib.ab.queries import experiment_units, variant_moments
    from fanlib.executive.queries import daily_kpis
    from fanlib.profiling import queries_features as F
    from fanlib.retention.cohorts import cohort_table

    as_of = pd.Timestamp(as_of)
    end = (as_of + pd.Timedelta(days=1)).strftime("%Y-%m-%d")
    start = (as_of + pd.Timedelta(days=1) - pd.Timedelta(days=90)).strftime("%Y-%m-%d")
    exp = fd.execute(
        fd.assignments.group_by("experiment_id").aggregate(n=lambda t: t.count()).order_by(ibis_desc("n")).limit(1),
        label="bench:experiment",
    ).experiment_id.iloc[0]
    metrics = {
        m.name: m
        for m in (
            Metric("conversion", "proportion", "converted", covariates=("pre_converted",)),
            Metric("revenue_per_fan", "mean", "revenue", covariates=("pre_revenue",)),
            Metric("events", "mean", "events", covariates=("pre_events",)),
        )
    }

    def count_if(types):
        return f"count(*) FILTER (WHERE event_type IN ({_events_sql_types(types)}))"

    features_sql = [
        f"""
        WITH ev AS (
            SELECT fan_id, count(*) AS events, count(DISTINCT CAST(event_time AS DATE)) AS active_days,
                   {count_if(F.INTERACTION_TYPES)} AS interactions, {count_if(F.PASSIVE_TYPES)} AS browsing,
                   {count_if(("share",))} AS shares, {count_if(("click",))} AS clicks,
                   {count_if(("ugc_post",))} AS ugc_posts, {count_if(("message",))} AS messages,
                   {count_if(F.SPEAKING_TYPES)} AS speaking, {count_if(F.RITUAL_TYPES)} AS checkins,
                   min(event_time) AS first_event, max(event_time) AS last_event
            FROM events WHERE event_time >= TIMESTAMP '{start}' AND event_time < TIMESTAMP '{end}'
            GROUP BY fan_id),
        od AS (
            SELECT fan_id, count(*) FILTER (WHERE order_time >= TIMESTAMP '{start}') AS orders,
                   sum(CASE WHEN order_time >= TIMESTAMP '{start}' THEN amount_cny ELSE 0 END) AS spend,
                   max(order_time) FILTER (WHERE order_time >= TIMESTAMP '{start}') AS last_order,
                   count(*) AS orders_total, sum(amount_cny) AS spend_total
            FROM orders WHERE order_time < TIMESTAMP '{end}' GROUP BY fan_id)
        SELECT f.fan_id, f.channel, f.community_id, f.join_time,
               coalesce(events, 0) AS events, coalesce(active_days, 0) AS active_days,
               coalesce(interactions, 0) AS interactions, coalesce(browsing, 0) AS browsing,
               coalesce(shares, 0) AS shares, coalesce(clicks, 0) AS clicks, coalesce(ugc_posts, 0) AS ugc_posts,
               coalesce(messages, 0) AS messages, coalesce(speaking, 0) AS speaking,
               coalesce(checkins, 0) AS checkins, coalesce(orders, 0) AS orders, coalesce(spend, 0) AS spend,
               coalesce(orders_total, 0) AS orders_total, coalesce(spend_total, 0) AS spend_total,
               date_diff('second', f.join_time, TIMESTAMP '{end}') / 86400.0 AS tenure_days,
               date_diff('second', ev.last_event, TIMESTAMP '{end}') / 86400.0 AS days_since_event,
               date_diff('second', od.last_order, TIMESTAMP '{end}') / 86400.0 AS days_since_order
        FROM fans f LEFT JOIN ev USING (fan_id) LEFT JOIN od USING (fan_id)
        WHERE f.join_time < TIMESTAMP '{end}'"""
    ]

    daily_sql = [
        "SELECT CAST(event_time AS DATE) AS date, count(DISTINCT fan_id) AS active_fans, count(*) AS events "
        "FROM events GROUP BY 1",
        "SELECT CAST(order_time AS DATE) AS date, count(*) AS orders, sum(amount_cny) AS gmv FROM orders GROUP BY 1",
        "SELECT CAST(join_time AS DATE) AS date, count(*) AS new_members FROM fans GROUP BY 1",
    ]

    as_of_d = as_of.strftime("%Y-%m-%d")
    cohort_base = f"""
        WITH s AS (SELECT fan_id, CAST(join_time AS DATE) AS start_day,
                          CAST(date_trunc('week', CAST(join_time AS DATE)) AS VARCHAR) AS grp,
                          (DATE '{as_of_d}' - CAST(join_time AS DATE) + 1) // 7 - 1 AS max_obs
                   FROM fans WHERE CAST(join_time AS DATE) <= DATE '{as_of_d}'),
        a AS (SELECT DISTINCT fan_id, day FROM (
                SELECT fan_id, CAST(event_time AS DATE) AS day FROM events
                UNION ALL SELECT fan_id, CAST(order_time AS DATE) AS day FROM orders)
              WHERE day <= DATE '{as_of_d}'),
        j AS (SELECT a.fan_id, s.grp, s.max_obs, (a.day - s.start_day) // 7 AS period
              FROM a JOIN s USING (fan_id) WHERE a.day >= s.start_day)"""
    cohort_sql = [
        f"{cohort_base} SELECT grp, least(max_obs, 12) AS max_obs, count(*) AS n FROM s GROUP BY 1, 2",
        f"{cohort_base} SELECT grp, period, count(*) AS n FROM (SELECT DISTINCT fan_id, grp, period FROM j "
        "WHERE period <= max_obs AND period <= 12) GROUP BY 1, 2",
        f"{cohort_base} SELECT grp, least(last, max_obs, 12) AS reach, count(*) AS n FROM "
        "(SELECT fan_id, grp, max_obs, max(period) AS last FROM j GROUP BY 1, 2, 3) GROUP BY 1, 2",
    ]

    ab_sql = [
        f"""
        WITH a AS (SELECT fan_id, variant, assigned_time FROM assignments WHERE experiment_id = '{exp}'),
        o AS (SELECT a.fan_id,
                     sum(CASE WHEN o.order_time >= a.assigned_time THEN 1 ELSE 0 END) AS orders,
                     sum(CASE WHEN o.order_time >= a.assigned_time THEN o.amount_cny ELSE 0 END) AS revenue,
                     sum(CASE WHEN o.order_time < a.assigned_time THEN 1 ELSE 0 END) AS pre_orders,
                     sum(CASE WHEN o.order_time < a.assigned_time THEN o.amount_cny ELSE 0 END) AS pre_revenue
              FROM a JOIN orders o ON o.fan_id = a.fan_id AND o.order_time >= a.assigned_time - INTERVAL 28 DAY
                                   AND o.order_time < a.assigned_time + INTERVAL 28 DAY
              GROUP BY a.fan_id),
        e AS (SELECT a.fan_id,
                     sum(CASE WHEN e.event_time >= a.assigned_time THEN 1 ELSE 0 END) AS events,
                     sum(CASE WHEN e.event_time < a.assigned_time THEN 1 ELSE 0 END) AS pre_events
              FROM a JOIN events e ON e.fan_id = a.fan_id AND e.event_time >= a.assigned_time - INTERVAL 28 DAY
                                   AND e.event_time < a.assigned_time + INTERVAL 28 DAY
              GROUP BY a.fan_id),
        u AS (SELECT a.variant, coalesce(o.revenue, 0) AS revenue, coalesce(o.pre_revenue, 0) AS pre_revenue,
                     CASE WHEN coalesce(o.orders, 0) > 0 THEN 1.0 ELSE 0.0 END AS converted,
                     CASE WHEN coalesce(o.pre_orders, 0) > 0 THEN 1.0 ELSE 0.0 END AS pre_converted,
                     coalesce(e.events, 0) AS events, coalesce(e.pre_events, 0) AS pre_events
              FROM a LEFT JOIN o USING (fan_id) LEFT JOIN e USING (fan_id))
        SELECT variant, count(*) AS n,
               sum(converted) s0, sum(pre_converted) s1, sum(revenue) s2, sum(pre_revenue) s3,
               sum(events) s4, sum(pre_events) s5,
               sum(converted * converted) c00, sum(converted * pre_converted) c01,
               sum(pre_converted * pre_converted) c11, sum(revenue * revenue) c22, sum(revenue * pre_revenue) c23,
               sum(pre_revenue * pre_revenue) c33, sum(events * events) c44, sum(events * pre_events) c45,
               sum(pre_events * pre_events) c55
        FROM u GROUP BY variant"""
    ]

    return {
        "daily KPIs": (lambda: daily_kpis(fd), daily_sql),
        "per-fan features (90 days)": (
            lambda: fd.execute(F.fan_features(fd, as_of.date(), 90), label="bench:features"),
            features_sql,
        ),
        "weekly cohort counts": (
            lambda: cohort_table(fd, period="7d", max_periods=12, as_of=as_of_d, min_cohort_size=1),
            cohort_sql,
        ),
        "A/B sufficient statistics": (lambda: variant_moments(fd, experiment_units(fd, exp), metrics), ab_sql),
    }


def ibis_desc(col):
    import ibis

    return ibis.desc(col)


def aggregations_worker(source: str, repeat: int) -> dict:
    """In this process: each heavy aggregation through fanlib and as bare SQL, alternating, after a warm-up."""
    import duckdb

    from fanlib.data.fandata import connect
    from fanlib.profiling.window import last_data_day

    fd = connect(source, validate=False)
    bare = duckdb.connect(source, read_only=True)
    as_of = last_data_day(fd)
    out = {}
    for name, (fanlib_fn, sqls) in aggregation_pairs(fd, as_of).items():

        def run_sql(sqls=sqls):
            return [bare.execute(q).fetchdf() for q in sqls]

        fanlib_fn(), run_sql()  # warm-up: both read the columns once
        t_fan, t_sql = [], []
        for _ in range(repeat):
            t0 = time.perf_counter()
            fanlib_fn()
            t_fan.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            frames = run_sql()
            t_sql.append(time.perf_counter() - t0)
        f, s = statistics.median(t_fan), statistics.median(t_sql)
        out[name] = {
            "fanlib_s": round(f, 4),
            "bare_sql_s": round(s, 4),
            "ratio": round(f / s, 2),
            "runs": repeat,
            "sql_rows": [len(x) for x in frames],
        }
    return out


def aggregations(source: Path, repeat: int) -> dict:
    r = measure([PYTHON, __file__, "--aggregations-worker", str(source), "--repeat", str(repeat)])
    if r["returncode"] != 0:
        raise RuntimeError(f"aggregation benchmark failed:\n{r['output_tail']}")
    line = [x for x in r["output_tail"].splitlines() if x.startswith("RESULT ")][-1]
    result = json.loads(line.removeprefix("RESULT "))
    for name, a in result.items():
        log(f"  {name}: fanlib {a['fanlib_s']:.3f} s, bare SQL {a['bare_sql_s']:.3f} s, ratio {a['ratio']:.2f}")
    return result


# --------------------------------------------------------------------------- fixed overhead


def _trivial_notebook(folder: Path) -> Path:
    """A report that does nothing but what every report does: import, theme, write a summary."""
    import nbformat

    params = nbformat.v4.new_code_cell(
        f'source: str = "data/demo.duckdb"  # data source\n'
        f'summary_path: str = "{folder}/00_trivial.summary.json"  # summary JSON\n'
        f'output_dir: str = "{folder}"  # exports'
    )
    params.metadata["tags"] = ["parameters"]
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# 空报告 An empty report"),
        params,
        nbformat.v4.new_code_cell(
            "import pandas as pd\nfrom fanlib.present import plotting\n"
            "from fanlib.data.fandata import connect\nfrom fanlib.present.notebook import Summary\n"
            "plotting.use_theme()"
        ),
        nbformat.v4.new_code_cell("Summary('00_trivial').headline('reports', 1).write(summary_path)"),
    ]
    nb.metadata["kernelspec"] = {"name": "fanlib", "display_name": "Python (fanlib)", "language": "python"}
    path = folder / "notebooks" / "00_trivial.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


IMPORTS = {
    "fanlib CLI (`fanlib --help`)": "import fanlib.cli",
    "runner + papermill + nbconvert (parent)": (
        "import fanlib.reports.cli, fanlib.reports.suite as r; r.fast_imports(); "
        "import papermill.engines, nbconvert, fanlib.reports.htmlexport"
    ),
    "papermill alone, as it imports": "import papermill",
    "fanlib.data.fandata (ibis, DuckDB)": "import fanlib.data.fandata",
    "pandas": "import pandas",
    "matplotlib + fanlib.present.plotting": "import fanlib.present.plotting",
}


def _import_seconds(stmt: str, repeat: int) -> float:
    code = f"import time; t = time.perf_counter(); {stmt}; print(time.perf_counter() - t)"
    times = []
    for _ in range(repeat):
        r = measure([PYTHON, "-c", code])
        times.append(float(r["output_tail"].strip().splitlines()[-1]))
    return round(statistics.median(times), 3)


def _kernel_start_seconds(repeat: int, folder: Path) -> float:
    """A kernel started, one trivial cell run and the kernel shut down, the way the runner does it
    (papermill's engine), after the imports."""
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    path = folder / "one_cell.ipynb"
    nbformat.write(nb, path)
    code = (
        "from pathlib import Path; import time; from fanlib.reports import kernel; kernel.fast_imports(); "
        "import papermill.engines; t = time.perf_counter(); "
        f"nb, err = kernel.execute_notebook(Path({str(path)!r}), {{}}, cwd=Path({str(folder)!r}), timeout=60); "
        "assert err is None, err; print(time.perf_counter() - t)"
    )
    times = []
    for _ in range(repeat):
        r = measure([PYTHON, "-c", code])
        times.append(float(r["output_tail"].strip().splitlines()[-1]))
    return round(statistics.median(times), 3)


def fixed_overhead(repeat: int, scratch: Path, source: Path) -> dict:
    folder = scratch / "trivial"
    nb = _trivial_notebook(folder)
    fan_runs, base_runs, inner = [], [], []
    for i in range(repeat):
        out = folder / f"out-{i}"
        r = measure(
            FANLIB
            + ["run", "all", "--notebooks", str(nb.parent), "--source", str(source), "--out", str(out), "--date", DATE]
        )
        fan_runs.append(r)
        m = out / DATE / "00_trivial.manifest.json"
        if m.exists():
            inner.append(json.loads(m.read_text())["durations"])
        b = measure(
            [
                PYTHON,
                "-m",
                "jupyter",
                "nbconvert",
                "--to",
                "html",
                "--execute",
                str(nb),
                "--ExecutePreprocessor.kernel_name=fanlib",
                "--output-dir",
                str(folder / f"nbc-{i}"),
            ]
        )
        base_runs.append(b)
    fan, base = summarise(fan_runs), summarise(base_runs)
    log(f"fixed overhead: fanlib run {fan['median_s']:.2f} s, nbconvert --execute {base['median_s']:.2f} s")
    imports = {label: _import_seconds(stmt, 3) for label, stmt in IMPORTS.items()}
    for label, secs in imports.items():
        log(f"  import {label}: {secs:.2f} s")
    kernel = _kernel_start_seconds(3, folder)
    log(f"  kernel start, one cell and shutdown (papermill): {kernel:.2f} s")
    return {
        "fanlib_run": fan,
        "nbconvert_execute": base,
        "ratio_vs_nbconvert": round(fan["median_s"] / base["median_s"], 2),
        "in_report": {k: round(statistics.median([d[k] for d in inner]), 3) for k in inner[0]} if inner else {},
        "imports_s": imports,
        "kernel_start_s": kernel,
    }


# --------------------------------------------------------------------------- output


def markdown(result: dict) -> str:
    L = [
        "# Report suite benchmark",
        "",
        f"Machine: {result['machine']['cpus']} CPUs, {result['machine']['memory_gb']} GB, shared with other work "
        f"(load average {result['machine']['load_average_at_start']} at the start). "
        "Medians of the number of runs shown; peak memory is the whole process tree "
        "(runner, workers and kernels together).",
        "",
    ]
    fo = result.get("fixed_overhead")
    if fo:
        L += [
            "## Fixed overhead of one report",
            "",
            "| what | fanlib | baseline | ratio |",
            "|---|---|---|---|",
            f"| a trivial report, end to end ({fo['fanlib_run']['runs']} runs) | `fanlib run`: "
            f"{fmt_s(fo['fanlib_run']['median_s'])} s | `jupyter nbconvert --execute --to html`: "
            f"{fmt_s(fo['nbconvert_execute']['median_s'])} s | {fo['ratio_vs_nbconvert']:.2f}× |",
            "",
            f"Target ≤ {TARGETS['fixed_overhead_s']:.0f} s: "
            f"{'met' if fo['fanlib_run']['median_s'] <= TARGETS['fixed_overhead_s'] else 'NOT met'}. "
            f"Inside the report: {', '.join(f'{k} {v:.2f} s' for k, v in fo['in_report'].items())}; "
            f"a kernel started, one cell run and the kernel shut down through papermill "
            f"{fo['kernel_start_s']:.2f} s (median of 3, after the imports).",
            "",
            "| import (fresh process, median of 3) | seconds |",
            "|---|---|",
        ]
        L += [f"| {k} | {v:.2f} |" for k, v in fo["imports_s"].items()]
        L.append("")
    for size, r in sorted(result["sizes"].items(), key=lambda kv: int(kv[0])):
        g = r.get("generate", {})
        tables = g.get("tables", {})
        L += [
            f"## {int(size):,} fans",
            "",
            f"Events {tables.get('events', 0):,}, orders {tables.get('orders', 0):,}, comments "
            f"{tables.get('comments', 0):,}. Measured {r.get('measured_at', '')}.",
            "",
            "| step | runs | median | peak memory |",
            "|---|---|---|---|",
        ]
        if g:
            L.append(f"| demo generation | {g['runs']} | {fmt_s(g['median_s'])} s | {fmt_mb(g['peak_rss_mb'])} |")
        for name, e in r.get("each_report", {}).items():
            fail = " (failed)" if e["failed_runs"] else ""
            L.append(
                f"| {name} alone (process; inside the runner {fmt_s(e.get('report_median_s'))} s) | "
                f"{e['runs']} | {fmt_s(e['median_s'])} s{fail} | {fmt_mb(e['peak_rss_mb'])} |"
            )
        s = r.get("suite")
        if s:
            fail = f" (failed: {', '.join(s['failed_reports'])})" if s["failed_reports"] else ""
            L.append(
                f"| **whole suite, `--jobs {s['jobs']}`** | {s['runs']} | **{fmt_s(s['median_s'])} s**{fail} | "
                f"{fmt_mb(s['peak_rss_mb'])} |"
            )
            inside = ", ".join(
                f"{k} {fmt_s(v)} s" for k, v in s.get("reports_in_suite_s", {}).items() if v == v and v is not None
            )
            if inside:
                L += ["", f"Each report inside the suite run (two at a time): {inside}."]
            m = s["materialised"]
            if m.get("largest_rows") is not None:
                L += [
                    "",
                    f"Largest result any step took from the engine: {m['largest_rows']:,} rows "
                    f"({m['largest_share_of_events']:.2%} of the {m['events_rows']:,} events; columns "
                    f"{', '.join(m['largest_columns'][:6])}{'…' if len(m['largest_columns']) > 6 else ''}); "
                    f"results shaped like raw events: {m['raw_event_results']} "
                    f"({m['processes_audited']} processes audited"
                    + (
                        "; the timed run was the audited one)."
                        if s.get("timed_runs_audited")
                        else "; in one more run, audited and not timed: the audit loads ibis' backends into "
                        "every process)."
                    ),
                ]
        ag = r.get("aggregations")
        if ag:
            L += [
                "",
                "| heavy aggregation | fanlib (ibis) | bare DuckDB SQL, same file, same run | ratio |",
                "|---|---|---|---|",
            ]
            for name, a in ag.items():
                L.append(f"| {name} | {fmt_s(a['fanlib_s'])} s | {fmt_s(a['bare_sql_s'])} s | {a['ratio']:.2f}× |")
            if int(size) < 1_000_000:
                L += [
                    "",
                    "Not judged against the 3× target at this size: the queries take milliseconds, and the "
                    "fixed cost of building each one through ibis (about 0.1 s) decides the ratio.",
                ]
        L.append("")
    L += ["## Targets", ""]
    L += [
        f"- {t['what']}: {t['value']} against {t['target']}: **{'met' if t['met'] else 'NOT met'}**"
        for t in result.get("targets", [])
    ]
    return "\n".join(L) + "\n"


def check_targets(result: dict) -> list[dict]:
    out = []
    fo = result.get("fixed_overhead")
    if fo:
        v = fo["fanlib_run"]["median_s"]
        out.append(
            {
                "what": "fixed overhead of one report",
                "value": f"{v:.2f} s",
                "target": "4 s",
                "met": v <= TARGETS["fixed_overhead_s"],
            }
        )
    sizes = result["sizes"]
    if "20000" in sizes and sizes["20000"].get("suite"):
        v = sizes["20000"]["suite"]["median_s"]
        out.append(
            {
                "what": "default demo suite, --jobs 2",
                "value": f"{v:.1f} s",
                "target": "30 s",
                "met": v <= TARGETS["suite_default_s"] and not sizes["20000"]["suite"]["failed_reports"],
            }
        )
    for size, r in sizes.items():
        if int(size) >= 1_000_000 and r.get("suite"):
            s = r["suite"]
            out.append(
                {
                    "what": f"{int(size):,} fans, full suite",
                    "value": f"{s['median_s']:.0f} s",
                    "target": "300 s",
                    "met": s["median_s"] <= TARGETS["suite_1m_s"] and not s["failed_reports"],
                }
            )
            out.append(
                {
                    "what": f"{int(size):,} fans, peak memory",
                    "value": fmt_mb(s["peak_rss_mb"]),
                    "target": "8 GB",
                    "met": s["peak_rss_mb"] <= TARGETS["peak_1m_mb"],
                }
            )
            m = s["materialised"]
            if m.get("largest_rows") is not None:
                out.append(
                    {
                        "what": f"{int(size):,} fans, largest result pulled into Python",
                        "value": f"{m['largest_rows']:,} rows",
                        "target": f"well under {m['events_rows']:,} events",
                        "met": m["largest_rows"] < m["events_rows"] / 20 and m["raw_event_results"] == 0,
                    }
                )
        # Judged where the aggregations are heavy: below a million fans they take milliseconds, and
        # the fixed cost of building the query through ibis (about 0.1 s) decides the ratio.
        for name, a in (r.get("aggregations", {}) if int(size) >= 1_000_000 else {}).items():
            out.append(
                {
                    "what": f"{int(size):,} fans, {name} vs bare SQL",
                    "value": f"{a['ratio']:.2f}×",
                    "target": "3×",
                    "met": a["ratio"] <= TARGETS["aggregation_ratio"],
                }
            )
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="20000", help="comma-separated fan counts (default 20000)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per measurement (the median is reported)")
    ap.add_argument("--repeat-large", type=int, default=1, help="runs per measurement at 1,000,000 fans and more")
    ap.add_argument("--jobs", type=int, default=2, help="parallel reports in the suite runs")
    ap.add_argument("--data-dir", help="keep the generated demo files here (default: a temporary folder)")
    ap.add_argument("--no-overhead", action="store_true", help="skip the fixed-overhead measurement")
    ap.add_argument("--no-each", action="store_true", help="skip running each report alone")
    ap.add_argument("--fresh", action="store_true", help="do not keep sizes measured by earlier runs")
    ap.add_argument(
        "--reuse-data",
        action="store_true",
        help="use demo files already in --data-dir; keep the generation figures measured earlier",
    )
    ap.add_argument("--no-aggregations", action="store_true", help="skip the aggregation-against-SQL comparison")
    ap.add_argument(
        "--aggregation-repeat", type=int, default=3, help="timed runs of each aggregation (after a warm-up)"
    )
    ap.add_argument("--aggregations-worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.aggregations_worker:
        print("RESULT " + json.dumps(aggregations_worker(args.aggregations_worker, args.repeat)), flush=True)
        return 0
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    previous = RESULTS / "suite.json"
    result = {"sizes": {}}
    if previous.exists() and not args.fresh:
        result = json.loads(previous.read_text())
        result.setdefault("sizes", {})
    result["machine"] = machine()
    scratch = Path(tempfile.mkdtemp(prefix="bench_suite_"))
    data_dir = Path(args.data_dir) if args.data_dir else scratch / "data"
    try:
        for size in sizes:
            repeat = args.repeat_large if size >= 1_000_000 else args.repeat
            folder = data_dir / f"demo_{size}"
            folder.mkdir(parents=True, exist_ok=True)
            source = folder / "demo.duckdb"
            log(f"== {size:,} fans ({repeat} run(s) per measurement)")
            entry = dict(result["sizes"].get(str(size), {}))
            entry.update({"measured_at": time.strftime("%Y-%m-%d %H:%M"), "repeat": repeat})
            if not (args.reuse_data and source.exists() and entry.get("generate")):
                entry["generate"] = generate(size, source, repeat)
            events = entry["generate"]["tables"]["events"]
            if not args.no_each:
                entry["each_report"] = each_report(source, repeat, scratch)
            entry["suite"] = suite(source, repeat, args.jobs, scratch, events)
            if not args.no_aggregations:
                entry["aggregations"] = aggregations(source, args.aggregation_repeat)
            result["sizes"][str(size)] = entry
            if not args.no_overhead and "fixed_overhead" not in result.get("_this_run", {}):
                result["fixed_overhead"] = fixed_overhead(args.repeat if args.repeat > 1 else 3, scratch, source)
                result["_this_run"] = {"fixed_overhead": True}
            result["targets"] = check_targets(result)
            write_results("suite", {k: v for k, v in result.items() if k != "_this_run"}, markdown(result))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    result.pop("_this_run", None)
    result["targets"] = check_targets(result)
    js, md = write_results("suite", result, markdown(result))
    print(md.read_text())
    log(f"wrote {js} and {md}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
