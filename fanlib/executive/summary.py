"""The overview's summary JSON (``05_overview.summary.json``): the programme month, the KPIs on track,
the early warnings and the items needing attention, with the board, milestones and findings behind them."""

from __future__ import annotations

from typing import Any

import pandas as pd

from fanlib.executive.runs import failed_reports
from fanlib.present.notebook import Summary


def overview_summary(
    as_of: Any,
    month: int,
    board: pd.DataFrame,
    milestones: pd.DataFrame,
    warning_rows: list[dict],
    findings: list[dict],
    missing: list[str],
    reports: dict[str, dict],
    T: Any,
    lang: str,
) -> Summary:
    """The summary of one overview run."""
    summary = Summary("05_overview", as_of=as_of, lang=lang, currency=getattr(T, "currency", "CNY"))
    judged = board[board.on_track.notna()]
    summary.headline("programme_month", month, label=T("hl_month"), unit="count")
    summary.headline(
        "kpis_on_track",
        int(judged.on_track.sum()),
        label=T("hl_on_track"),
        unit="count",
        good=bool(len(judged) and judged.on_track.all()),
        note=f"{int(judged.on_track.sum())}/{len(judged)}",
    )
    summary.headline("kpi_warnings", len(warning_rows), label=T("hl_warnings"), unit="count", good=not warning_rows)
    needs_attention = [f for f in findings if f["good"] is False]
    summary.headline(
        "attention_items", len(needs_attention), label=T("hl_attention"), unit="count", good=not needs_attention
    )
    summary["board"] = board.drop(columns="trend")
    summary["milestones"] = milestones
    summary["warnings"] = warning_rows
    summary["findings"] = findings
    summary["kpis_missing"] = missing
    summary["reports"] = {
        n: {"state": r["state"], "in_run": r["in_run"], "from_run": r["run"]} for n, r in reports.items()
    }
    summary["left_out"] = failed_reports(reports)
    return summary
