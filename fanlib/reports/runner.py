"""``fanlib run``: execute report notebooks into a dated folder of offline HTML reports.

Size: about 800 lines (from 1,012; kernels, the run lock, cleanup, status and fingerprints have moved
out). Planning, one report's job and the suite still share it; the package-layout issue splits them
into ``reports/`` (plan, job, suite, layout).

For each notebook the runner validates its parameters (before any kernel
starts), executes it with papermill on the ``fanlib`` kernel (registered on
first use for this Python), and writes into ``reports/<date>/``:

* ``<name>.html`` (stakeholder page, no code) and ``<name>.analyst.html`` (with code);
* ``<name>.ipynb``, the executed notebook;
* ``<name>.summary.json``, the headline figures the notebook wrote;
* ``<name>.manifest.json``: parameters, data source and fingerprint, package
  versions, git commit, timings and status.

Each report's status (ok, partial, failed) is its summary's (:mod:`fanlib.reports.status`). A failed report (a cell
raised, no summary was written, or its summary says it could not answer) writes ``<name>.failed.html`` /
``.failed.ipynb`` / ``.failed.manifest.json`` (and, when every cell ran, its own page's ``.failed.analyst.html``
and ``.failed.summary.json``) instead, and never touches the last good report.
Every file is written atomically. The index pages are rebuilt as reports finish.

Scheduling: a run holds ``reports/<date>/.run.lock`` (``fcntl.flock``) while it
writes, so two overlapping runs never write the same dated folder; the second
one stops at once with exit code 3 and names the run that holds the folder
(``--wait SECONDS`` makes it wait for the folder instead). Notebooks whose
metadata says ``{"fanlib": {"runs_after_others": true}}`` start only once every
other report of the run has finished; with ``"waits_for_others": true`` as well
(the executive overview) they start once every other report has started, and
wait for the others' manifests themselves in a cell tagged ``waits-for-reports``
(:func:`fanlib.executive.overview.wait_for_reports`; no per-cell timeout there), so their
own data work overlaps the last reports.
``--keep N`` then prunes the oldest dated folders (see :func:`prune`).

Stopping: SIGTERM or Ctrl-C stop the workers and kernels, remove what the run staged, record the
interrupted reports as stopped, release the lock and exit 143 / 130 (see :mod:`fanlib.reports.cleanup`).
The kernel set-up and notebook execution live in :mod:`fanlib.reports.kernel`, the lock in :mod:`fanlib.reports.lock`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from fanlib.reports import cleanup
from fanlib.reports import status as report_status
from fanlib.reports.fingerprints import (  # noqa: F401  (re-exported)
    BackgroundFingerprints,
    _fingerprint_of,
    data_fingerprint,
    source_key,
)
from fanlib.reports.kernel import (  # noqa: F401  (re-exported: fanlib.reports.runner is the runner's public face)
    KERNEL_ENV,
    KERNEL_MPLBACKEND,
    KERNEL_NAME,
    KERNEL_START_RETRIES,
    WAIT_TAG,
    _error_from_outputs,
    _fast_imports,
    _mark_error,
    _progress,
    ensure_kernel,
    execute,
    register_translator,
)
from fanlib.reports.params import ParamError
from fanlib.reports.lock import (  # noqa: F401
    _DATE,
    EXIT_LOCKED,
    LOCK_NAME,
    RunLocked,
    _acquire,
    _Busy,
    _release,
    _valid_date,
    dated_folders,
    prune,
    run_lock,
)

DEFAULT_TIMEOUT = 600
#: The files of a failed report, after ``<name>.failed``; they never replace the last good report's.
FAILED_SET = (".html", ".analyst.html", ".ipynb", ".summary.json", ".manifest.json")
#: The error of a notebook that ran every cell but wrote no summary.
NO_SUMMARY = "no summary"
TIMEZONE = "Asia/Shanghai"
#: Packages whose versions every manifest records.
VERSIONED_PACKAGES = ("pandas", "numpy", "statsmodels", "scikit-learn", "duckdb", "ibis-framework",
                      "papermill", "nbconvert")


# --------------------------------------------------------------------------- small helpers


def today(tz: str = TIMEZONE) -> str:
    """Today's date in China Standard Time, as YYYY-MM-DD."""
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo(tz)).date().isoformat()


def now_iso() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def write_atomic(path: str | os.PathLike, data: str | bytes) -> Path:
    """Write ``data`` to ``path`` through a temp file in the same folder, fsync, rename."""
    path = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    cleanup.commit_set(cleanup.stage_set(path.parent, {path.name: raw}, what=path.name))  # full disk: DiskFull
    return path


def write_json_atomic(path: str | os.PathLike, obj: Any) -> Path:
    return write_atomic(path, json.dumps(obj, ensure_ascii=False, indent=2, default=str) + "\n")


def mask_secrets(source: str | None) -> str | None:
    """A data source with any password in a URL replaced by ***."""
    if source is None:
        return None
    return re.sub(r"(://[^:/@\s]+):[^@\s]+@", r"\1:***@", str(source))


# --------------------------------------------------------------------------- run context


def git_state(root: Path) -> dict:
    """The commit checked out at ``root`` and whether tracked files differ from it."""
    def git(*args):
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=20)

    try:
        head = git("rev-parse", "HEAD")
        if head.returncode != 0:
            return {"commit": None, "dirty": None, "error": head.stderr.strip() or "not a git repository"}
        status = git("status", "--porcelain", "--untracked-files=no")
        return {"commit": head.stdout.strip(), "dirty": bool(status.stdout.strip())}
    except (OSError, subprocess.SubprocessError) as exc:
        return {"commit": None, "dirty": None, "error": f"{type(exc).__name__}: {exc}"}


def package_versions() -> dict:
    """fanlib's, Python's and the analysis stack's versions."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    from fanlib import __version__

    out = {"fanlib": __version__, "python": platform.python_version()}
    for dist in VERSIONED_PACKAGES:
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = None
    return out


# --------------------------------------------------------------------------- execution


@dataclass
class Job:
    """One notebook to run, with everything a worker process needs."""

    name: str
    notebook: Path
    parameters: dict
    date_dir: Path
    root: Path
    timeout: int
    context: dict = field(default_factory=dict)  # versions, git, source fingerprints
    runs_after_others: bool = False  # reads the other reports' summaries, so it starts once they are done
    # ... unless it waits for them itself (fanlib.executive.overview.wait_for_reports in a cell tagged
    # WAIT_TAG): then it starts once every other report has started
    waits_for_others: bool = False


def _read_summary(path: Path) -> tuple[bytes | None, str | None]:
    if not path.exists():
        return None, "the notebook finished but wrote no summary to `summary_path`"
    raw = path.read_bytes()
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        return None, f"the summary JSON does not parse: {exc}"
    if not isinstance(data, dict):
        return None, f"the summary JSON must be an object, found {type(data).__name__}"
    return raw, None


def _replace_dir(staging: Path, final: Path) -> None:
    if not any(staging.iterdir()):
        staging.rmdir()
        return
    old = final.with_name(f".{final.name}.old.{os.getpid()}")
    if final.exists():
        os.replace(final, old)
    os.replace(staging, final)
    shutil.rmtree(old, ignore_errors=True)


def _fingerprint(job, source) -> dict:
    """The source's fingerprint, computed once per run and shared by the reports that read it alike."""
    if job.context.get("fingerprints_by_parent"):
        return {"fingerprint": None, "error": None}  # the parent adds it as the report finishes
    cached, key = job.context.get("fingerprints", {}), source_key(job.parameters)
    return cached[key] if key in cached else _fingerprint_of(key)


def run_job(job: Job) -> dict:
    """Execute one notebook and write its files; returns its manifest. However it ends, its temp
    summary and staging folder are gone afterwards."""
    d, name = job.date_dir, job.name
    d.mkdir(parents=True, exist_ok=True)
    token = f"{os.getpid()}-{int(time.time() * 1000) % 10**8}"
    summary_tmp = d / f".{name}.summary.json.{token}.tmp"
    staging = d / f".{name}_files.{token}.tmp"
    try:
        staging.mkdir()
        return _run_and_write(job, summary_tmp, staging)
    finally:
        with contextlib.suppress(OSError):
            summary_tmp.unlink()
        shutil.rmtree(staging, ignore_errors=True)  # moved into place unless the report stopped early


def _run_and_write(job: Job, summary_tmp: Path, staging: Path) -> dict:
    _fast_imports()
    import nbformat

    from fanlib.reports import htmlexport
    from fanlib.reports.params import to_jsonable
    from fanlib.present.notebook import lift_timings

    started, t0 = now_iso(), time.perf_counter()
    d, name = job.date_dir, job.name
    params = dict(job.parameters, summary_path=str(summary_tmp), output_dir=str(staging))
    source = params.get("source")
    manifest: dict[str, Any] = {
        "report": name,
        "status": None,
        "date": d.name,
        "notebook": _display_path(job.notebook, job.root),
        "parameters": to_jsonable({k: mask_secrets(v) if k == "source" else v for k, v in params.items()
                                   if k not in ("summary_path", "output_dir")}),
        "source": {"value": mask_secrets(source), **_fingerprint(job, source)},
        "versions": job.context.get("versions") or package_versions(),
        "git": job.context.get("git") or git_state(job.root),
        "kernel": {"name": KERNEL_NAME, "python": sys.executable},
        "runs_after_others": job.runs_after_others,
        "working_dir": str(job.root),
        "timeout_s": job.timeout,
        "started_at": started,
        "finished_at": None,
        "durations": {},
        "error": None,
        "files": {},
    }
    try:
        nb, error = execute(job.notebook, params, cwd=job.root, timeout=job.timeout)
    except Exception as exc:  # e.g. an unreadable notebook: still report it
        import traceback

        nb = nbformat.v4.new_notebook()
        error = {"cell_index": None, "execution_count": None, "ename": type(exc).__name__,
                 "evalue": str(exc), "traceback": traceback.format_exception(exc)}
    if error is not None:  # a full disk inside the kernel: say where, and how much is free
        error = cleanup.explain_disk_full(error, [d, Path(tempfile.gettempdir())])
    t1 = time.perf_counter()
    summary, verdict = None, None
    timings: dict = {}
    if error is None:
        summary, problem = _read_summary(summary_tmp)
        if summary is not None:  # timings belong to this run, not to the figures: the manifest holds them
            summary, timings = lift_timings(summary)
        if problem:
            error = {"cell_index": None, "execution_count": None, "ename": NO_SUMMARY, "evalue": problem,
                     "traceback": []}
        else:  # the report's own word on whether it gave its answer
            verdict = report_status.from_summary(json.loads(summary))
    title = htmlexport.notebook_title(nb, name)
    ran = error is None  # every cell ran and a summary was written: the report's own page explains it
    try:
        if ran:
            failed_title = " — FAILED" if verdict.status == "failed" else ""
            pages = {
                "html": htmlexport.to_html(nb, title=title + failed_title, include_code=False),
                "analyst_html": htmlexport.to_html(nb, title=f"{title} (analyst){failed_title}", include_code=True),
            }
            if verdict.status == "failed":
                error = report_status.summary_error(verdict)
        else:
            _mark_error(nb, error)
            from fanlib.reports.indexpages import error_text, failure_place

            where = failure_place(error) or ("after the last cell" if error["ename"] == NO_SUMMARY
                                             else "before any cell ran")
            failure = f"{where}: {error_text(error)}"
            pages = {"html": htmlexport.to_html(nb, title=f"{title} — FAILED", include_code=True, failure=failure)}
    except Exception as exc:  # export trouble must not hide the run's outcome
        pages = {}
        if ran:
            ran = False
            error = {"cell_index": None, "execution_count": None, "ename": f"HTMLExport{type(exc).__name__}",
                     "evalue": str(exc), "traceback": []}
    t2 = time.perf_counter()

    # A report that failed, by a raised cell or by its own summary, never replaces the last good one.
    ok = error is None
    stem = name if ok else f"{name}.failed"
    exports = d / f"{stem}_files"
    files = {"notebook": f"{stem}.ipynb", "manifest": f"{stem}.manifest.json"}
    contents = {files["notebook"]: nbformat.writes(nb).encode("utf-8")}
    if "html" in pages:
        files["html"] = f"{stem}.html"
        contents[files["html"]] = pages["html"].encode("utf-8")
    if ran:
        files["analyst_html"] = f"{stem}.analyst.html"
        files["summary"] = f"{stem}.summary.json"
        contents[files["analyst_html"]] = pages["analyst_html"].encode("utf-8")
        contents[files["summary"]] = summary
    staged_exports = staging.is_dir() and any(staging.iterdir())
    if staged_exports or (ok and exports.is_dir()):
        files["exports"] = f"{exports.name}/"
    if not ok and (d / f"{name}.manifest.json").exists():
        manifest["last_good"] = {"html": f"{name}.html", "manifest": f"{name}.manifest.json"}
    if verdict is not None and verdict.sections:
        manifest["sections_failed"] = verdict.sections
    manifest.update(
        title=title,
        status=verdict.status if ok else "failed",
        finished_at=now_iso(),
        durations={"execution_s": round(t1 - t0, 3), "export_s": round(t2 - t1, 3),
                   "total_s": round(time.perf_counter() - t0, 3), **({"notebook": timings} if timings else {})},
        error=error,
        files=files,
    )
    contents[files["manifest"]] = _manifest_bytes(manifest)  # last: it makes the report what the index shows
    try:
        # A report's files are replaced as a set: a full disk replaces none, a stop signal waits.
        with cleanup.deferred_stop():
            staged = cleanup.stage_set(d, contents, what=f"the files of {name}")
            if staged_exports:
                _replace_dir(staging, exports)
            cleanup.commit_set(staged)
            # A good run supersedes an earlier failure of the same day; a failure, what is left of an
            # earlier failure's set (e.g. the summary of a report that could not answer, when a cell now raised).
            for suffix in FAILED_SET:
                if f"{name}.failed{suffix}" not in contents:
                    with contextlib.suppress(FileNotFoundError):
                        (d / f"{name}.failed{suffix}").unlink()
            if ok or "exports" not in files:
                shutil.rmtree(d / f"{name}.failed_files", ignore_errors=True)
    except cleanup.DiskFull as full:
        _record_disk_full(manifest, job, full)
    return manifest


def _manifest_bytes(manifest: dict) -> bytes:
    return (json.dumps(manifest, ensure_ascii=False, indent=2, default=str) + "\n").encode("utf-8")


def _record_disk_full(manifest: dict, job: Job, full: cleanup.DiskFull) -> None:
    """Nothing of the report was replaced: record the failure in a small manifest, if even that fits."""
    error = manifest.get("error")
    if error is None:
        error = {"cell_index": None, "execution_count": None, "ename": "disk full", "evalue": str(full),
                 "traceback": []}
    else:
        error = dict(error, evalue=f"{error.get('evalue')}; its error page could not be written: {full}")
    manifest.update(status="failed", error=error, files={"manifest": f"{job.name}.failed.manifest.json"})
    if (job.date_dir / f"{job.name}.manifest.json").exists():
        manifest["last_good"] = {"html": f"{job.name}.html", "manifest": f"{job.name}.manifest.json"}
    with contextlib.suppress(OSError):
        write_json_atomic(job.date_dir / manifest["files"]["manifest"], manifest)


def _display_path(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root))
    except ValueError:
        return str(path)


def _crash_manifest(job: Job, exc: BaseException | None, *, ename: str | None = None, evalue: str = "") -> dict:
    """A failed manifest written by the parent when a worker could not report (e.g. it was killed)."""
    if ename is None and exc is not None and cleanup.is_disk_full(exc):
        ename = "disk full"
        evalue = str(exc) if isinstance(exc, cleanup.DiskFull) else str(cleanup.DiskFull(job.date_dir, 0))
    m = {"report": job.name, "status": "failed", "date": job.date_dir.name,
         "notebook": _display_path(job.notebook, job.root), "runs_after_others": job.runs_after_others,
         "finished_at": now_iso(), "durations": {},
         "error": {"cell_index": None, "execution_count": None, "ename": ename or type(exc).__name__,
                   "evalue": evalue or str(exc) or "the worker process stopped", "traceback": []},
         "files": {"manifest": f"{job.name}.failed.manifest.json"}}
    if (job.date_dir / f"{job.name}.manifest.json").exists():
        m["last_good"] = {"html": f"{job.name}.html", "manifest": f"{job.name}.manifest.json"}
    with contextlib.suppress(OSError):
        write_json_atomic(job.date_dir / f"{job.name}.failed.manifest.json", m)
    return m


def _run_job_safely(job: Job) -> dict:
    try:
        return run_job(job)
    except Exception as exc:  # the suite goes on; the parent reports it
        return _crash_manifest(job, exc)


# --------------------------------------------------------------------------- the suite


def _outcome(m: dict) -> str:
    secs = m.get("durations", {}).get("total_s")
    took = f"{secs:.1f} s" if secs is not None else ""
    if m.get("status") == "ok":
        return f"{m['report']}: ok  {took}"
    if m.get("status") == "partial":
        sections = ", ".join(m.get("sections_failed") or []) or "not named by the report"
        return f"{m['report']}: partial  {took}  sections not produced: {sections}"
    from fanlib.reports.indexpages import error_text, failure_place

    e = m.get("error") or {}
    cell = f"{failure_place(e)}: " if failure_place(e) else ""
    return f"{m['report']}: FAILED  {took}  {cell}{error_text(e)}"


def run_suite(jobs: list[Job], *, workers: int = 1, out_dir: Path,
              fingerprints: BackgroundFingerprints | None = None) -> list[dict]:
    """Run ``jobs`` (in parallel processes when ``workers`` > 1); index pages are
    rebuilt after each report. Returns the manifests in suite order.

    ``fingerprints``: computed in the background once the reports have started,
    and added to each manifest as its report finishes.

    A stop signal (:class:`fanlib.reports.cleanup.RunStopped`) stops the workers and their kernels, records
    each report it interrupted as stopped (nothing of it replaced), rebuilds the index pages and is
    raised again."""
    from fanlib.reports import indexpages

    results: dict[str, dict] = {}
    handed_out: dict[str, str] = {}  # report -> when it started, until it finished
    others = cleanup.child_pids()  # processes this run did not start

    def finished(m: dict, job: Job) -> None:
        handed_out.pop(job.name, None)
        if fingerprints is not None:
            m = fingerprints.record(m, job)
        results[job.name] = m
        _progress(f"[{len(results)}/{len(jobs)}] {_outcome(m)}")
        try:
            indexpages.write_indexes(job.date_dir, out_dir)
        except Exception as exc:  # an index glitch must not stop the suite
            _progress(f"index pages not updated: {_describe(exc)}")

    def start(job: Job) -> None:
        _progress(f"{job.name}: started")
        handed_out[job.name] = now_iso()

    # The overview reads the other reports' summaries, so it starts once they are done, or, if
    # it waits for them itself, once they have all started (its own data work overlaps theirs).
    first = [j for j in jobs if not j.runs_after_others]
    last = [j for j in jobs if j.runs_after_others]
    started = time.time()
    for job in last:
        if job.waits_for_others:
            # Bound the wait by the longest the awaited reports may run: per-cell timeout × cells.
            bound = sum(j.timeout * _code_cells(j.notebook) for j in first) + 60
            job.parameters = dict(job.parameters, wait_for=[j.name for j in first], run_started=started,
                                  wait_timeout_s=float(bound))
    try:
        if workers <= 1 or len(jobs) <= 1:
            if fingerprints is not None:
                fingerprints.start()
            for job in first + last:
                start(job)
                finished(_run_job_safely(job), job)
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


def _run_pool(first, last, workers, start, finished, fingerprints, others) -> None:
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    ctx = multiprocessing.get_context("fork")
    jobs = first + last
    n = min(workers, len(jobs))
    queue, later = list(first), list(last)
    running: dict = {}  # future -> (job, start); at most n, so start times are true
    _progress(f"{len(jobs)} notebooks on {n} workers: " + ", ".join(j.name for j in jobs))
    with ProcessPoolExecutor(max_workers=n, mp_context=ctx, initializer=cleanup.worker_started,
                             initargs=(os.getpid(),)) as pool:
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
                        running[pool.submit(_run_job_safely, job)] = (job, time.perf_counter())
                        if fingerprints is not None:  # every worker is forked at the first submit
                            fingerprints.start()
                    except Exception as exc:  # the pool broke (a worker was killed)
                        finished(_crash_manifest(job, exc), job)
                if not running:
                    continue
                done, _ = wait(set(running), timeout=30, return_when=FIRST_COMPLETED)
                for fut in done:
                    job, _ = running.pop(fut)
                    try:
                        m = fut.result()
                    except Exception as exc:  # a worker died
                        m = _crash_manifest(job, exc)
                    finished(m, job)
                if not done:
                    _progress("still running: " + ", ".join(
                        f"{job.name} ({time.perf_counter() - t:.0f} s)" for job, t in running.values()))
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
    for name in (f"{job.name}.manifest.json", f"{job.name}.failed.manifest.json"):
        with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
            m = json.loads((job.date_dir / name).read_text(encoding="utf-8"))
            if datetime.fromisoformat(m["started_at"]) >= datetime.fromisoformat(since):
                return m
    return None


def _stopped_manifest(job: Job, stop: cleanup.RunStopped) -> dict:
    return _crash_manifest(job, None, ename="stopped",
                           evalue=f"the run was stopped ({stop.signame}) before this report finished; "
                                  "nothing of it was replaced")


def _describe(exc: BaseException) -> str:
    """An exception for the log: a full disk speaks for itself, anything else with its type."""
    return str(exc) if isinstance(exc, cleanup.DiskFull) else f"{type(exc).__name__}: {exc}"


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="fanlib run",
        description="Execute report notebooks into reports/<date>/ as offline HTML, with summaries and manifests.",
        epilog="Each report's status (ok, partial, failed) comes from its summary. Exit codes: 0 every report ok "
               "or partial; 1 a report failed (or, with --strict, is partial); 2 wrong parameters or options; "
               "3 the dated folder is locked by another run; 130 / 143 stopped by Ctrl-C / SIGTERM.",
    )
    ap.add_argument("names", nargs="+", metavar="name|all",
                    help="notebook name (e.g. 00_data_overview), unique prefix (00), or all")
    ap.add_argument("--params", help="parameters YAML (default: params/default.yaml)")
    ap.add_argument("-p", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="override a parameter (YAML value); NAME.KEY=VALUE targets one notebook; repeatable")
    ap.add_argument("--date", help="report date YYYY-MM-DD (default: today in Asia/Shanghai)")
    ap.add_argument("--out", help="reports folder (default: reports/)")
    ap.add_argument("--jobs", type=int, default=1, help="notebooks to run in parallel (default 1)")
    ap.add_argument("--source", help="data source for every notebook (overrides the params)")
    ap.add_argument("--timeout", type=int, default=DEFAULT_TIMEOUT, help="per-cell timeout in seconds (default 600)")
    ap.add_argument("--notebooks", help="folder of report notebooks (default: notebooks/, or $FANLIB_NOTEBOOKS)")
    ap.add_argument("--keep", type=int, metavar="N",
                    help="after the run, delete all but the N newest dated folders (never this run's, "
                         "never one another run is writing)")
    ap.add_argument("--wait", type=float, default=0, metavar="SECONDS",
                    help="if another run is writing the same dated folder, wait up to this long for it "
                         "(default 0: stop at once with exit code 3)")
    ap.add_argument("--strict", action="store_true",
                    help="exit 1 also when a report is partial (sections it could not produce); "
                         "by default only a failed report exits 1")
    return ap


def plan(args) -> tuple[list[Job], Path, Path]:
    """Validate everything and build the jobs; raises ParamError before any kernel starts."""
    from fanlib.reports import params as P
    from fanlib.reports.paramcheck import check as check_meaning, date_problem
    from fanlib.paths import project_root, resolve

    root = project_root()
    problems = []
    if args.date and not (_DATE.match(args.date) and _valid_date(args.date)):
        problems.append(date_problem(args.date, "--date"))
    if args.jobs < 1:
        problems.append(f"--jobs {args.jobs}: must be at least 1")
    if args.timeout < 1:
        problems.append(f"--timeout {args.timeout}: must be at least 1 second")
    if args.keep is not None and args.keep < 1:
        problems.append(f"--keep {args.keep}: must be at least 1 (this run's folder is always kept)")
    if args.wait < 0:
        problems.append(f"--wait {args.wait:g}: must be 0 or more seconds")
    if problems:
        raise ParamError(problems)
    folder = P.notebooks_dir(args.notebooks)
    notebooks = P.discover(folder)
    if not notebooks:
        raise ParamError(f"no report notebooks (NN_name.ipynb) in {folder}")
    selected = P.select(args.names, notebooks)
    # Every notebook's declarations check the params file's sections; only the
    # selected ones must parse for this run to go ahead.
    declared, broken = {}, []
    for path in notebooks:
        try:
            declared[path.stem] = P.read_parameters(path)
        except ParamError as exc:
            if path in selected:
                broken += exc.problems
    if broken:
        raise ParamError(broken)
    if args.params:
        params_file = resolve(args.params)
        sections = P.load_params_file(params_file)
    else:
        params_file = root / "params" / "default.yaml"
        sections = P.load_params_file(params_file) if params_file.exists() else {}
    sections = {k: v for k, v in sections.items() if k == P.COMMON_SECTION or k in declared
                or k not in {p.stem for p in notebooks}}
    values = P.resolve_parameters(selected, declared, sections, P.parse_overrides(args.overrides),
                                  params_file=_display_path(Path(params_file), root), source=args.source)
    check_meaning(values)  # bounds, choices, the source and dates within the data
    out_dir = Path(resolve(args.out)) if args.out else root / "reports"
    date_dir = out_dir / (args.date or today())
    jobs = [Job(p.stem, p, values[p.stem], date_dir, root, args.timeout, runs_after_others=runs_after_others(p),
                waits_for_others=waits_for_others(p))
            for p in selected]
    return jobs, out_dir, date_dir


def _fanlib_metadata(notebook: Path) -> dict:
    try:
        meta = json.loads(Path(notebook).read_text(encoding="utf-8")).get("metadata", {})
    except (OSError, ValueError):
        return {}  # read_parameters has already reported an unreadable notebook
    return meta.get("fanlib") or {}


def runs_after_others(notebook: Path) -> bool:
    """Whether the notebook's metadata asks to run after every other report of the run."""
    return bool(_fanlib_metadata(notebook).get("runs_after_others", False))


def waits_for_others(notebook: Path) -> bool:
    """Whether a runs-after-others notebook waits for the others itself (metadata ``waits_for_others``),
    so it may start as soon as every other report has started."""
    meta = _fanlib_metadata(notebook)
    return bool(meta.get("runs_after_others", False) and meta.get("waits_for_others", False))


def _code_cells(notebook: Path) -> int:
    try:
        cells = json.loads(Path(notebook).read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError):
        return 1
    return max(1, sum(1 for c in cells if c.get("cell_type") == "code"))


def _prune_and_reindex(out_dir: Path, keep: int, current: str) -> None:
    from fanlib.reports import indexpages

    result = prune(out_dir, keep, current=current)
    if result["removed"]:
        _progress(f"--keep {keep}: removed {', '.join(result['removed'])}")
    if result["locked"]:
        _progress(f"--keep {keep}: kept {', '.join(result['locked'])}: another run is writing it")
    try:
        indexpages.write_root_index(out_dir)
    except Exception as exc:  # the reports are written; a stale index is reported, not fatal
        _progress(f"reports index not updated: {type(exc).__name__}: {exc}")


def main(argv: list[str] | None = None) -> int:
    """``fanlib run <name>|all …``; exit 0 when every report is ok or partial, 1 when one failed (a cell
    raised, or its summary says it could not answer; with ``--strict`` also when one is partial),
    2 for wrong parameters or options (printed without a traceback), 3 when another
    run is writing the same dated folder, 128 + the signal's number when stopped by a
    signal (143 SIGTERM, 130 Ctrl-C), after cleaning up."""
    with cleanup.stop_on_signals():
        try:
            return _main(argv)
        except cleanup.RunStopped as stop:  # before or after the reports ran
            print(f"fanlib run: stopped by {stop.signame}", file=sys.stderr)
            return stop.exit_code


def _main(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    try:
        jobs, out_dir, date_dir = plan(args)
    except ParamError as exc:
        print(f"fanlib run: {exc}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    _fast_imports()
    try:
        ensure_kernel()
    except Exception as exc:
        print(f"fanlib run: cannot set up the Jupyter kernel: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    # Import the heavy parts once, before forking workers; with workers, compile the page
    # templates now too, otherwise while the first report runs.
    import papermill.engines  # noqa: F401

    from fanlib.reports import htmlexport

    inline = args.jobs <= 1 or len(jobs) <= 1
    if not inline:
        htmlexport.warm_up()
    fingerprints = BackgroundFingerprints([source_key(j.parameters) for j in jobs], warm_up_export=inline)
    context = {"versions": package_versions(), "git": git_state(jobs[0].root), "fingerprints_by_parent": True}
    for job in jobs:
        job.context = context
    command = "fanlib run " + " ".join(argv if argv is not None else sys.argv[1:])
    # The first report to pass the contract check records it here; the others of this run reuse it.
    from fanlib.data.validate import PASSED_DIR_ENV

    previous = os.environ.get(PASSED_DIR_ENV)
    left = cleanup.sweep_scratch() + cleanup.sweep_pruned(out_dir, LOCK_NAME)
    try:
        with run_lock(date_dir, wait=args.wait, command=command):
            left += cleanup.sweep_date_folder(date_dir, LOCK_NAME)
            if left:
                _progress(f"removed what interrupted runs left behind: {', '.join(left)}")
            _progress(f"{len(jobs)} report(s) into {date_dir}")
            # Kernels inherit the run's scratch folder as TMPDIR; it goes at the end, however the run ends.
            with cleanup.run_scratch(command) as scratch:
                os.environ[PASSED_DIR_ENV] = str(scratch / "checks")
                (scratch / "checks").mkdir()
                try:
                    manifests = run_suite(jobs, workers=args.jobs, out_dir=out_dir, fingerprints=fingerprints)
                except cleanup.RunStopped as stop:
                    return _stopped(stop, date_dir)
                finally:
                    cleanup.sweep_date_folder(date_dir, LOCK_NAME)  # a killed worker's staging
    except RunLocked as exc:
        print(f"fanlib run: {exc}", file=sys.stderr)
        return EXIT_LOCKED
    finally:
        if previous is None:
            os.environ.pop(PASSED_DIR_ENV, None)
        else:
            os.environ[PASSED_DIR_ENV] = previous
    if args.keep is not None:
        _prune_and_reindex(out_dir, args.keep, date_dir.name)
    return _finish(manifests, time.perf_counter() - t0, date_dir / "index.html", strict=args.strict)


def _finish(manifests: list[dict], took: float, index: Path, *, strict: bool) -> int:
    """The run's last log line and its exit code, from each report's one status."""
    by = {s: [m["report"] for m in manifests if report_status.manifest_status(m) == s]
          for s in report_status.STATUSES}
    code = report_status.exit_code(manifests, strict=strict)
    if not by["failed"] and not by["partial"]:
        _progress(f"all {len(manifests)} ok in {took:.1f} s; open {index}")
        return code
    parts = [f"{len(by[s])} {s} ({', '.join(by[s])})" for s in ("failed", "partial") if by[s]]
    strict_note = "; --strict: a partial report fails the run" if strict and by["partial"] else ""
    _progress(f"{len(by['ok'])} of {len(manifests)} ok, " + ", ".join(parts) + f" in {took:.1f} s{strict_note}; "
              f"see {index}")
    return code


def _stopped(stop: cleanup.RunStopped, date_dir: Path) -> int:
    cleanup.sweep_date_folder(date_dir, LOCK_NAME)  # before the lock is released
    parts = [f"stopped {', '.join(stop.stopped)} (nothing of them replaced)" if stop.stopped else "",
             f"not started: {', '.join(stop.not_started)}" if stop.not_started else ""]
    print(f"fanlib run: stopped by {stop.signame}; " + "; ".join(p for p in parts if p)
          + f"{'; ' if any(parts) else ''}staged files removed, lock released; see {date_dir / 'index.html'}",
          file=sys.stderr)
    return stop.exit_code


if __name__ == "__main__":
    sys.exit(main())
