"""A stopped run cleans up: stop signals, the run's processes, its scratch folder and staged files.

``fanlib run`` may be stopped by SIGTERM (cron, systemd, Airflow), by Ctrl-C (SIGINT to its process
group) or by SIGHUP. The parent then stops its pool workers and their kernels, removes what the run
staged, writes what is true into the index, releases the run lock and exits 128 + the signal number
(143 for SIGTERM, 130 for Ctrl-C). Pool workers ignore Ctrl-C (the parent decides) and die with the
parent even when it is killed outright (Linux ``PR_SET_PDEATHSIG``).

Every run gets a private scratch folder, ``$TMPDIR/fanlib-run-<pid>-*``, which its kernels see as
their ``TMPDIR`` (so the data layer's scratch DuckDB and spill files land there) and which is removed
when the run ends, however it ends. The folder's ``.owner`` file stays locked (``flock``) while the
run lives: the next run removes the folders of dead runs only, never a live run's.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import fanlib.io
from fanlib.errors import StopSignal
from fanlib.io import DiskFull, free_space, human_bytes, is_disk_full
from fanlib.reports.layout import LOCK_NAME, OLD_EXPORTS, PRUNED, SCRATCH_SUFFIX

#: The signals that stop a run, and each one's exit code is 128 + its number.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
#: Seconds a stopped process gets to exit before it is killed.
STOP_GRACE_S = 5.0
SCRATCH_PREFIX = "fanlib-run-"
OWNER_FILE = ".owner"
#: A scratch folder without its owner file (being created) is left alone this long.
YOUNG_S = 120.0


class RunStopped(StopSignal):
    """A stop signal reached the run's parent. A BaseException (:class:`fanlib.errors.StopSignal`), so
    that no ``except Exception`` in the report code mistakes it for a report's failure."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.signame = signal.Signals(signum).name
        self.stopped: list[str] = []  # reports that were running
        self.not_started: list[str] = []
        super().__init__(self.signame)


# --------------------------------------------------------------------------- signals

_state = {"deferred": 0, "pending": None, "stopping": False, "worker": False}


def _on_stop(signum: int, frame: FrameType | None) -> None:
    if _state["stopping"]:
        return  # a second signal while the run cleans up: the cleanup finishes first
    if _state["deferred"]:
        _state["pending"] = signum
        return
    _stop_now(signum)


def _stop_now(signum: int) -> None:
    if _state["worker"]:
        os._exit(128 + signum)  # the parent removes what this worker staged
    _state["stopping"] = True
    # the kernels die with the run: nbclient's kernel-watch task then fails on its own, and asyncio would
    # print that task's traceback as the event loop closes; the run says it stopped in one line instead
    import logging

    logging.getLogger("asyncio").setLevel(logging.CRITICAL + 1)
    raise RunStopped(signum)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Inside, a stop signal raises :class:`RunStopped` in the main thread (outside the main thread,
    where Python cannot install handlers, nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, _on_stop) for s in STOP_SIGNALS}
    _state.update(stopping=False, pending=None)
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        _state.update(stopping=False, pending=None)


@contextlib.contextmanager
def deferred_stop() -> Iterator[None]:
    """A stop signal arriving inside waits until the block is done, so a report's files are
    replaced as a set, never half."""
    _state["deferred"] += 1
    try:
        yield
    finally:
        _state["deferred"] -= 1
        if not _state["deferred"] and _state["pending"] is not None:
            signum, _state["pending"] = _state["pending"], None
            _stop_now(signum)


def worker_started(parent_pid: int) -> None:
    """Initializer of the run's pool workers: Ctrl-C is the parent's to handle, SIGTERM ends the
    worker (after any file replacement under way), and the worker dies with its parent."""
    _state.update(deferred=0, pending=None, stopping=False, worker=True)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _on_stop)
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    if os.getppid() != parent_pid:  # the parent died before the line above
        os._exit(128 + signal.SIGTERM)


# --------------------------------------------------------------------------- processes


def child_pids() -> set[int]:
    """Every descendant of this process."""
    import psutil

    with contextlib.suppress(psutil.Error):
        return {p.pid for p in psutil.Process().children(recursive=True)}
    return set()


def stop_descendants(keep: set[int] = frozenset(), grace: float = STOP_GRACE_S) -> list[int]:
    """Stop every descendant of this process not in ``keep`` (the pool workers and the kernels
    they started in sessions of their own): SIGTERM, then SIGKILL after ``grace`` seconds. The
    whole tree is listed before any process is signalled, since a dead worker's kernel is no
    longer its child. Returns the pids stopped."""
    import psutil

    try:
        procs = [p for p in psutil.Process().children(recursive=True) if p.pid not in keep]
    except psutil.Error:
        return []
    for p in procs:
        with contextlib.suppress(psutil.Error):
            p.terminate()
    _, alive = psutil.wait_procs(procs, timeout=grace)
    for p in alive:
        with contextlib.suppress(psutil.Error):
            p.kill()
    psutil.wait_procs(alive, timeout=grace)
    return [p.pid for p in procs]


# --------------------------------------------------------------------------- the run's scratch folder


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def run_scratch(command: str = "") -> Iterator[Path]:
    """A private scratch folder for this run: it becomes ``TMPDIR`` (and the Jupyter runtime folder,
    where kernel connection files go) for the run's workers and kernels, and is removed at the end."""
    base = tempfile.gettempdir()
    path = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-", dir=base))
    fd = os.open(path / OWNER_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    import fcntl

    fcntl.flock(fd, fcntl.LOCK_EX)
    os.write(fd, json.dumps({"pid": os.getpid(), "command": command}).encode())
    (path / "jupyter").mkdir()
    saved_env = {k: os.environ.get(k) for k in ("TMPDIR", "JUPYTER_RUNTIME_DIR")}
    saved_tempdir = tempfile.tempdir
    os.environ["TMPDIR"] = str(path)
    os.environ["JUPYTER_RUNTIME_DIR"] = str(path / "jupyter")
    tempfile.tempdir = str(path)
    try:
        yield path
    finally:
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        tempfile.tempdir = saved_tempdir
        shutil.rmtree(path, ignore_errors=True)
        os.close(fd)


def _scratch_owner_alive(folder: Path) -> bool:
    import fcntl

    try:
        fd = os.open(folder / OWNER_FILE, os.O_RDWR)
    except FileNotFoundError:
        m = re.match(rf"^{SCRATCH_PREFIX}(\d+)-", folder.name)
        young = time.time() - folder.stat().st_mtime < YOUNG_S
        return young or (m is not None and _pid_alive(int(m.group(1))))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def sweep_scratch(base: str | os.PathLike | None = None) -> list[str]:
    """Remove the scratch folders of runs that are no longer running (their owner file is not
    locked) from ``base`` (default: the temp folder); returns their names."""
    base = Path(base or tempfile.gettempdir())
    removed = []
    for folder in sorted(base.glob(f"{SCRATCH_PREFIX}*")):
        try:
            if folder.is_symlink() or not folder.is_dir() or folder.stat().st_uid != os.geteuid():
                continue
            if _scratch_owner_alive(folder):
                continue
        except OSError:  # gone meanwhile, or not ours to read
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder.name)
    return removed


# --------------------------------------------------------------------------- staged files


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def sweep_date_folder(date_dir: Path) -> list[str]:
    """Remove what interrupted runs left in a dated folder: staging folders and temp files
    (``.*.tmp``); exports set aside while being replaced (``.<name>.old.<pid>``) go back in place
    if the replacement never arrived. Call it only while holding the folder's run lock: then no
    other run writes there. Returns the names removed."""
    removed = []
    if not Path(date_dir).is_dir():
        return removed
    for path in sorted(Path(date_dir).iterdir()):
        name = path.name
        if not name.startswith(".") or name == LOCK_NAME:
            continue
        old = OLD_EXPORTS.match(name)
        if old and path.is_dir() and not (path.parent / old["final"]).exists():
            os.replace(path, path.parent / old["final"])  # the last good exports, restored
        elif old or name.endswith(SCRATCH_SUFFIX):
            _remove(path)
            removed.append(name)
    return removed


def sweep_pruned(reports_dir: Path) -> list[str]:
    """Remove dated folders that an interrupted ``--keep`` had renamed for deletion; a pruning run
    holds the lock inside such a folder, so a locked one is left to it."""
    import fcntl

    removed = []
    if not Path(reports_dir).is_dir():
        return removed
    for path in sorted(Path(reports_dir).iterdir()):
        if not PRUNED.match(path.name) or not path.is_dir():
            continue
        try:
            fd = os.open(path / LOCK_NAME, os.O_RDWR)
        except FileNotFoundError:
            fd = None
        try:
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue
        finally:
            if fd is not None:
                os.close(fd)
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path.name)
    return removed


# --------------------------------------------------------------------------- disk full


def stage_set(folder: Path, files: dict[str, bytes], what: str = "") -> list[tuple[Path, Path]]:
    """Write ``files`` (name → bytes) to temp files in ``folder``; :func:`commit_set` then renames them
    into place. On a full disk nothing is left behind, and :class:`fanlib.io.DiskFull` names the folder
    and the space the whole set needs. Each file is written by :func:`fanlib.io.write_temp`, the one
    writer of every atomic file."""
    folder = Path(folder)
    staged: list[tuple[Path, Path]] = []
    try:
        for name, raw in files.items():
            staged.append((fanlib.io.write_temp(folder, name, raw), folder / name))
    except BaseException as exc:
        for tmp, _ in staged:
            with contextlib.suppress(OSError):
                tmp.unlink()
        if is_disk_full(exc):
            raise DiskFull(folder, sum(len(r) for r in files.values()), what or "the files") from None
        raise
    return staged


def commit_set(staged: list[tuple[Path, Path]]) -> None:
    """Rename staged files into place, in order (renames need no space)."""
    for tmp, final in staged:
        os.replace(tmp, final)


def explain_disk_full(error: dict, folders: list[Path]) -> dict:
    """A report's error from a full disk (inside the kernel), with the free space of the folders it
    writes to added, since the kernel's own message names no folder."""
    text = f"{error.get('ename')}: {error.get('evalue')}"
    if "No space left on device" not in text and "[Errno 28]" not in text:
        return error
    free = ", ".join(f"{human_bytes(f)} free in {d}" for d in folders if (f := free_space(d)) is not None)
    return dict(
        error,
        evalue=f"{error.get('evalue')} (no space left on the device; {free}). Free some space and run the report again",
    )
