"""Record every result an engine hands to Python, to prove what a report pulls into memory.

``FanData.execute`` counts what goes through it; this goes one level lower and
wraps the ibis backends' own doors into Python (``execute``, ``to_pyarrow``,
``to_pyarrow_batches``, ``to_pandas``, …), so a step that bypasses
``FanData`` is caught too. Each outermost call appends one JSON line to a log:
``{"pid", "backend", "method", "rows", "columns"}``.

To audit a whole report run, put a ``sitecustomize.py`` holding
``install_from_env()`` on ``PYTHONPATH`` and set ``FANLIB_AUDIT_LOG``: the
runner's kernels inherit both (see ``sitecustomize_source``).
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import threading
from pathlib import Path

ENV_VAR = "FANLIB_AUDIT_LOG"
#: The backend methods that return data to Python.
METHODS = ("execute", "to_pyarrow", "to_pyarrow_batches", "to_pandas", "to_pandas_batches", "to_polars")
_state = threading.local()
_lock = threading.Lock()


def _rows(result) -> int | None:
    if hasattr(result, "num_rows"):  # pyarrow Table
        return int(result.num_rows)
    if hasattr(result, "shape") and getattr(result, "ndim", 0) >= 1:  # pandas / polars / numpy
        return int(result.shape[0])
    return 1  # a scalar


def _columns(result) -> list[str]:
    if hasattr(result, "column_names"):
        return [str(c) for c in result.column_names]
    if hasattr(result, "columns"):
        return [str(c) for c in result.columns]
    name = getattr(result, "name", None)
    return [str(name)] if isinstance(name, str) else []


def _write(log: Path, entry: dict) -> None:
    line = json.dumps(entry, ensure_ascii=False) + "\n"
    with _lock, open(log, "a", encoding="utf-8") as f:
        f.write(line)


def _counted_reader(reader, log: Path, entry: dict):
    """The same Arrow batch reader; logs the rows it yielded once it is exhausted."""
    import pyarrow as pa

    def batches():
        rows = 0
        try:
            for batch in reader:
                rows += batch.num_rows
                yield batch
        finally:
            _write(log, dict(entry, rows=rows))

    return pa.RecordBatchReader.from_batches(reader.schema, batches())


def _wrap(method, name: str, backend: str, log: Path):
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        depth = getattr(_state, "depth", 0)
        _state.depth = depth + 1
        try:
            result = method(self, *args, **kwargs)
        finally:
            _state.depth = depth
        if depth:  # an inner call of an outer one already being recorded
            return result
        entry = {"pid": os.getpid(), "backend": backend, "method": name}
        if name.endswith("batches"):
            if hasattr(result, "schema") and hasattr(result, "read_next_batch"):
                return _counted_reader(result, log, dict(entry, columns=list(result.schema.names)))
            _write(log, dict(entry, rows=None, columns=[]))
            return result
        _write(log, dict(entry, rows=_rows(result), columns=_columns(result)))
        return result

    wrapper.__fanlib_audit__ = True
    return wrapper


def _subclasses(cls) -> list[type]:
    out = [cls]
    for sub in cls.__subclasses__():
        out += _subclasses(sub)
    return out


def record_materialisations(log: str | Path, backends: tuple[str, ...] = ("duckdb", "postgres")) -> Path:
    """Wrap the data-returning methods of every loaded ibis backend so each call logs to ``log``.

    ``backends`` are imported first so that their classes exist; backends
    imported later are not covered (name them here).
    """
    import ibis.backends as B

    log = Path(log)
    log.parent.mkdir(parents=True, exist_ok=True)
    for name in backends:
        importlib.import_module(f"ibis.backends.{name}")
    for cls in _subclasses(B.BaseBackend):
        backend = getattr(cls, "name", cls.__name__)
        for method in METHODS:
            current = cls.__dict__.get(method)
            if callable(current) and not getattr(current, "__fanlib_audit__", False):
                setattr(cls, method, _wrap(current, method, str(backend), log))
    return log


def install_from_env() -> None:
    """Start recording if ``FANLIB_AUDIT_LOG`` names a log file (for ``sitecustomize``)."""
    log = os.environ.get(ENV_VAR)
    if log:
        backends = tuple(b for b in os.environ.get("FANLIB_AUDIT_BACKENDS", "duckdb,postgres").split(",") if b)
        record_materialisations(log, backends)


def sitecustomize_source() -> str:
    """The body of a ``sitecustomize.py`` that audits every Python process started with it on the path."""
    return "from fanlib.data.audit import install_from_env\ninstall_from_env()\n"


def read_log(log: str | Path) -> list[dict]:
    """The entries of an audit log, oldest first."""
    path = Path(log)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
