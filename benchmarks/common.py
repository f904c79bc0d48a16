"""Shared helpers for the benchmarks: wall time and peak memory of a command, medians, result files.

Peak memory of a command is the largest sum of resident memory over its whole
process tree (the runner, its workers and every Jupyter kernel), sampled every
0.1 s, so parallel reports count together, as they do on the machine.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PYTHON = sys.executable
FANLIB = [PYTHON, "-m", "fanlib"]


def _tree_rss(proc) -> tuple[int, int]:
    """(sum, largest single) resident bytes of ``proc`` and all its descendants."""
    import psutil

    total = largest = 0
    try:
        procs = [proc] + proc.children(recursive=True)
    except psutil.Error:
        return 0, 0
    for p in procs:
        try:
            rss = p.memory_info().rss
        except psutil.Error:
            continue
        total += rss
        largest = max(largest, rss)
    return total, largest


def measure(
    cmd: list[str], *, env: dict | None = None, cwd: Path = ROOT, timeout: float | None = None, interval: float = 0.1
) -> dict:
    """Run ``cmd``; its wall time, peak memory of its process tree and exit code."""
    import psutil

    t0 = time.perf_counter()
    popen = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc = psutil.Process(popen.pid)
    peak_sum = peak_one = 0
    out_chunks: list[str] = []
    import threading

    def drain(stream, sink):
        for line in stream:
            sink.append(line)

    readers = [
        threading.Thread(target=drain, args=(popen.stdout, out_chunks), daemon=True),
        threading.Thread(target=drain, args=(popen.stderr, out_chunks), daemon=True),
    ]
    for r in readers:
        r.start()
    while popen.poll() is None:
        total, largest = _tree_rss(proc)
        peak_sum, peak_one = max(peak_sum, total), max(peak_one, largest)
        if timeout is not None and time.perf_counter() - t0 > timeout:
            popen.kill()
            break
        time.sleep(interval)
    popen.wait()
    wall = time.perf_counter() - t0
    for r in readers:
        r.join(timeout=5)
    return {
        "wall_s": round(wall, 3),
        "peak_rss_mb": round(peak_sum / 2**20, 1),
        "largest_process_mb": round(peak_one / 2**20, 1),
        "returncode": popen.returncode,
        "output_tail": "".join(out_chunks)[-2000:],
    }


def summarise(runs: list[dict]) -> dict:
    """Median wall time and the largest peak memory over repeated runs (all must have succeeded)."""
    failed = [r for r in runs if r.get("returncode", 0) != 0]
    walls = [r["wall_s"] for r in runs]
    return {
        "runs": len(runs),
        "median_s": round(statistics.median(walls), 3),
        "min_s": min(walls),
        "max_s": max(walls),
        "peak_rss_mb": max(r.get("peak_rss_mb", 0) for r in runs),
        "failed_runs": len(failed),
        **({"failure": failed[0]["output_tail"]} if failed else {}),
    }


def machine() -> dict:
    import psutil

    load = os.getloadavg()
    return {
        "cpus": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_start": [round(x, 2) for x in load],
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def write_results(stem: str, result: dict, markdown: str) -> tuple[Path, Path]:
    RESULTS.mkdir(parents=True, exist_ok=True)
    js, md = RESULTS / f"{stem}.json", RESULTS / f"{stem}.md"
    js.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    md.write_text(markdown, encoding="utf-8")
    return js, md


def fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    return f"{seconds:.2f}" if seconds < 10 else f"{seconds:.1f}"


def fmt_mb(mb: float | None) -> str:
    if mb is None:
        return "–"
    return f"{mb / 1024:.2f} GB" if mb >= 1024 else f"{mb:.0f} MB"
