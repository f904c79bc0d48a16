"""Benchmark: the whole report suite in two checkouts, back to back on the same machine.

    python benchmarks/bench_suite_compare.py --old /work/wt-before --new /work/main --repeat 3

Times `fanlib run all --jobs 2` on the demo data, alternately in the old and the new checkout, ``--repeat``
times each, and prints each run, the medians and the ratio new/old. The rounds alternate which checkout
goes first (old, new, new, old, …), so a machine that slows down or speeds up during the comparison
weighs on both alike.

Each checkout runs its own ``.venv/bin/fanlib`` with its own notebooks, in its own folder, on its own
``data/demo.duckdb`` (``--source`` gives both the same file instead) and with its ``params/demo.yaml``
when it has one (the settings `make report` uses; otherwise its default parameters). Reports go to a
temporary folder (``--out``), dated ``--date``, which is deleted after each run: nothing in either
checkout is written or replaced.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DATE = "2026-01-05"


def log(msg: str) -> None:
    print(f"[bench_suite_compare {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def command(checkout: Path, source: Path, out: Path, date: str, jobs: int) -> list[str]:
    """The `fanlib run all` command for one timed run in ``checkout``."""
    cmd = [str(checkout / ".venv" / "bin" / "fanlib"), "run", "all", "--source", str(source)]
    if (checkout / "params" / "demo.yaml").exists():
        cmd += ["--params", "params/demo.yaml"]
    return cmd + ["--out", str(out), "--date", date, "--jobs", str(jobs)]


def statuses(folder: Path) -> dict[str, str]:
    """Each report's status, from the manifests of a dated folder (a failed report's are ``.failed.``)."""
    found = {}
    for path in sorted(folder.glob("*.manifest.json")):
        name = path.name.split(".")[0]
        try:
            found[name] = json.loads(path.read_text(encoding="utf-8")).get("status", "?")
        except (OSError, ValueError):
            found[name] = "unreadable"
    return found


def timed_run(label: str, checkout: Path, source: Path, scratch: Path, date: str, jobs: int, timeout: float) -> dict:
    """One run of the suite in ``checkout``: wall seconds, exit code and the reports' statuses."""
    out = Path(tempfile.mkdtemp(prefix=f"{label}-", dir=scratch))
    env = {k: v for k, v in os.environ.items() if k not in ("FANLIB_NOTEBOOKS", "PYTHONPATH", "VIRTUAL_ENV")}
    cmd = command(checkout, source, out, date, jobs)
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=checkout, env=env, capture_output=True, text=True, timeout=timeout)
    seconds = time.perf_counter() - started
    run = {
        "checkout": label,
        "seconds": round(seconds, 2),
        "returncode": proc.returncode,
        "statuses": statuses(out / date),
    }
    if proc.returncode not in (0, 1):  # 1: a report failed, which the statuses show; anything else is the run's
        run["stderr"] = proc.stderr[-2000:]
    shutil.rmtree(out, ignore_errors=True)
    return run


def check_checkout(path: Path, source: Path | None) -> Path:
    """The data file ``path`` runs on; a clear error if the checkout cannot run the suite."""
    if not (path / ".venv" / "bin" / "fanlib").exists():
        raise SystemExit(f"{path} has no .venv/bin/fanlib: run `make setup` there first")
    data = source or path / "data" / "demo.duckdb"
    if not data.exists():
        raise SystemExit(f"{data} is missing: run `make demo` in {path}, or give --source")
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time `fanlib run all` in two checkouts, back to back.")
    parser.add_argument("--old", type=Path, required=True, help="the checkout before the change")
    parser.add_argument("--new", type=Path, required=True, help="the checkout after the change")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each checkout (default 3)")
    parser.add_argument("--jobs", type=int, default=2, help="`fanlib run --jobs` (default 2)")
    parser.add_argument("--date", default=DATE, help=f"report date of the runs (default {DATE})")
    parser.add_argument("--source", type=Path, help="one data file for both (default: each one's data/demo.duckdb)")
    parser.add_argument("--out", type=Path, help="folder for the runs' reports (default: a temporary folder)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds one run may take (default 1800)")
    parser.add_argument("--json", type=Path, help="also write the runs and medians to this JSON file")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    checkouts = {"old": args.old.resolve(), "new": args.new.resolve()}
    sources = {k: check_checkout(p, args.source.resolve() if args.source else None) for k, p in checkouts.items()}

    scratch = Path(tempfile.mkdtemp(prefix="fanlib-compare-", dir=args.out))
    runs = []
    try:
        for i in range(args.repeat):
            order = ("old", "new") if i % 2 == 0 else ("new", "old")
            for label in order:
                run = timed_run(label, checkouts[label], sources[label], scratch, args.date, args.jobs, args.timeout)
                runs.append(run)
                failed = sorted(n for n, s in run["statuses"].items() if s not in ("ok", "partial"))
                log(
                    f"round {i + 1}/{args.repeat} {label}: {run['seconds']:.1f} s, exit {run['returncode']}"
                    + (f", failed: {', '.join(failed)}" if failed else "")
                    + (f"\n{run['stderr']}" if "stderr" in run else "")
                )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    medians = {k: statistics.median(r["seconds"] for r in runs if r["checkout"] == k) for k in checkouts}
    ratio = medians["new"] / medians["old"]
    print(f"`fanlib run all --jobs {args.jobs}`, {args.repeat} run(s) each, alternating:")
    for label, path in checkouts.items():
        times = ", ".join(f"{r['seconds']:.1f}" for r in runs if r["checkout"] == label)
        print(f"  {label}: median {medians[label]:.1f} s  ({times})  {path}")
    print(f"  ratio new/old: {ratio:.3f}")
    if args.json:
        result = {"checkouts": {k: str(v) for k, v in checkouts.items()}, "runs": runs, "medians_s": medians}
        args.json.write_text(json.dumps({**result, "ratio": round(ratio, 4)}, indent=1) + "\n", encoding="utf-8")
    broken = [r for r in runs if r["returncode"] not in (0, 1)]
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
