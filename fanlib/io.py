"""Writing files so that a reader never sees half of one, and turning results into JSON.

The one home of both for the whole package:

* :func:`write_atomic` writes bytes or text through a temporary file in the same folder
  (:func:`write_temp`: flushed and fsynced, with the permissions a new file would get under the current
  umask; reports are meant to be shared, and ``mkstemp`` alone makes them private), then renames it over
  the target. A full disk raises :class:`DiskFull`, which names the folder and the space needed and free,
  and leaves the old file as it was. The report runner stages a report's whole set of files with
  :func:`write_temp` before renaming any of them.
* :func:`atomic_target` does the same for writers that want a path (openpyxl, ``numpy.savez``,
  DuckDB, ``DataFrame.to_csv``): they write the temporary path, and it is renamed when the block ends
  without an error.
* :func:`to_jsonable` turns numpy, pandas, dates, sets and dataclasses into plain JSON values, with NaN
  and infinities as ``null``; :func:`json_text` and :func:`write_json_atomic` use it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import errno
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fanlib.errors import EXIT_FAILED, FanlibError

#: The errors of a write that ran out of space: no space left, or over the disk quota.
_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` says the disk (or the user's quota) is full."""
    return isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS


def human_bytes(n: float) -> str:
    """A size as people read it: 512 bytes, 4.9 KB, 1.2 GB."""
    for unit in ("bytes", "KB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def free_space(folder: str | os.PathLike) -> int | None:
    """The bytes free on the device holding ``folder`` (None when it cannot be read)."""
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


class DiskFull(FanlibError, OSError):
    """Writing into ``folder`` ran out of space; the message names the folder, what was being written,
    the space it needed (when known) and the space that is free. Nothing was replaced."""

    exit_code = EXIT_FAILED

    def __init__(self, folder: str | os.PathLike, needed: int | None = None, what: str = "the files") -> None:
        self.folder, self.needed = Path(folder), needed
        free = free_space(folder)
        has = f"{human_bytes(free)} is free" if free is not None else "the free space is unknown"
        need = f"{what} need {human_bytes(needed)}, " if needed is not None else f"{what} could not be written, "
        self.message = (
            f"no space left on the device holding {folder}: {need}{has}. Nothing was replaced; "
            f"free some space and run again"
        )
        super().__init__(errno.ENOSPC, self.message)

    def __str__(self) -> str:
        return self.message


def _shared_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_temp(folder: Path, name: str, raw: bytes) -> Path:
    """``raw`` in a fsynced temporary file beside ``folder/name``, with a new file's permissions under the
    current umask; removed again if writing fails. Renaming it over ``folder/name`` is the caller's."""
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _shared_mode())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return Path(tmp)


def _fsync(path: Path) -> None:
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


@contextlib.contextmanager
def atomic_target(path: str | os.PathLike, *, suffix: str = "") -> Iterator[Path]:
    """A temporary path beside ``path``; renamed over ``path`` when the block ends without an error.

    ``suffix`` keeps a file extension on the temporary name for writers that choose a format by it
    (``numpy.savez`` adds ``.npz`` to a name without one)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        tmp = write_temp(path.parent, path.name, b"")
    except OSError as exc:
        if is_disk_full(exc):
            raise DiskFull(path.parent, what=path.name) from None
        raise
    if suffix:
        tmp = tmp.rename(tmp.with_name(tmp.name + suffix))
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if is_disk_full(exc):
            raise DiskFull(path.parent, what=path.name) from None
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(path: str | os.PathLike, data: str | bytes) -> Path:
    """Write ``data`` (text as UTF-8) to ``path`` so that readers see the old file or the whole new one;
    a full disk raises :class:`DiskFull` and leaves the old file as it was."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        tmp = write_temp(path.parent, path.name, raw)
    except OSError as exc:
        if is_disk_full(exc):
            raise DiskFull(path.parent, len(raw), path.name) from None
        raise
    os.replace(tmp, path)
    return path


def to_jsonable(value: Any) -> Any:
    """Convert numpy/pandas/datetime values into plain JSON types; NaN and inf become None."""
    import numpy as np
    import pandas as pd

    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):  # a set's order changes from one process to the next
        return sorted((to_jsonable(v) for v in value), key=lambda v: (str(type(v)), str(v)))
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return to_jsonable(float(value))
    if isinstance(value, np.ndarray):
        return [to_jsonable(v) for v in value.tolist()]
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.isoformat()
    if isinstance(value, pd.DataFrame):
        return [to_jsonable(r) for r in value.to_dict(orient="records")]
    if isinstance(value, pd.Series):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if value is pd.NaT or (not isinstance(value, (list, dict)) and pd.api.types.is_scalar(value) and pd.isna(value)):
        return None
    if hasattr(value, "to_dict"):
        return to_jsonable(value.to_dict())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(dataclasses.asdict(value))
    return str(value)


def json_text(obj: Any, *, trailing_newline: bool = True) -> str:
    """``obj`` as indented UTF-8 JSON (through :func:`to_jsonable`; NaN is never written)."""
    text = json.dumps(to_jsonable(obj), ensure_ascii=False, indent=2, allow_nan=False)
    return text + "\n" if trailing_newline else text


def write_json_atomic(path: str | os.PathLike, obj: Any, *, trailing_newline: bool = True) -> Path:
    """Write ``obj`` as JSON atomically (see :func:`json_text`)."""
    return write_atomic(path, json_text(obj, trailing_newline=trailing_newline))
