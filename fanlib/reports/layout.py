"""Every file name of a dated report folder, in one place.

``fanlib run`` writes into ``reports/<date>/``; for each report ``<name>``:

* ``<name>.html`` (the stakeholder page, no code) and ``<name>.analyst.html`` (with code);
* ``<name>.ipynb``, the executed notebook; ``<name>.summary.json``, its headline figures;
* ``<name>.manifest.json``: parameters, data source and fingerprint, versions, timings and status;
* ``<name>_files/``, what the report exported (lists, workbooks).

A failed report writes the same set under ``<name>.failed`` (``<name>.failed.html``,
``<name>.failed.manifest.json``, ``<name>.failed_files/``, …) and never touches the last good one. The
folder also holds ``index.html`` (the day's reports), the run lock ``.run.lock`` while a run writes, and,
briefly, the hidden scratch names a run stages files under. The reports folder above holds
``index.html``, the page of every dated run.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

#: The page of a dated folder, and of the reports folder above it.
INDEX_NAME = "index.html"
#: The lock file a run holds in its dated folder while it writes.
LOCK_NAME = ".run.lock"
#: What a failed report's files carry after the report's name.
FAILED_MARK = ".failed"
#: The files of a failed report, after ``<name>.failed``; they never replace the last good report's.
FAILED_SET = (".html", ".analyst.html", ".ipynb", ".summary.json", ".manifest.json")
SUMMARY_SUFFIX = ".summary.json"
MANIFEST_SUFFIX = ".manifest.json"
#: A dated folder's name: a day, YYYY-MM-DD.
DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: Exports set aside while a report's new exports take their place: ``.<name>_files.old.<pid>``.
OLD_EXPORTS = re.compile(r"^\.(?P<final>.+)\.old\.\d+$")
#: A dated folder renamed by ``--keep`` on its way out: ``.<date>.pruned.<pid>``.
PRUNED = re.compile(r"^\.\d{4}-\d{2}-\d{2}\.pruned\.\d+$")
#: Files a run stages are hidden and end so; whatever an interrupted run left of them is removed.
SCRATCH_SUFFIX = ".tmp"
#: A staged name: ``.<final name>.<token>.tmp`` (the token: the worker's pid and a clock reading).
_SCRATCH = re.compile(r"^\.(?P<final>.+)\.(?P<token>\d+-\d+)" + re.escape(SCRATCH_SUFFIX) + "$")


@dataclass(frozen=True)
class ReportFiles:
    """The file names of one report's set: ``stem`` is the report's name, or ``<name>.failed``."""

    stem: str

    @property
    def html(self) -> str:
        return f"{self.stem}.html"

    @property
    def analyst_html(self) -> str:
        return f"{self.stem}.analyst.html"

    @property
    def notebook(self) -> str:
        return f"{self.stem}.ipynb"

    @property
    def summary(self) -> str:
        return f"{self.stem}{SUMMARY_SUFFIX}"

    @property
    def manifest(self) -> str:
        return f"{self.stem}{MANIFEST_SUFFIX}"

    @property
    def exports(self) -> str:
        """The exports folder's name (without the trailing slash links give it)."""
        return f"{self.stem}_files"


class RunFolder:
    """A dated report folder, ``reports/<date>/``, and the names of everything in it."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    @property
    def date(self) -> str:
        return self.path.name

    @property
    def index(self) -> Path:
        """The day's page of reports."""
        return self.path / INDEX_NAME

    @property
    def lock(self) -> Path:
        return self.path / LOCK_NAME

    @staticmethod
    def good(name: str) -> ReportFiles:
        """The names of a report's good set (what a successful run writes)."""
        return ReportFiles(name)

    @staticmethod
    def failed(name: str) -> ReportFiles:
        """The names of a report's failed set."""
        return ReportFiles(f"{name}{FAILED_MARK}")

    @classmethod
    def files(cls, name: str, *, ok: bool) -> ReportFiles:
        return cls.good(name) if ok else cls.failed(name)

    def file(self, name: str) -> Path:
        """A file of this folder by its name (as :class:`ReportFiles` gives it)."""
        return self.path / name

    def manifest(self, name: str, *, ok: bool = True) -> Path:
        return self.path / self.files(name, ok=ok).manifest

    def summary(self, name: str, *, ok: bool = True) -> Path:
        return self.path / self.files(name, ok=ok).summary

    def html(self, name: str, *, ok: bool = True) -> Path:
        return self.path / self.files(name, ok=ok).html

    def exports(self, name: str, *, ok: bool = True) -> Path:
        return self.path / self.files(name, ok=ok).exports

    def failed_leftovers(self, name: str) -> list[Path]:
        """Every file a failed run of ``name`` may have left (its exports folder apart)."""
        return [self.path / f"{name}{FAILED_MARK}{suffix}" for suffix in FAILED_SET]

    def report_names(self) -> set[str]:
        """The reports with a manifest (good or failed) in this folder."""
        failed_manifest = f"{FAILED_MARK}{MANIFEST_SUFFIX}"
        names = set()
        for p in self.path.glob(f"*{MANIFEST_SUFFIX}"):
            suffix = failed_manifest if p.name.endswith(failed_manifest) else MANIFEST_SUFFIX
            names.add(p.name[: -len(suffix)])
        return names

    def summary_scratch(self, name: str, token: str) -> Path:
        """Where a running report's notebook writes its summary, before the runner files it."""
        return self.path / f".{name}{SUMMARY_SUFFIX}.{token}{SCRATCH_SUFFIX}"

    def exports_staging(self, name: str, token: str) -> Path:
        """Where a running report's notebook writes its exports, before they replace the last ones."""
        return self.path / f".{name}_files.{token}{SCRATCH_SUFFIX}"

    @staticmethod
    def set_aside(final: Path, pid: int) -> Path:
        """The name a report's old exports folder has while the new one takes its place."""
        return final.with_name(f".{final.name}.old.{pid}")

    def pruned(self, pid: int) -> Path:
        """The hidden name this folder has while ``--keep`` deletes it."""
        return self.path.with_name(f".{self.path.name}.pruned.{pid}")


def filed_path(path: str | os.PathLike) -> Path:
    """Where a file a report writes ends up: under ``fanlib run`` a notebook writes its summary and exports
    under staged names (:meth:`RunFolder.summary_scratch`), which the runner renames once the report is
    done; this is the name they get then. Any other path is its own."""
    path = Path(path)
    m = _SCRATCH.match(path.name)
    return path.with_name(m["final"]) if m else path


def root_index(reports_dir: str | os.PathLike) -> Path:
    """The page of every dated run, in the reports folder."""
    return Path(reports_dir) / INDEX_NAME
