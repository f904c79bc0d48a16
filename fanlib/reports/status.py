"""One status per report, read from the report's own summary: ``ok``, ``partial`` or ``failed``.

A report says in its summary JSON whether it gave its answer: ``ok``; ``partial`` when named sections
could not be produced (``sections_failed``) but the main answer was given; ``failed`` when the main answer
could not be given (data that fails the contract, an unreadable source, a refused A/B readout). The runner
reads that status once, after the notebook ran, and records it in the manifest; the index pages and the
exit code read the manifest. A notebook that raises, or finishes without writing a summary, is ``failed``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

STATUSES = ("ok", "partial", "failed")
#: The ``ename`` of a manifest's error when the report's own summary says it failed.
COULD_NOT_ANSWER = "could not answer"
#: The ``ename`` of a report whose files did not fit on the disk, and of one a stop signal interrupted.
DISK_FULL = "disk full"
STOPPED = "stopped"
#: The runner's own outcomes whose text speaks for itself ("SummaryError": manifests of earlier versions).
OWN_OUTCOMES = frozenset({DISK_FULL, STOPPED, "SummaryError"})
#: Exit codes of ``fanlib run`` by the worst status (``--strict``: partial counts as failed).
EXIT_OK, EXIT_FAILED = 0, 1


@dataclass(frozen=True)
class ReportStatus:
    """What a report's summary says about it: ``status``, the ``sections`` it could not produce
    (partial, or failed) and, when it failed, the ``reason`` in the report's words."""

    status: str
    sections: list[str] = field(default_factory=list)
    reason: str | None = None


def _texts(value) -> list[str]:
    if isinstance(value, dict):
        return [str(k) for k in value]
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value if v not in (None, "")]
    return []


def _contract_reason(problems: list) -> str | None:
    """Data overview style: the contract problems as "table.column: check", the first few of them."""
    shown = []
    for p in problems:
        if isinstance(p, dict):
            where = ".".join(str(p[k]) for k in ("table", "column") if p.get(k))
            shown.append(f"{where}: {p.get('check')}" if where else str(p.get("check")))
    if not shown:
        return None
    more = f"; and {len(shown) - 3} more" if len(shown) > 3 else ""
    noun = "problem" if len(shown) == 1 else "problems"
    return f"the data fails the contract ({len(shown)} {noun}): " + "; ".join(shown[:3]) + more


def from_summary(summary: dict) -> ReportStatus:
    """The status a report's summary declares. A status outside ``STATUSES`` is ``failed``, naming it,
    so a misspelt status never passes as a good report."""
    status = summary.get("status", "ok")
    sections = _texts(summary.get("sections_failed")) or _texts(summary.get("missing_sections"))
    if status in ("ok", "partial"):
        return ReportStatus(status, sections if status == "partial" else [])
    if status != "failed":
        return ReportStatus("failed", sections, f"its summary's status {status!r} is not one of {', '.join(STATUSES)}")
    reason = next((str(summary[k]) for k in ("reason", "error") if summary.get(k)), None)
    if reason is None and isinstance(summary.get("problems"), list):
        reason = _contract_reason(summary["problems"])
    if reason is None and sections:
        reason = "sections not produced: " + ", ".join(sections)
    return ReportStatus("failed", sections, reason or "its summary says it could not give its answer")


def summary_error(verdict: ReportStatus) -> dict:
    """A manifest's ``error`` for a report whose summary says it failed (no cell raised)."""
    return {
        "cell_index": None,
        "execution_count": None,
        "ename": COULD_NOT_ANSWER,
        "evalue": verdict.reason,
        "traceback": [],
        "from_summary": True,
    }


def manifest_status(manifest: dict) -> str:
    """A manifest's status; anything but ok or partial (a stopped or crashed report too) is failed."""
    status = manifest.get("status")
    return status if status in ("ok", "partial") else "failed"


def exit_code(manifests: list[dict], *, strict: bool = False) -> int:
    """1 when a report failed (or, ``strict``, is partial), else 0."""
    bad = {"failed", "partial"} if strict else {"failed"}
    return EXIT_FAILED if any(manifest_status(m) in bad for m in manifests) else EXIT_OK


# --------------------------------------------------------------------------- what went wrong, in words


def failure_place(error: dict) -> str:
    """Where a report failed, as the reader sees it in the notebook: "In [6]"."""
    if error.get("execution_count") is not None:
        return f"In [{error['execution_count']}]"
    if error.get("cell_index") is not None:
        return f"cell {error['cell_index']}"
    return ""


def speaks_for_itself(ename: str) -> bool:
    """Whether an error's text is written for people, so that a class name would only get in the way:
    fanlib's input errors (:func:`fanlib.errors.input_error_names`) and the runner's own outcomes."""
    from fanlib.errors import input_error_names

    return not ename or ename in OWN_OUTCOMES or ename in input_error_names()


def error_text(error: dict, for_stakeholders: bool = False) -> str:
    """What went wrong, for the run log (``for_stakeholders=False``) or an index page: an input error
    speaks for itself; an unexpected one is named only in the log, never on a stakeholder's page."""
    ename, evalue = error.get("ename") or "", error.get("evalue") or ""
    if speaks_for_itself(ename):
        return evalue
    if " " in ename:  # the runner's own words ("could not answer", "no summary"), not a class name
        return f"{ename}: {evalue}"
    if for_stakeholders:
        return f"报告内部出错 · an unexpected error inside the report (the error report shows where): {evalue}"
    return f"{ename}: {evalue}"
