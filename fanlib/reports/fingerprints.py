"""The data fingerprint each report's manifest records, read as the report reads its data.

A fingerprint covers row counts, time ranges and the contract schema (:meth:`fanlib.data.fandata.FanData.fingerprint`);
time ranges depend on the time zone the data is read in and the columns on the mapping, so it is computed
with the report's own ``timezone`` and ``mapping`` parameters, once per distinct (source, zone, mapping).
"""

from __future__ import annotations

import contextlib
import json
import threading
from typing import Any

from fanlib.io import write_json_atomic


def data_fingerprint(source: str | None, *, timezone: str | None = None, mapping: dict | None = None) -> dict:
    """``{"fingerprint": …, "error": …}`` for a data source, read as the report reads it (its ``timezone``
    and column ``mapping``: time ranges depend on the zone); errors are recorded, never raised."""
    if not source:
        return {"fingerprint": None, "error": "the notebook has no source parameter"}
    try:
        from fanlib.data.fandata import connect

        fd = connect(source, mapping=mapping, validate=False, **({"timezone": timezone} if timezone else {}))
        try:
            fingerprint = str(fd.fingerprint())
        finally:
            with contextlib.suppress(Exception):  # release the database before workers fork, drop any scratch copy
                fd.close()
        return {"fingerprint": fingerprint, "error": None}
    except Exception as exc:  # a broken source must still leave a manifest behind
        return {"fingerprint": None, "error": f"{type(exc).__name__}: {exc}"}


def source_key(parameters: dict) -> tuple:
    """What a report's data fingerprint depends on: its source, time zone and column mapping."""
    mapping = parameters.get("mapping")
    return (
        parameters.get("source"),
        parameters.get("timezone"),
        json.dumps(mapping, sort_keys=True, default=str) if mapping is not None else None,
    )


def fingerprint_of(key: tuple) -> dict:
    """The fingerprint for a :func:`source_key`."""
    source, timezone, mapping = key
    return data_fingerprint(source, timezone=timezone, mapping=json.loads(mapping) if mapping else None)


class BackgroundFingerprints:
    """Data fingerprints computed in a thread of the parent while the first reports run.

    Counting rows and time ranges takes about a second, which would otherwise sit
    in front of every run. The thread starts only once the worker processes are
    forked (a fork while a thread runs could copy a held lock). ``record`` adds
    the fingerprint to a finished report's manifest and rewrites the file.
    """

    def __init__(self, sources: list[tuple], *, warm_up_export: bool = False) -> None:
        self.sources = list(dict.fromkeys(sources))  # source_key() of each report
        self.warm_up_export = warm_up_export
        self.results: dict = {}
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start computing (once the workers are forked)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._compute, name="fanlib-fingerprints", daemon=True)
            self._thread.start()

    def _compute(self) -> None:
        if self.warm_up_export:  # reports in this process export after the thread is done with this
            from fanlib.reports import htmlexport

            with contextlib.suppress(Exception):
                htmlexport.warm_up()
        for key in self.sources:
            self.results[key] = fingerprint_of(key)

    def get(self, key: tuple) -> dict:
        """The fingerprint for ``key``, waiting for the thread if it is still counting."""
        self.start()
        self._thread.join()
        return self.results.get(key) or fingerprint_of(key)

    def record(self, manifest: dict, job: Any) -> dict:
        """Add the fingerprint to a finished report's manifest (a :class:`fanlib.reports.execute.Job`'s)
        and rewrite its file."""
        src = manifest.get("source")
        if not isinstance(src, dict) or src.get("fingerprint") is not None or src.get("error") is not None:
            return manifest
        src.update(self.get(source_key(job.parameters)))
        name = (manifest.get("files") or {}).get("manifest")
        if name:
            with contextlib.suppress(OSError):
                write_json_atomic(job.date_dir / name, manifest)
        return manifest
