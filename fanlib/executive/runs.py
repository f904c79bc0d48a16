"""The run folder: which reports of this run finished, and the summaries they wrote.

Nothing here recomputes an analysis. The analysis reports write ``<name>.summary.json`` into each
dated folder; the overview reads the current folder for today's figures and every earlier folder
for trends, so history is cheap and always agrees with what stakeholders were shown at the time.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from fanlib.reports.layout import FAILED_MARK, SUMMARY_SUFFIX, RunFolder


def wait_for_reports(
    folder: str | Path,
    names: Iterable[str],
    since: float | None,
    *,
    timeout_s: float | None = None,
    poll_s: float = 0.25,
) -> dict[str, str]:
    """Block until each report in ``names`` has written its manifest (``ok`` or ``failed``) into
    ``folder`` at or after ``since`` (seconds since the epoch); returns {name: "ok" | "failed"}.

    The runner starts the overview while the last reports are still running, so its own data
    work overlaps theirs; the summaries are read only after this returns. Manifests from an
    earlier run of the same day are older than ``since`` and do not count. Raises
    ``TimeoutError`` naming the reports still missing after ``timeout_s``.
    """
    import time

    folder = Path(folder)
    pending = list(dict.fromkeys(names))
    done: dict[str, str] = {}
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        for name in list(pending):
            for state, path in (
                ("ok", RunFolder(folder).manifest(name)),
                ("failed", RunFolder(folder).manifest(name, ok=False)),
            ):
                try:
                    fresh = since is None or path.stat().st_mtime >= since
                except FileNotFoundError:
                    continue
                if fresh:
                    done[name] = state
                    pending.remove(name)
                    break
        if not pending:
            return done
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"reports still running after {timeout_s:.0f} s: {', '.join(pending)}")
        time.sleep(poll_s)


def read_summaries(folder: str | Path) -> dict[str, dict]:
    """The summary JSON of every report in one dated folder: {report name: summary}."""
    return read_summaries_of(folder)


def read_summaries_of(folder: str | Path, names: Iterable[str] | None = None) -> dict[str, dict]:
    """Like :func:`read_summaries`, limited to ``names`` when given."""
    out = {}
    paths = (
        sorted(Path(folder).glob(f"*{SUMMARY_SUFFIX}"))
        if names is None
        else [RunFolder(folder).summary(n) for n in names if RunFolder(folder).summary(n).exists()]
    )
    for path in paths:
        name = path.name[: -len(SUMMARY_SUFFIX)]
        if name.endswith(FAILED_MARK):
            continue
        try:
            out[name] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue  # an unreadable summary is shown as missing, not fatal
    return out


def report_states(folder: str | Path, names: Iterable[str]) -> dict[str, str]:
    """Each report's state in one dated folder: "ok" (a summary), "failed" (only a failure page this
    run) or "missing" (not run)."""
    folder = Path(folder)
    states = {}
    for name in names:
        if RunFolder(folder).manifest(name, ok=False).exists():
            states[name] = "failed"
        elif RunFolder(folder).summary(name).exists():
            states[name] = "ok"
        else:
            states[name] = "missing"
    return states


def run_time(folder: str | Path, name: str) -> str:
    """When report ``name``'s last good run in ``folder`` finished, as "2025-12-31 16:05" (China time),
    from its manifest, else its summary; the folder's date if neither says."""
    from fanlib.reports.indexpages import format_time

    folder = Path(folder)
    for path, key in (
        (RunFolder(folder).manifest(name), "finished_at"),
        (RunFolder(folder).summary(name), "generated_at"),
    ):
        try:
            when = json.loads(path.read_text(encoding="utf-8")).get(key)
        except (OSError, ValueError, AttributeError):
            continue
        if when:
            return format_time(when)
    return folder.name


def run_reports(folder: str | Path, names: Iterable[str], states: dict[str, str] | None = None) -> dict[str, dict]:
    """Each report's place in this run, so no earlier run's figure is shown as this run's.

    ``states``: what :func:`wait_for_reports` returned for the reports of this run. Per report:
    ``state`` "ok", "failed" (this run, or its latest run when it was not part of this one: its older
    summary is never used) or "missing"; ``in_run``; ``summary`` (only when ok); ``run``: for an ok
    report that was not part of this run, when its figures were made (None for this run's).
    """
    folder = Path(folder)
    states = states or {}
    out = {}
    for name in names:
        in_run = name in states
        state = states[name] if in_run else report_states(folder, [name])[name]
        summary = read_summaries_of(folder, [name]).get(name) if state == "ok" else None
        if state == "ok" and summary is None:
            state = "missing"
        last_good = RunFolder(folder).html(name).exists()
        out[name] = {
            "state": state,
            "in_run": in_run,
            "summary": summary,
            "run": None if in_run or state != "ok" else run_time(folder, name),
            "last_good_run": run_time(folder, name) if state == "failed" and last_good else None,
        }
    return out


def current_summaries(reports: dict[str, dict]) -> dict[str, dict]:
    """The summaries the overview may show: this run's, and those of reports not in this run (labelled
    with their run by the caller); never a failed report's older summary."""
    return {n: r["summary"] for n, r in reports.items() if r["state"] == "ok"}


def earlier_runs(reports: dict[str, dict]) -> dict[str, str]:
    """{report: run time} of the ok reports whose figures come from an earlier run than this one."""
    return {n: r["run"] for n, r in reports.items() if r["state"] == "ok" and r["run"]}


def failed_reports(reports: dict[str, dict]) -> list[str]:
    return [n for n, r in reports.items() if r["state"] == "failed"]


def history(reports_root: str | Path, until: str | None = None, current: dict | None = None) -> pd.DataFrame:
    """Every headline figure of every dated run: run_date, report, key, label, value, unit, target, good.

    ``current``: the summaries to use for the ``until`` folder (this run's), so a failed report's older
    summary in that folder never becomes the trend's latest point."""
    rows = []
    for folder in sorted(Path(reports_root).glob("[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]")):
        if until is not None and folder.name > until:
            continue
        found = current if current is not None and folder.name == until else read_summaries(folder)
        for report, summary in found.items():
            for h in summary.get("headline", []):
                rows.append(
                    {
                        "run_date": pd.Timestamp(folder.name),
                        "report": report,
                        "as_of": summary.get("as_of"),
                        **{k: h.get(k) for k in ("key", "label", "value", "unit", "target", "good")},
                    }
                )
    columns = ["run_date", "report", "as_of", "key", "label", "value", "unit", "target", "good"]
    return pd.DataFrame(rows, columns=columns)
