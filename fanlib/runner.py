"""``fanlib run``: execute report notebooks into a dated folder of offline HTML reports.

For each notebook the runner validates its parameters (before any kernel
starts), executes it with papermill on the ``fanlib`` kernel (registered on
first use for this Python), and writes into ``reports/<date>/``:

* ``<name>.html`` (stakeholder page, no code) and ``<name>.analyst.html`` (with code);
* ``<name>.ipynb``, the executed notebook;
* ``<name>.summary.json``, the headline figures the notebook wrote;
* ``<name>.manifest.json``: parameters, data source and fingerprint, package
  versions, git commit, timings and status.

A failing notebook writes ``<name>.failed.html`` / ``.failed.ipynb`` /
``.failed.manifest.json`` instead and never touches the last good report.
Every file is written atomically. The index pages are rebuilt as reports finish.

Scheduling: a run holds ``reports/<date>/.run.lock`` (``fcntl.flock``) while it
writes, so two overlapping runs never write the same dated folder; the second
one stops at once with exit code 3 and names the run that holds the folder
(``--wait SECONDS`` makes it wait for the folder instead). Notebooks whose
metadata says ``{"fanlib": {"runs_after_others": true}}`` start only once every
other report of the run has finished; with ``"waits_for_others": true`` as well
(the executive overview) they start once every other report has started, and
wait for the others' manifests themselves in a cell tagged ``waits-for-reports``
(:func:`fanlib.executive.wait_for_reports`; no per-cell timeout there), so their
own data work overlaps the last reports.
``--keep N`` then prunes the oldest dated folders (see :func:`prune`).
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
from datetime import date, datetime
from pathlib import Path
from typing import Any

from fanlib.params import ParamError

KERNEL_NAME = "fanlib"
#: Headless, and still renders figures into the notebook (plain ``Agg`` would not).
KERNEL_MPLBACKEND = "module://matplotlib_inline.backend_inline"
#: The kernel's environment; FANLIB_KERNELSPEC marks specs this version wrote.
KERNEL_ENV = {"MPLBACKEND": KERNEL_MPLBACKEND, "PYDEVD_DISABLE_FILE_VALIDATION": "1", "FANLIB_KERNELSPEC": "1"}
DEFAULT_TIMEOUT = 600
TIMEZONE = "Asia/Shanghai"
#: Packages whose versions every manifest records.
VERSIONED_PACKAGES = ("pandas", "numpy", "statsmodels", "scikit-learn", "duckdb", "ibis-framework",
                      "papermill", "nbconvert")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: The lock file a run holds in its dated folder.
LOCK_NAME = ".run.lock"
#: Exit code of a run that found its dated folder locked by another run.
EXIT_LOCKED = 3


def _fast_imports() -> None:
    # jsonschema imports rfc3987_syntax when present, which builds a parser
    # grammar at import (~3 s here) for an "iri" format notebooks never use.
    sys.modules.setdefault("rfc3987_syntax", None)


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
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def write_json_atomic(path: str | os.PathLike, obj: Any) -> Path:
    return write_atomic(path, json.dumps(obj, ensure_ascii=False, indent=2, default=str) + "\n")


def mask_secrets(source: str | None) -> str | None:
    """A data source with any password in a URL replaced by ***."""
    if source is None:
        return None
    return re.sub(r"(://[^:/@\s]+):[^@\s]+@", r"\1:***@", str(source))


# --------------------------------------------------------------------------- kernel and parameters


def _kernel_ok(ksm, name: str) -> bool:
    from jupyter_client.kernelspec import NoSuchKernel

    try:
        spec = ksm.get_kernel_spec(name)
    except NoSuchKernel:
        return False
    return bool(spec.argv) and spec.argv[0] == sys.executable and (spec.env or {}) == KERNEL_ENV


def ensure_kernel(name: str = KERNEL_NAME) -> str:
    """Register the ``fanlib`` kernelspec for this Python under ``sys.prefix`` if it
    is absent or points elsewhere, so execution never meets "No such kernel"."""
    os.environ.setdefault("JUPYTER_PREFER_ENV_PATH", "1")
    from jupyter_client.kernelspec import KernelSpecManager

    ksm = KernelSpecManager()
    if _kernel_ok(ksm, name):
        return name
    kernels = Path(sys.prefix) / "share" / "jupyter" / "kernels"
    kernels.mkdir(parents=True, exist_ok=True)
    import fcntl

    from ipykernel.kernelspec import install

    with open(kernels / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # several runs may start at once
        ksm = KernelSpecManager()
        if not _kernel_ok(ksm, name):
            where = install(kernel_spec_manager=ksm, kernel_name=name, display_name="Python (fanlib)",
                            prefix=sys.prefix, env=KERNEL_ENV)
            # Keep the kernel's own start-up chatter (e.g. its TCP notice) out of the run log.
            spec_file = Path(where) / "kernel.json"
            spec = json.loads(spec_file.read_text(encoding="utf-8"))
            spec["argv"].append("--IPKernelApp.log_level=CRITICAL")
            write_json_atomic(spec_file, spec)
    if not _kernel_ok(KernelSpecManager(), name):
        spec_dir = KernelSpecManager().find_kernel_specs().get(name)
        raise RuntimeError(f"the Jupyter kernel {name!r} resolves to {spec_dir}, not to this Python "
                           f"({sys.executable}); remove that kernelspec or set JUPYTER_PREFER_ENV_PATH=1")
    return name


def register_translator() -> None:
    """Make papermill inject dates, datetimes, lists and dicts as real Python values."""
    from papermill.translators import PythonTranslator, papermill_translators

    class FanlibTranslator(PythonTranslator):
        """Renders date/datetime as constructor calls and keeps Chinese text readable."""

        @classmethod
        def translate(cls, val):
            if isinstance(val, (datetime, date)):
                return f"_dt.{val!r}".replace("_dt.datetime.", "_dt.")  # _dt.date(2025, 6, 30)
            if isinstance(val, tuple):
                return cls.translate_list(list(val))
            return super().translate(val)

        @classmethod
        def translate_str(cls, val):
            return repr(val)

        @classmethod
        def codify(cls, parameters, comment="Parameters"):
            lines = [cls.comment(comment), "import datetime as _dt"]
            lines += [cls.assign(name, cls.translate(val)) for name, val in parameters.items()]
            lines.append("del _dt")
            return "\n".join(lines) + "\n"

    papermill_translators.register("python", FanlibTranslator)
    papermill_translators.register(KERNEL_NAME, FanlibTranslator)


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


def data_fingerprint(source: str | None) -> dict:
    """``{"fingerprint": …, "error": …}`` for a data source; errors are recorded, never raised."""
    if not source:
        return {"fingerprint": None, "error": "the notebook has no source parameter"}
    try:
        from fanlib.data import connect

        fd = connect(source, validate=False)
        fingerprint = str(fd.fingerprint())
        with contextlib.suppress(Exception):  # release the database before workers fork
            fd.con.disconnect()
        return {"fingerprint": fingerprint, "error": None}
    except Exception as exc:  # a broken source must still leave a manifest behind
        return {"fingerprint": None, "error": f"{type(exc).__name__}: {exc}"}


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
    # ... unless it waits for them itself (fanlib.executive.wait_for_reports in a cell tagged
    # WAIT_TAG): then it starts once every other report has started
    waits_for_others: bool = False


def _error_from_outputs(nb) -> dict | None:
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                if out.get("ename") == "SystemExit" and out.get("evalue") in ("", "0"):
                    continue
                return {"cell_index": index, "execution_count": cell.get("execution_count"),
                        "ename": out.get("ename"), "evalue": out.get("evalue"),
                        "traceback": [_strip_ansi(t) for t in out.get("traceback", [])]}
    return None


def _strip_ansi(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)


def _last_started_cell(nb) -> int | None:
    started = [i for i, c in enumerate(nb.cells) if c.get("metadata", {}).get("papermill", {}).get("start_time")]
    return started[-1] if started else None


def _mark_error(nb, error: dict) -> None:
    """Insert papermill's error banner and anchor, as ``papermill`` itself would."""
    import nbformat
    from papermill.execute import ERROR_ANCHOR_MSG, ERROR_MARKER_TAG, ERROR_MESSAGE_TEMPLATE

    index = error.get("cell_index")
    top = nbformat.v4.new_markdown_cell(ERROR_MESSAGE_TEMPLATE % str(error.get("execution_count")))
    top.metadata["tags"] = [ERROR_MARKER_TAG]
    if index is not None:
        anchor = nbformat.v4.new_markdown_cell(ERROR_ANCHOR_MSG)
        anchor.metadata["tags"] = [ERROR_MARKER_TAG]
        nb.cells.insert(index, anchor)
    nb.cells.insert(0, top)


#: Tag of the cell in which a report waits for the others of its run (no per-cell timeout).
WAIT_TAG = "waits-for-reports"
#: Kernels that fail before their first cell are started again this many times.
KERNEL_START_RETRIES = 1


def execute(notebook: Path, parameters: dict, *, cwd: Path, timeout: int, kernel: str = KERNEL_NAME):
    """Run ``notebook`` with ``parameters`` injected; returns ``(executed nb, error or None)``.

    The error, if any, names the failing cell (index in the executed notebook,
    before the banner), the exception and its message.
    """
    _fast_imports()
    import nbformat
    from papermill.engines import papermill_engines
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook
    from papermill.utils import chdir

    from fanlib.params import to_jsonable

    register_translator()
    for attempt in range(1 + KERNEL_START_RETRIES):
        nb = load_notebook_node(str(notebook))
        nb.metadata["kernelspec"] = {"name": kernel, "display_name": "Python (fanlib)", "language": "python"}
        nb = parameterize_notebook(nb, parameters, kernel_name=kernel, language="python")
        nb.metadata.papermill["parameters"] = to_jsonable(parameters)  # JSON-safe: no date objects
        nb.metadata.papermill["input_path"] = str(notebook)
        crash = None
        try:
            with chdir(str(cwd)):
                papermill_engines.execute_notebook_with_engine(
                    None, nb, input_path=str(notebook), output_path=None, kernel_name=kernel,
                    progress_bar=False, log_output=False, start_timeout=120, execution_timeout=timeout,
                    # a cell that waits for the other reports is bounded by them, not by the per-cell timeout
                    timeout_func=lambda cell: None if WAIT_TAG in cell.get("metadata", {}).get("tags", [])
                    else timeout,
                )
        except Exception as exc:  # timeouts and dead kernels end up here
            crash = exc
        # A kernel that fails before running any cell (e.g. two kernels starting at once picked the
        # same port) is started once more; a failure inside the notebook is never retried.
        if crash is None or _last_started_cell(nb) is not None or attempt == KERNEL_START_RETRIES:
            break
        _progress(f"{Path(notebook).stem}: the kernel failed before the first cell "
                  f"({type(crash).__name__}: {str(crash).strip()[:200]}); starting it again")
    if attempt:
        nb.metadata.setdefault("fanlib", {})["kernel_start_retries"] = attempt
    error = _error_from_outputs(nb)
    timed_out = crash is not None and isinstance(crash, TimeoutError)
    if crash is not None and (error is None or timed_out):
        # The kernel was stopped (timeout, death): the error is the crash, in the cell that was running.
        index = _last_started_cell(nb)
        ename = type(crash).__name__
        evalue = str(crash).strip().splitlines()[-1] if str(crash).strip() else ""
        if timed_out:
            evalue = f"a cell ran longer than the per-cell timeout of {timeout} s (--timeout)"
        error = {"cell_index": index, "execution_count": nb.cells[index].get("execution_count") if index is not None
                 else None, "ename": ename, "evalue": evalue, "traceback": []}
        if index is not None and nb.cells[index].cell_type == "code":
            nb.cells[index].outputs.append(nbformat.v4.new_output(
                "error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"]))
    return nb, error


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
    """The source's fingerprint, computed once per run and shared by its reports."""
    if job.context.get("fingerprints_by_parent"):
        return {"fingerprint": None, "error": None}  # the parent adds it as the report finishes
    cached = job.context.get("fingerprints", {})
    return cached[source] if source in cached else data_fingerprint(source)


class BackgroundFingerprints:
    """Data fingerprints computed in a thread of the parent while the first reports run.

    Counting rows and time ranges takes about a second, which would otherwise sit
    in front of every run. The thread starts only once the worker processes are
    forked (a fork while a thread runs could copy a held lock). ``record`` adds
    the fingerprint to a finished report's manifest and rewrites the file.
    """

    def __init__(self, sources, *, warm_up_export: bool = False):
        self.sources = list(dict.fromkeys(sources))
        self.warm_up_export = warm_up_export
        self.results: dict = {}
        self._thread = None

    def start(self) -> None:
        if self._thread is None:
            import threading

            self._thread = threading.Thread(target=self._compute, name="fanlib-fingerprints", daemon=True)
            self._thread.start()

    def _compute(self) -> None:
        if self.warm_up_export:  # reports in this process export after the thread is done with this
            from fanlib import htmlexport

            with contextlib.suppress(Exception):
                htmlexport.warm_up()
        for src in self.sources:
            self.results[src] = data_fingerprint(src)

    def get(self, source) -> dict:
        self.start()
        self._thread.join()
        return self.results.get(source) or data_fingerprint(source)

    def record(self, manifest: dict, job: "Job") -> dict:
        src = manifest.get("source")
        if not isinstance(src, dict) or src.get("fingerprint") is not None or src.get("error") is not None:
            return manifest
        src.update(self.get(job.parameters.get("source")))
        name = (manifest.get("files") or {}).get("manifest")
        if name:
            with contextlib.suppress(OSError):
                write_json_atomic(job.date_dir / name, manifest)
        return manifest


def run_job(job: Job) -> dict:
    """Execute one notebook and write its files; returns its manifest."""
    _fast_imports()
    import nbformat

    from fanlib import htmlexport
    from fanlib.params import to_jsonable
    from fanlib.report import lift_timings

    started, t0 = now_iso(), time.perf_counter()
    d, name = job.date_dir, job.name
    d.mkdir(parents=True, exist_ok=True)
    token = f"{os.getpid()}-{int(time.time() * 1000) % 10**8}"
    summary_tmp = d / f".{name}.summary.json.{token}.tmp"
    staging = d / f".{name}_files.{token}.tmp"
    staging.mkdir()
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
    t1 = time.perf_counter()
    summary = None
    timings: dict = {}
    if error is None:
        summary, problem = _read_summary(summary_tmp)
        if summary is not None:  # timings belong to this run, not to the figures: the manifest holds them
            summary, timings = lift_timings(summary)
        if problem:
            error = {"cell_index": None, "execution_count": None, "ename": "SummaryError", "evalue": problem,
                     "traceback": []}
    title = htmlexport.notebook_title(nb, name)
    ok = error is None
    try:
        if ok:
            pages = {
                "html": htmlexport.to_html(nb, title=title, include_code=False),
                "analyst_html": htmlexport.to_html(nb, title=f"{title} (analyst)", include_code=True),
            }
        else:
            _mark_error(nb, error)
            from fanlib.indexpages import failure_place

            where = failure_place(error) or "before any cell ran"
            failure = f"{where}: {error['ename']}: {error['evalue']}"
            pages = {"html": htmlexport.to_html(nb, title=f"{title} — FAILED", include_code=True, failure=failure)}
    except Exception as exc:  # export trouble must not hide the run's outcome
        pages = {}
        if ok:
            ok = False
            error = {"cell_index": None, "execution_count": None, "ename": f"HTMLExport{type(exc).__name__}",
                     "evalue": str(exc), "traceback": []}
    t2 = time.perf_counter()

    stem = name if ok else f"{name}.failed"
    files = {"notebook": f"{stem}.ipynb", "manifest": f"{stem}.manifest.json"}
    write_atomic(d / files["notebook"], nbformat.writes(nb))
    if "html" in pages:
        files["html"] = f"{stem}.html"
        write_atomic(d / files["html"], pages["html"])
    if ok:
        files["analyst_html"] = f"{name}.analyst.html"
        files["summary"] = f"{name}.summary.json"
        write_atomic(d / files["analyst_html"], pages["analyst_html"])
        write_atomic(d / files["summary"], summary)
        _replace_dir(staging, d / f"{name}_files")
        if (d / f"{name}_files").is_dir():
            files["exports"] = f"{name}_files/"
    else:
        if any(staging.iterdir()):
            _replace_dir(staging, d / f"{name}.failed_files")
            files["exports"] = f"{name}.failed_files/"
        else:
            staging.rmdir()
        if (d / f"{name}.manifest.json").exists():
            manifest["last_good"] = {"html": f"{name}.html", "manifest": f"{name}.manifest.json"}
    with contextlib.suppress(OSError):
        summary_tmp.unlink()
    manifest.update(
        title=title,
        status="ok" if ok else "failed",
        finished_at=now_iso(),
        durations={"execution_s": round(t1 - t0, 3), "export_s": round(t2 - t1, 3),
                   "total_s": round(time.perf_counter() - t0, 3), **({"notebook": timings} if timings else {})},
        error=error,
        files=files,
    )
    write_json_atomic(d / files["manifest"], manifest)
    if ok:  # a good run supersedes an earlier failure of the same day
        for suffix in (".failed.html", ".failed.ipynb", ".failed.manifest.json"):
            with contextlib.suppress(FileNotFoundError):
                (d / f"{name}{suffix}").unlink()
        shutil.rmtree(d / f"{name}.failed_files", ignore_errors=True)
    return manifest


def _display_path(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root))
    except ValueError:
        return str(path)


def _crash_manifest(job: Job, exc: BaseException) -> dict:
    """A failed manifest written by the parent when a worker could not report (e.g. it was killed)."""
    m = {"report": job.name, "status": "failed", "date": job.date_dir.name,
         "notebook": _display_path(job.notebook, job.root), "runs_after_others": job.runs_after_others,
         "finished_at": now_iso(), "durations": {},
         "error": {"cell_index": None, "execution_count": None, "ename": type(exc).__name__,
                   "evalue": str(exc) or "the worker process stopped", "traceback": []},
         "files": {"manifest": f"{job.name}.failed.manifest.json"}}
    with contextlib.suppress(OSError):
        write_json_atomic(job.date_dir / f"{job.name}.failed.manifest.json", m)
    return m


def _run_job_safely(job: Job) -> dict:
    try:
        return run_job(job)
    except Exception as exc:  # the suite goes on; the parent reports it
        return _crash_manifest(job, exc)


# --------------------------------------------------------------------------- run lock and pruning


class RunLocked(RuntimeError):
    """Another run holds the dated folder."""


def _lock_holder(fd: int) -> str:
    """Who holds a lock file, from what it wrote into it: "pid 123, started 2025-12-31T09:00:00+08:00"."""
    try:
        holder = json.loads(os.pread(fd, 4096, 0).decode("utf-8") or "{}")
    except (OSError, ValueError):
        holder = {}
    if not holder:
        return "another run"
    command = f" ({holder['command']})" if holder.get("command") else ""
    return f"pid {holder.get('pid')}, started {holder.get('started_at')}{command}"


class _Busy(Exception):
    """Another process holds the lock; ``args[0]`` describes it."""


def _acquire(folder: Path, *, wait: float = 0.0, create_folder: bool = True) -> int | None:
    """An fd holding ``folder/.run.lock`` exclusively; :class:`_Busy` when another process holds it for
    longer than ``wait`` seconds; None when ``create_folder`` is false and the folder is gone. The lock
    file may be deleted by the holder as it finishes (or the folder pruned), so the lock counts only if
    the file we locked is still the one at the path."""
    import fcntl

    deadline = time.monotonic() + wait
    path = folder / LOCK_NAME
    while True:
        if create_folder:
            folder.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError:  # the folder was pruned meanwhile
            if not create_folder:
                return None
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if time.monotonic() >= deadline:
                holder = _lock_holder(fd)
                os.close(fd)
                raise _Busy(holder) from None
            os.close(fd)
            time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
            continue
        try:
            current = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            current = False
        if current:
            return fd
        os.close(fd)  # we locked a file that is gone: start over on the current one
        if not create_folder and not folder.exists():
            return None


def _release(fd: int, folder: Path) -> None:
    # Delete the file while still holding it, so that a waiting run re-checks and locks a fresh one.
    with contextlib.suppress(FileNotFoundError):
        os.unlink(folder / LOCK_NAME)
    os.close(fd)


@contextlib.contextmanager
def run_lock(date_dir: Path, *, wait: float = 0.0, command: str = ""):
    """Hold ``date_dir/.run.lock`` for a run; :class:`RunLocked` names the holder if another run keeps
    it for more than ``wait`` seconds."""
    date_dir = Path(date_dir)
    try:
        fd = _acquire(date_dir, wait=wait)
    except _Busy as busy:
        raise RunLocked(f"{date_dir} is being written by another run ({busy.args[0]}); waited {wait:g} s. "
                        f"Two runs never write the same dated folder: wait for it to finish, pass --wait SECONDS, "
                        f"or choose another --date / --out")
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "started_at": now_iso(), "command": command}).encode(), 0)
        yield date_dir
    finally:
        _release(fd, date_dir)


def dated_folders(reports_dir: Path) -> list[Path]:
    """The run folders (named YYYY-MM-DD, a real date) under ``reports_dir``, oldest first."""
    reports_dir = Path(reports_dir)
    if not reports_dir.is_dir():
        return []
    return sorted((p for p in reports_dir.iterdir()
                   if p.is_dir() and not p.is_symlink() and _DATE.match(p.name) and _valid_date(p.name)),
                  key=lambda p: p.name)


def prune(reports_dir: Path, keep: int, *, current: str | None = None) -> dict[str, list[str]]:
    """Delete all but the ``keep`` newest dated folders of ``reports_dir``.

    Only folders named YYYY-MM-DD are candidates; ``current`` (this run's date) is always kept and
    counts towards ``keep``; a folder whose run lock is held by a running run is skipped. Each folder
    is deleted under its own lock, renamed to a hidden name first so no reader sees half a folder.
    Returns ``{"removed": [...], "locked": [...]}`` (folder names).
    """
    if keep < 1:
        raise ValueError(f"--keep {keep}: must be at least 1 (the current run's folder is always kept)")
    folders = dated_folders(reports_dir)
    kept = [p for p in folders if p.name == current]
    others = [p for p in folders if p.name != current]
    n_others = max(keep - len(kept), 0)
    candidates = others[: len(others) - n_others] if n_others else others
    removed, locked = [], []
    for folder in candidates:
        try:
            fd = _acquire(folder, create_folder=False)
        except _Busy:
            locked.append(folder.name)
            continue
        if fd is None:  # gone meanwhile (another run pruned it)
            continue
        try:
            trash = folder.with_name(f".{folder.name}.pruned.{os.getpid()}")
            try:
                os.rename(folder, trash)
            except FileNotFoundError:
                continue
            shutil.rmtree(trash, ignore_errors=True)
            removed.append(folder.name)
        finally:
            os.close(fd)
    return {"removed": removed, "locked": locked}


# --------------------------------------------------------------------------- the suite


def _progress(message: str) -> None:
    print(f"[fanlib run {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _outcome(m: dict) -> str:
    secs = m.get("durations", {}).get("total_s")
    took = f"{secs:.1f} s" if secs is not None else ""
    if m.get("status") == "ok":
        return f"{m['report']}: ok  {took}"
    from fanlib.indexpages import failure_place

    e = m.get("error") or {}
    cell = f"{failure_place(e)}: " if failure_place(e) else ""
    return f"{m['report']}: FAILED  {took}  {cell}{e.get('ename')}: {e.get('evalue')}"


def run_suite(jobs: list[Job], *, workers: int = 1, out_dir: Path,
              fingerprints: BackgroundFingerprints | None = None) -> list[dict]:
    """Run ``jobs`` (in parallel processes when ``workers`` > 1); index pages are
    rebuilt after each report. Returns the manifests in suite order.

    ``fingerprints``: computed in the background once the reports have started,
    and added to each manifest as its report finishes."""
    from fanlib import indexpages

    results: dict[str, dict] = {}

    def finished(m: dict, job: Job) -> None:
        if fingerprints is not None:
            m = fingerprints.record(m, job)
        results[job.name] = m
        _progress(f"[{len(results)}/{len(jobs)}] {_outcome(m)}")
        try:
            indexpages.write_indexes(job.date_dir, out_dir)
        except Exception as exc:  # an index glitch must not stop the suite
            _progress(f"index pages not updated: {type(exc).__name__}: {exc}")

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
    if workers <= 1 or len(jobs) <= 1:
        if fingerprints is not None:
            fingerprints.start()
        for job in first + last:
            _progress(f"{job.name}: started")
            finished(_run_job_safely(job), job)
    else:
        import multiprocessing
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

        ctx = multiprocessing.get_context("fork")
        n = min(workers, len(jobs))
        queue, later = list(first), list(last)
        running: dict = {}  # future -> (job, start); at most n, so start times are true
        _progress(f"{len(jobs)} notebooks on {n} workers: " + ", ".join(j.name for j in jobs))
        with ProcessPoolExecutor(max_workers=n, mp_context=ctx) as pool:
            while queue or running or later:
                if not queue and not running:
                    queue, later = later, []
                if not queue and any(j.waits_for_others for j in later):
                    queue = [j for j in later if j.waits_for_others]
                    later = [j for j in later if not j.waits_for_others]
                while queue and len(running) < n:
                    job = queue.pop(0)
                    _progress(f"{job.name}: started")
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
    return [results[j.name] for j in jobs]


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="fanlib run",
        description="Execute report notebooks into reports/<date>/ as offline HTML, with summaries and manifests.",
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
    return ap


def plan(args) -> tuple[list[Job], Path, Path]:
    """Validate everything and build the jobs; raises ParamError before any kernel starts."""
    from fanlib import params as P
    from fanlib.paths import project_root, resolve

    root = project_root()
    problems = []
    if args.date and not (_DATE.match(args.date) and _valid_date(args.date)):
        problems.append(f"--date {args.date!r}: expected YYYY-MM-DD")
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


def _valid_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
        return True
    except ValueError:
        return False


def _prune_and_reindex(out_dir: Path, keep: int, current: str) -> None:
    from fanlib import indexpages

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
    """``fanlib run <name>|all …``; exit 0 when every report is ok, 1 when one failed,
    2 for wrong parameters or options (printed without a traceback), 3 when another
    run is writing the same dated folder."""
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

    from fanlib import htmlexport

    inline = args.jobs <= 1 or len(jobs) <= 1
    if not inline:
        htmlexport.warm_up()
    fingerprints = BackgroundFingerprints([j.parameters.get("source") for j in jobs], warm_up_export=inline)
    context = {"versions": package_versions(), "git": git_state(jobs[0].root), "fingerprints_by_parent": True}
    for job in jobs:
        job.context = context
    command = "fanlib run " + " ".join(argv if argv is not None else sys.argv[1:])
    # The first report to pass the contract check records it here; the others of this run reuse it.
    from fanlib.validate import PASSED_DIR_ENV

    passed_dir = tempfile.mkdtemp(prefix="fanlib-run-checks-")
    previous = os.environ.get(PASSED_DIR_ENV)
    os.environ[PASSED_DIR_ENV] = passed_dir  # kernels inherit it
    try:
        with run_lock(date_dir, wait=args.wait, command=command):
            _progress(f"{len(jobs)} report(s) into {date_dir}")
            manifests = run_suite(jobs, workers=args.jobs, out_dir=out_dir, fingerprints=fingerprints)
    except RunLocked as exc:
        print(f"fanlib run: {exc}", file=sys.stderr)
        return EXIT_LOCKED
    finally:
        shutil.rmtree(passed_dir, ignore_errors=True)
        if previous is None:
            os.environ.pop(PASSED_DIR_ENV, None)
        else:
            os.environ[PASSED_DIR_ENV] = previous
    if args.keep is not None:
        _prune_and_reindex(out_dir, args.keep, date_dir.name)
    failed = [m["report"] for m in manifests if m.get("status") != "ok"]
    took = time.perf_counter() - t0
    index = date_dir / "index.html"
    if failed:
        _progress(f"{len(failed)} of {len(manifests)} failed ({', '.join(failed)}) in {took:.1f} s; see {index}")
        return 1
    _progress(f"all {len(manifests)} ok in {took:.1f} s; open {index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
