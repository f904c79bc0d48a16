"""The run lock of a dated folder, and ``--keep`` pruning of old dated folders.

A run holds ``reports/<date>/.run.lock`` (``fcntl.flock``) while it writes, so two overlapping runs
never write the same dated folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

from fanlib.errors import EXIT_LOCKED, FanlibError
from fanlib.reports.layout import DATE_PATTERN, RunFolder


def valid_day(text: str) -> bool:
    """Whether ``text`` names a dated folder: YYYY-MM-DD, and a real day."""
    if not DATE_PATTERN.match(text):
        return False
    try:
        date.fromisoformat(text)
        return True
    except ValueError:
        return False


# --------------------------------------------------------------------------- run lock and pruning


class RunLocked(FanlibError, RuntimeError):
    """Another run holds the dated folder."""

    exit_code = EXIT_LOCKED


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


class _Busy(FanlibError):
    """Another process holds the lock; ``args[0]`` describes it."""


def _acquire(folder: Path, *, wait: float = 0.0, create_folder: bool = True) -> int | None:
    """An fd holding ``folder/.run.lock`` exclusively; :class:`_Busy` when another process holds it for
    longer than ``wait`` seconds; None when ``create_folder`` is false and the folder is gone. The lock
    file may be deleted by the holder as it finishes (or the folder pruned), so the lock counts only if
    the file we locked is still the one at the path."""
    import fcntl

    deadline = time.monotonic() + wait
    path = RunFolder(folder).lock
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
        os.unlink(RunFolder(folder).lock)
    os.close(fd)


@contextlib.contextmanager
def run_lock(date_dir: Path, *, wait: float = 0.0, command: str = "") -> Iterator[Path]:
    """Hold ``date_dir/.run.lock`` for a run; :class:`RunLocked` names the holder if another run keeps
    it for more than ``wait`` seconds."""
    date_dir = Path(date_dir)
    try:
        fd = _acquire(date_dir, wait=wait)
    except _Busy as busy:
        raise RunLocked(
            f"{date_dir} is being written by another run ({busy.args[0]}); waited {wait:g} s. "
            f"Two runs never write the same dated folder: wait for it to finish, pass --wait SECONDS, "
            f"or choose another --date / --out"
        ) from None
    try:
        os.ftruncate(fd, 0)
        os.pwrite(
            fd,
            json.dumps(
                {
                    "pid": os.getpid(),
                    "started_at": datetime.now().astimezone().isoformat(timespec="seconds"),
                    "command": command,
                }
            ).encode(),
            0,
        )
        yield date_dir
    finally:
        _release(fd, date_dir)


def dated_folders(reports_dir: Path) -> list[Path]:
    """The run folders (named YYYY-MM-DD, a real date) under ``reports_dir``, oldest first."""
    reports_dir = Path(reports_dir)
    if not reports_dir.is_dir():
        return []
    return sorted(
        (p for p in reports_dir.iterdir() if p.is_dir() and not p.is_symlink() and valid_day(p.name)),
        key=lambda p: p.name,
    )


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
            trash = RunFolder(folder).pruned(os.getpid())
            try:
                os.rename(folder, trash)
            except FileNotFoundError:
                continue
            shutil.rmtree(trash, ignore_errors=True)
            removed.append(folder.name)
        finally:
            os.close(fd)
    return {"removed": removed, "locked": locked}
