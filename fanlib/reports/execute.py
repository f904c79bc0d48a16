"""Running one report: its notebook executed into its set of files in the dated folder.

For one notebook :func:`run_job` executes it on the ``fanlib`` kernel (:mod:`fanlib.reports.kernel`) with
its parameters and writes its set into ``reports/<date>/`` (the names: :mod:`fanlib.reports.layout`):
the stakeholder and analyst pages, the executed notebook, the summary the notebook wrote and the
manifest (parameters, data source and fingerprint, package versions, git commit, timings and status).

Each report's status (ok, partial, failed) is its summary's (:mod:`fanlib.reports.status`). A failed
report (a cell raised, no summary was written, or its summary says it could not answer) writes its
failed set instead and never touches the last good report. A report's files are replaced as a set:
a full disk replaces none of them, and a stop signal waits until the set is in place.
"""

from __future__ import annotations

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

from fanlib.io import DiskFull, is_disk_full, json_text, to_jsonable, write_json_atomic
from fanlib.reports import cleanup
from fanlib.reports import status as report_status
from fanlib.reports.fingerprints import fingerprint_of, source_key
from fanlib.reports.kernel import KERNEL_NAME, execute_notebook, fast_imports, mark_error
from fanlib.reports.layout import RunFolder
from fanlib.reports.status import DISK_FULL, error_text, failure_place

DEFAULT_TIMEOUT = 600
#: The error of a notebook that ran every cell but wrote no summary.
NO_SUMMARY = "no summary"
#: Packages whose versions every manifest records.
VERSIONED_PACKAGES = (
    "pandas",
    "numpy",
    "statsmodels",
    "scikit-learn",
    "duckdb",
    "ibis-framework",
    "papermill",
    "nbconvert",
)


# --------------------------------------------------------------------------- small helpers


def now_iso() -> str:
    """Now, in this machine's time zone, to the second (as manifests record times)."""
    return datetime.now().astimezone().isoformat(timespec="seconds")


def mask_secrets(source: str | None) -> str | None:
    """A data source with any password in a URL replaced by ***."""
    if source is None:
        return None
    return re.sub(r"(://[^:/@\s]+):[^@\s]+@", r"\1:***@", str(source))


# --------------------------------------------------------------------------- run context


def git_state(root: Path) -> dict:
    """The commit checked out at ``root`` and whether tracked files differ from it."""

    def git(*args: str) -> subprocess.CompletedProcess:
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

    @property
    def folder(self) -> RunFolder:
        return RunFolder(self.date_dir)


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
    old = RunFolder.set_aside(final, os.getpid())
    if final.exists():
        os.replace(final, old)
    os.replace(staging, final)
    shutil.rmtree(old, ignore_errors=True)


def _fingerprint(job: Job) -> dict:
    """The source's fingerprint, computed once per run and shared by the reports that read it alike."""
    if job.context.get("fingerprints_by_parent"):
        return {"fingerprint": None, "error": None}  # the parent adds it as the report finishes
    cached, key = job.context.get("fingerprints", {}), source_key(job.parameters)
    return cached[key] if key in cached else fingerprint_of(key)


def run_job(job: Job) -> dict:
    """Execute one notebook and write its files; returns its manifest. However it ends, its temp
    summary and staging folder are gone afterwards."""
    folder, name = job.folder, job.name
    folder.path.mkdir(parents=True, exist_ok=True)
    token = f"{os.getpid()}-{int(time.time() * 1000) % 10**8}"
    summary_tmp = folder.summary_scratch(name, token)
    staging = folder.exports_staging(name, token)
    try:
        staging.mkdir()
        return _run_and_write(job, summary_tmp, staging)
    finally:
        with contextlib.suppress(OSError):
            summary_tmp.unlink()
        shutil.rmtree(staging, ignore_errors=True)  # moved into place unless the report stopped early


def _run_and_write(job: Job, summary_tmp: Path, staging: Path) -> dict:
    fast_imports()
    import nbformat

    from fanlib.present.notebook import lift_timings
    from fanlib.reports import htmlexport

    started, t0 = now_iso(), time.perf_counter()
    d, name = job.date_dir, job.name
    params = dict(job.parameters, summary_path=str(summary_tmp), output_dir=str(staging))
    source = params.get("source")
    manifest: dict[str, Any] = {
        "report": name,
        "status": None,
        "date": d.name,
        "notebook": display_path(job.notebook, job.root),
        "parameters": to_jsonable(
            {
                k: mask_secrets(v) if k == "source" else v
                for k, v in params.items()
                if k not in ("summary_path", "output_dir")
            }
        ),
        "source": {"value": mask_secrets(source), **_fingerprint(job)},
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
        nb, error = execute_notebook(job.notebook, params, cwd=job.root, timeout=job.timeout)
    except Exception as exc:  # e.g. an unreadable notebook: still report it
        import traceback

        nb = nbformat.v4.new_notebook()
        error = {
            "cell_index": None,
            "execution_count": None,
            "ename": type(exc).__name__,
            "evalue": str(exc),
            "traceback": traceback.format_exception(exc),
        }
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
            error = {
                "cell_index": None,
                "execution_count": None,
                "ename": NO_SUMMARY,
                "evalue": problem,
                "traceback": [],
            }
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
            mark_error(nb, error)
            where = failure_place(error) or (
                "after the last cell" if error["ename"] == NO_SUMMARY else "before any cell ran"
            )
            failure = f"{where}: {error_text(error)}"
            pages = {"html": htmlexport.to_html(nb, title=f"{title} — FAILED", include_code=True, failure=failure)}
    except Exception as exc:  # export trouble must not hide the run's outcome
        pages = {}
        if ran:
            ran = False
            error = {
                "cell_index": None,
                "execution_count": None,
                "ename": f"HTMLExport{type(exc).__name__}",
                "evalue": str(exc),
                "traceback": [],
            }
    t2 = time.perf_counter()

    # A report that failed, by a raised cell or by its own summary, never replaces the last good one.
    ok = error is None
    names = RunFolder.files(name, ok=ok)
    exports = d / names.exports
    files = {"notebook": names.notebook, "manifest": names.manifest}
    contents = {files["notebook"]: nbformat.writes(nb).encode("utf-8")}
    if "html" in pages:
        files["html"] = names.html
        contents[files["html"]] = pages["html"].encode("utf-8")
    if ran:
        files["analyst_html"] = names.analyst_html
        files["summary"] = names.summary
        contents[files["analyst_html"]] = pages["analyst_html"].encode("utf-8")
        contents[files["summary"]] = summary
    staged_exports = staging.is_dir() and any(staging.iterdir())
    if staged_exports or (ok and exports.is_dir()):
        files["exports"] = f"{exports.name}/"
    if not ok:
        _note_last_good(manifest, job)
    if verdict is not None and verdict.sections:
        manifest["sections_failed"] = verdict.sections
    manifest.update(
        title=title,
        status=verdict.status if ok else "failed",
        finished_at=now_iso(),
        durations={
            "execution_s": round(t1 - t0, 3),
            "export_s": round(t2 - t1, 3),
            "total_s": round(time.perf_counter() - t0, 3),
            **({"notebook": timings} if timings else {}),
        },
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
            for leftover in job.folder.failed_leftovers(name):
                if leftover.name not in contents:
                    with contextlib.suppress(FileNotFoundError):
                        leftover.unlink()
            if ok or "exports" not in files:
                shutil.rmtree(job.folder.exports(name, ok=False), ignore_errors=True)
    except DiskFull as full:
        _record_disk_full(manifest, job, full)
    return manifest


def _manifest_bytes(manifest: dict) -> bytes:
    return json_text(manifest).encode("utf-8")


def _note_last_good(manifest: dict, job: Job) -> None:
    """A failed report's manifest points at the last good report of the day, if there is one."""
    good = RunFolder.good(job.name)
    if job.folder.manifest(job.name).exists():
        manifest["last_good"] = {"html": good.html, "manifest": good.manifest}


def _record_disk_full(manifest: dict, job: Job, full: DiskFull) -> None:
    """Nothing of the report was replaced: record the failure in a small manifest, if even that fits."""
    error = manifest.get("error")
    if error is None:
        error = {"cell_index": None, "execution_count": None, "ename": DISK_FULL, "evalue": str(full), "traceback": []}
    else:
        error = dict(error, evalue=f"{error.get('evalue')}; its error page could not be written: {full}")
    manifest.update(status="failed", error=error, files={"manifest": RunFolder.failed(job.name).manifest})
    _note_last_good(manifest, job)
    with contextlib.suppress(OSError):
        write_json_atomic(job.date_dir / manifest["files"]["manifest"], manifest)


def display_path(path: Path, root: Path) -> str:
    """``path`` relative to the project ``root`` when it lies inside, as manifests show it."""
    try:
        return str(path.resolve().relative_to(root))
    except ValueError:
        return str(path)


def crash_manifest(job: Job, exc: BaseException | None, *, ename: str | None = None, evalue: str = "") -> dict:
    """A failed manifest written by the parent when a worker could not report (e.g. it was killed)."""
    if ename is None and exc is not None and is_disk_full(exc):
        ename = DISK_FULL
        evalue = str(exc) if isinstance(exc, DiskFull) else str(DiskFull(job.date_dir, 0))
    m = {
        "report": job.name,
        "status": "failed",
        "date": job.date_dir.name,
        "notebook": display_path(job.notebook, job.root),
        "runs_after_others": job.runs_after_others,
        "finished_at": now_iso(),
        "durations": {},
        "error": {
            "cell_index": None,
            "execution_count": None,
            "ename": ename or type(exc).__name__,
            "evalue": evalue or str(exc) or "the worker process stopped",
            "traceback": [],
        },
        "files": {"manifest": RunFolder.failed(job.name).manifest},
    }
    _note_last_good(m, job)
    with contextlib.suppress(OSError):
        write_json_atomic(job.folder.manifest(job.name, ok=False), m)
    return m


def run_job_safely(job: Job) -> dict:
    """:func:`run_job`, with anything it raises recorded as the report's failure (the suite goes on)."""
    try:
        return run_job(job)
    except Exception as exc:  # the suite goes on; the parent reports it
        return crash_manifest(job, exc)
