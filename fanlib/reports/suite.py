"""A run of reports: every report of the run executed, in parallel workers when asked, under the run lock.

:func:`run_planned` takes the reports :func:`fanlib.reports.cli.plan` accepted and runs them into
``reports/<date>/``: it sets up the ``fanlib`` kernel, holds the dated folder's run lock
(:mod:`fanlib.reports.lock`; a second run stops at once, or waits with ``--wait``), gives the run its
private scratch folder, and rebuilds the index pages as each report finishes (:func:`run_suite`).

Order: notebooks whose metadata says ``runs_after_others`` start once every other report of the run has
finished; with ``waits_for_others`` as well (the executive overview) they start once every other report
has started, and wait for the others' manifests themselves in a cell tagged ``waits-for-reports``
(:func:`fanlib.executive.overview.wait_for_reports`; no per-cell timeout there), so their own data work
overlaps the last reports. ``--keep N`` then prunes the oldest dated folders (:func:`fanlib.reports.lock.prune`).

Stopping: SIGTERM or Ctrl-C stop the workers and kernels, remove what the run staged, record the
interrupted reports as stopped, release the lock and exit 143 / 130 (see :mod:`fanlib.reports.cleanup`).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from fanlib.errors import EXIT_INPUT, exit_code_for
from fanlib.io import DiskFull
from fanlib.reports import cleanup, indexpages
from fanlib.reports import status as report_status
from fanlib.reports.execute import Job, crash_manifest, git_state, now_iso, package_versions, run_job_safely
from fanlib.reports.fingerprints import BackgroundFingerprints, source_key
from fanlib.reports.kernel import ensure_kernel, fast_imports, progress
from fanlib.reports.layout import RunFolder
from fanlib.reports.lock import prune, run_lock
from fanlib.reports.notebooks import code_cells
from fanlib.reports.status import STOPPED, error_text, failure_place


def _outcome(m: dict) -> str:
    secs = m.get("durations", {}).get("total_s")
    took = f"{secs:.1f} s" if secs is not None else ""
    if m.get("status") == "ok":
        return f"{m['report']}: ok  {took}"
    if m.get("status") == "partial":
        sections = ", ".join(m.get("sections_failed") or []) or "not named by the report"
        return f"{m['report']}: partial  {took}  sections not produced: {sections}"
    e = m.get("error") or {}
    cell = f"{failure_place(e)}: " if failure_place(e) else ""
    return f"{m['report']}: FAILED  {took}  {cell}{error_text(e)}"


def run_suite(
    jobs: list[Job], *, workers: int = 1, out_dir: Path, fingerprints: BackgroundFingerprints | None = None
) -> list[dict]:
    """Run ``jobs`` (in parallel processes when ``workers`` > 1); index pages are
    rebuilt after each report. Returns the manifests in suite order.

    ``fingerprints``: computed in the background once the reports have started,
    and added to each manifest as its report finishes.

    A stop signal (:class:`fanlib.reports.cleanup.RunStopped`) stops the workers and their kernels, records
    each report it interrupted as stopped (nothing of it replaced), rebuilds the index pages and is
    raised again."""
    results: dict[str, dict] = {}
    handed_out: dict[str, str] = {}  # report -> when it started, until it finished
    others = cleanup.child_pids()  # processes this run did not start

    def finished(m: dict, job: Job) -> None:
        handed_out.pop(job.name, None)
        if fingerprints is not None:
            m = fingerprints.record(m, job)
        results[job.name] = m
        progress(f"[{len(results)}/{len(jobs)}] {_outcome(m)}")
        try:
            indexpages.write_indexes(job.date_dir, out_dir)
        except Exception as exc:  # an index glitch must not stop the suite
            progress(f"index pages not updated: {_describe(exc)}")

    def start(job: Job) -> None:
        progress(f"{job.name}: started")
        handed_out[job.name] = now_iso()

    # The overview reads the other reports' summaries, so it starts once they are done, or, if
    # it waits for them itself, once they have all started (its own data work overlaps theirs).
    first = [j for j in jobs if not j.runs_after_others]
    last = [j for j in jobs if j.runs_after_others]
    started = time.time()
    for job in last:
        if job.waits_for_others:
            # Bound the wait by the longest the awaited reports may run: per-cell timeout × cells.
            bound = sum(j.timeout * code_cells(j.notebook) for j in first) + 60
            job.parameters = dict(
                job.parameters, wait_for=[j.name for j in first], run_started=started, wait_timeout_s=float(bound)
            )
    try:
        if workers <= 1 or len(jobs) <= 1:
            if fingerprints is not None:
                fingerprints.start()
            for job in first + last:
                start(job)
                finished(run_job_safely(job), job)
        else:
            _run_pool(first, last, workers, start, finished, fingerprints, others)
    except cleanup.RunStopped as stop:
        cleanup.stop_descendants(keep=others)  # the kernel of a report run in this process
        by_name = {j.name: j for j in jobs}
        for name, since in list(handed_out.items()):
            finished(_finished_since(by_name[name], since) or _stopped_manifest(by_name[name], stop), by_name[name])
        stop.stopped = [n for n in results if (results[n].get("error") or {}).get("ename") == "stopped"]
        stop.not_started = [j.name for j in jobs if j.name not in results]
        raise
    return [results[j.name] for j in jobs]


def _run_pool(
    first: list[Job],
    last: list[Job],
    workers: int,
    start: Callable[[Job], None],
    finished: Callable[[dict, Job], None],
    fingerprints: BackgroundFingerprints | None,
    others: set[int],
) -> None:
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    ctx = multiprocessing.get_context("fork")
    jobs = first + last
    n = min(workers, len(jobs))
    queue, later = list(first), list(last)
    running: dict = {}  # future -> (job, start); at most n, so start times are true
    progress(f"{len(jobs)} notebooks on {n} workers: " + ", ".join(j.name for j in jobs))
    with ProcessPoolExecutor(
        max_workers=n, mp_context=ctx, initializer=cleanup.worker_started, initargs=(os.getpid(),)
    ) as pool:
        try:
            while queue or running or later:
                if not queue and not running:
                    queue, later = later, []
                if not queue and any(j.waits_for_others for j in later):
                    queue = [j for j in later if j.waits_for_others]
                    later = [j for j in later if not j.waits_for_others]
                while queue and len(running) < n:
                    job = queue.pop(0)
                    start(job)
                    try:
                        running[pool.submit(run_job_safely, job)] = (job, time.perf_counter())
                        if fingerprints is not None:  # every worker is forked at the first submit
                            fingerprints.start()
                    except Exception as exc:  # the pool broke (a worker was killed)
                        finished(crash_manifest(job, exc), job)
                if not running:
                    continue
                done, _ = wait(set(running), timeout=30, return_when=FIRST_COMPLETED)
                for fut in done:
                    job, _ = running.pop(fut)
                    try:
                        m = fut.result()
                    except Exception as exc:  # a worker died
                        m = crash_manifest(job, exc)
                    finished(m, job)
                if not done:
                    progress(
                        "still running: "
                        + ", ".join(f"{job.name} ({time.perf_counter() - t:.0f} s)" for job, t in running.values())
                    )
        except cleanup.RunStopped:
            # Stop the workers and their kernels before leaving the pool, which would wait for them.
            pool.shutdown(wait=False, cancel_futures=True)
            cleanup.stop_descendants(keep=others)
            for fut, (job, _) in running.items():
                if fut.done() and not fut.cancelled() and fut.exception() is None:
                    finished(fut.result(), job)  # it was done just before the stop
            raise


def _finished_since(job: Job, since: str) -> dict | None:
    """The report's own manifest if it was written after ``since`` (it finished as the run stopped)."""
    for path in (job.folder.manifest(job.name), job.folder.manifest(job.name, ok=False)):
        with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
            m = json.loads(path.read_text(encoding="utf-8"))
            if datetime.fromisoformat(m["started_at"]) >= datetime.fromisoformat(since):
                return m
    return None


def _stopped_manifest(job: Job, stop: cleanup.RunStopped) -> dict:
    return crash_manifest(
        job,
        None,
        ename=STOPPED,
        evalue=f"the run was stopped ({stop.signame}) before this report finished; nothing of it was replaced",
    )


def _describe(exc: BaseException) -> str:
    """An exception for the log: a full disk speaks for itself, anything else with its type."""
    return str(exc) if isinstance(exc, DiskFull) else f"{type(exc).__name__}: {exc}"


def _prune_and_reindex(out_dir: Path, keep: int, current: str) -> None:
    result = prune(out_dir, keep, current=current)
    if result["removed"]:
        progress(f"--keep {keep}: removed {', '.join(result['removed'])}")
    if result["locked"]:
        progress(f"--keep {keep}: kept {', '.join(result['locked'])}: another run is writing it")
    try:
        indexpages.write_root_index(out_dir)
    except Exception as exc:  # the reports are written; a stale index is reported, not fatal
        progress(f"reports index not updated: {type(exc).__name__}: {exc}")


def run_planned(
    jobs: list[Job],
    out_dir: Path,
    date_dir: Path,
    *,
    workers: int = 1,
    wait: float = 0,
    keep: int | None = None,
    strict: bool = False,
    command: str = "fanlib run",
) -> int:
    """Run the planned ``jobs`` into ``date_dir`` and return the run's exit code (0 every report ok or
    partial, 1 one failed, or with ``strict`` is partial; 2 the kernel cannot be set up). Raises
    :class:`fanlib.reports.lock.RunLocked` when another run holds the folder, and
    :class:`fanlib.reports.cleanup.RunStopped` when a stop signal arrives before the reports run."""
    t0 = time.perf_counter()
    fast_imports()
    try:
        ensure_kernel()
    except Exception as exc:
        print(f"fanlib run: cannot set up the Jupyter kernel: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_INPUT
    # Import the heavy parts once, before forking workers; with workers, compile the page
    # templates now too, otherwise while the first report runs.
    import papermill.engines  # noqa: F401

    from fanlib.reports import htmlexport

    inline = workers <= 1 or len(jobs) <= 1
    if not inline:
        htmlexport.warm_up()
    fingerprints = BackgroundFingerprints([source_key(j.parameters) for j in jobs], warm_up_export=inline)
    context = {"versions": package_versions(), "git": git_state(jobs[0].root), "fingerprints_by_parent": True}
    for job in jobs:
        job.context = context
    # The first report to pass the contract check records it here; the others of this run reuse it.
    from fanlib.data.checks import PASSED_DIR_ENV

    previous = os.environ.get(PASSED_DIR_ENV)
    left = cleanup.sweep_scratch() + cleanup.sweep_pruned(out_dir)
    try:
        with run_lock(date_dir, wait=wait, command=command):
            left += cleanup.sweep_date_folder(date_dir)
            if left:
                progress(f"removed what interrupted runs left behind: {', '.join(left)}")
            progress(f"{len(jobs)} report(s) into {date_dir}")
            # Kernels inherit the run's scratch folder as TMPDIR; it goes at the end, however the run ends.
            with cleanup.run_scratch(command) as scratch:
                os.environ[PASSED_DIR_ENV] = str(scratch / "checks")
                (scratch / "checks").mkdir()
                try:
                    manifests = run_suite(jobs, workers=workers, out_dir=out_dir, fingerprints=fingerprints)
                except cleanup.RunStopped as stop:
                    return _stopped(stop, date_dir)
                finally:
                    cleanup.sweep_date_folder(date_dir)  # a killed worker's staging
    finally:
        if previous is None:
            os.environ.pop(PASSED_DIR_ENV, None)
        else:
            os.environ[PASSED_DIR_ENV] = previous
    if keep is not None:
        _prune_and_reindex(out_dir, keep, date_dir.name)
    return _finish(manifests, time.perf_counter() - t0, RunFolder(date_dir).index, strict=strict)


def _finish(manifests: list[dict], took: float, index: Path, *, strict: bool) -> int:
    """The run's last log line and its exit code, from each report's one status."""
    by = {s: [m["report"] for m in manifests if report_status.manifest_status(m) == s] for s in report_status.STATUSES}
    code = report_status.exit_code(manifests, strict=strict)
    if not by["failed"] and not by["partial"]:
        progress(f"all {len(manifests)} ok in {took:.1f} s; open {index}")
        return code
    parts = [f"{len(by[s])} {s} ({', '.join(by[s])})" for s in ("failed", "partial") if by[s]]
    strict_note = "; --strict: a partial report fails the run" if strict and by["partial"] else ""
    progress(
        f"{len(by['ok'])} of {len(manifests)} ok, " + ", ".join(parts) + f" in {took:.1f} s{strict_note}; see {index}"
    )
    return code


def _stopped(stop: cleanup.RunStopped, date_dir: Path) -> int:
    cleanup.sweep_date_folder(date_dir)  # before the lock is released
    parts = [
        f"stopped {', '.join(stop.stopped)} (nothing of them replaced)" if stop.stopped else "",
        f"not started: {', '.join(stop.not_started)}" if stop.not_started else "",
    ]
    print(
        f"fanlib run: stopped by {stop.signame}; "
        + "; ".join(p for p in parts if p)
        + f"{'; ' if any(parts) else ''}staged files removed, lock released; see {RunFolder(date_dir).index}",
        file=sys.stderr,
    )
    return exit_code_for(stop)
