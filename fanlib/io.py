"""Writing files so that a reader never sees half of one, and turning results into JSON.

The one home of both for the whole package:

* :func:`write_atomic` writes bytes or text through a temporary file in the same folder, flushes and
  fsyncs it, gives it the permissions a new file would get under the current umask (reports are meant
  to be shared; ``mkstemp`` alone makes them private), then renames it over the target. A full disk
  raises :class:`DiskFull` and leaves the old file as it was.
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
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fanlib.errors import FanlibError


class DiskFull(FanlibError, OSError):
    """The disk filled up while a file was written; nothing already written was replaced."""

    exit_code = 1

    def __init__(self, path: str | os.PathLike, cause: OSError | None = None) -> None:
        self.path = Path(path)
        free = _free_bytes(self.path.parent)
        where = f" ({free / 1e6:.1f} MB free)" if free is not None else ""
        super().__init__(errno.ENOSPC, f"the disk is full: {self.path} could not be written{where}")
        self.__cause__ = cause


def _free_bytes(folder: Path) -> int | None:
    try:
        return os.statvfs(folder).f_bavail * os.statvfs(folder).f_frsize
    except OSError:
        return None


def _shared_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _temp_beside(path: Path) -> Path:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    os.chmod(tmp, _shared_mode())
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
    tmp = _temp_beside(path)
    if suffix:
        tmp = tmp.rename(tmp.with_name(tmp.name + suffix))
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.errno == errno.ENOSPC:
            raise DiskFull(path, exc) from exc
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(path: str | os.PathLike, data: str | bytes) -> Path:
    """Write ``data`` (text as UTF-8) to ``path`` so that readers see the old file or the whole new one."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    path = Path(path)
    with atomic_target(path) as tmp:
        tmp.write_bytes(raw)
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
