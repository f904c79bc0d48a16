"""The executive overview (report ``05_overview``): where the programme stands against its targets.

It answers: which KPIs are on track for this month's milestone, which daily KPI moved abnormally
(and which channel made the move), what changed in each report, and what to do first. Nothing here
recomputes an analysis: the figures are read from the summaries this run's reports wrote into the
run folder (:mod:`fanlib.executive.runs`); only the early warnings query the data
(:mod:`fanlib.executive.queries`, judged by :mod:`fanlib.executive.stats`). The notebook shows the
:class:`ExecutiveResult` of :func:`analyse`.

Its main answer is the KPI board against this month's targets, with the early warnings on the daily KPIs
it can compute. On fans and orders alone (no ``events`` table) orders, GMV and new members are computed and
judged; daily active fans and events are not known, and their early warnings are named as not given
(``sections_failed``: the report is partial). Amounts are in the ``currency`` parameter's currency; a
report whose summary names another currency is flagged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from fanlib.executive import narrative, plots
from fanlib.executive.board import headline_value, kpi_board, milestone_table, missing_kpis
from fanlib.executive.errors import EarlyWarningError, TargetsError
from fanlib.executive.findings import key_findings
from fanlib.executive.queries import EVENT_KPIS, daily_kpis
from fanlib.executive.runs import (
    current_summaries,
    earlier_runs,
    failed_reports,
    history,
    read_summaries,
    report_states,
    run_reports,
    wait_for_reports,
)
from fanlib.executive.stats import KPIS, drill_down, scan
from fanlib.executive.summary import overview_summary
from fanlib.executive.targets import Targets, load_targets
from fanlib.present.i18n import DEFAULT_CURRENCY, Messages, messages
from fanlib.present.notebook import Summary

#: The reports whose summaries the overview reads, in the order of its report list.
REPORTS = ("01_fan_profiling", "02_ab_campaign", "03_retention", "04_sentiment", "00_data_overview")


def analysis_day(fd: Any) -> pd.Timestamp:
    """The day the overview describes: the last day with an event or an order (midnight)."""
    from fanlib.data.asof import resolve_as_of

    return pd.Timestamp(resolve_as_of(fd).day)


@dataclass
class EarlyWarning:
    """One abnormal daily move: its row of :func:`fanlib.executive.stats.scan`, the sentence saying it,
    and the channels behind it (the first five, shown in the report's language)."""

    warning: Any
    line: str
    unit: str
    channels: pd.DataFrame
    title: str


@dataclass
class ExecutiveResult:
    """Everything the overview shows, in the order of its sections."""

    T: Messages
    common: Messages
    as_of: pd.Timestamp
    month: int
    targets: Targets
    reports: dict[str, dict]
    summaries: dict[str, dict]
    failed: list[str]
    earlier: dict[str, str]
    board: pd.DataFrame
    board_html: str
    missing: list[str]
    milestones: pd.DataFrame
    milestones_shown: pd.DataFrame
    daily: pd.DataFrame
    since: pd.Timestamp
    warnings_found: pd.DataFrame
    #: KPI -> why its moves are not judged (too small or too short a series).
    not_judged: dict[str, str]
    #: Without an events table: the banner saying which early warnings cannot be given (else None).
    needs_events: str | None = None
    #: Report -> the currency its summary's amounts are in, for the reports whose currency is not the overview's.
    other_currency: dict[str, str] = field(default_factory=dict)
    warnings: list[EarlyWarning] = field(default_factory=list)
    warning_rows: list[dict] = field(default_factory=list)
    findings: list[dict] = field(default_factory=list)
    finding_lines: list[str] = field(default_factory=list)
    todo: list[str] = field(default_factory=list)
    report_links: list[str] = field(default_factory=list)
    summary: Summary | None = None


def analyse(fd: Any, params: Mapping[str, Any]) -> ExecutiveResult:
    """The overview of this run: waits for the run's other reports (``wait_for``, ``run_started``,
    ``wait_timeout_s``), then reads their summaries from the folder of ``summary_path`` and the
    history from the folders beside it, against ``targets_path``. The early-warning data does not
    depend on the other reports, so it is computed before waiting, while they finish."""
    from fanlib.paths import resolve

    lang = params.get("lang", "zh")
    T, common = messages("executive", lang, currency=params.get("currency", DEFAULT_CURRENCY)), messages("common", lang)
    run_dir = resolve(params["summary_path"]).parent
    targets = load_targets(params["targets_path"])
    as_of = analysis_day(fd)
    month = targets.programme_month(as_of)
    daily = daily_kpis(fd)
    by_channel = daily_kpis(fd, by="channel")

    states = wait_for_reports(
        run_dir, params.get("wait_for") or [], params.get("run_started"), timeout_s=params.get("wait_timeout_s")
    )
    # Only this run's summaries count as current: a failed report's older summary is never read, and a
    # report that was not part of this run has its figures marked with the run they come from.
    reports = run_reports(run_dir, list(REPORTS), states)
    summaries = current_summaries(reports)
    other_currency = {
        name: s["currency"] for name, s in summaries.items() if s.get("currency", T.currency) != T.currency
    }
    hist = history(run_dir.parent, until=run_dir.name, current=summaries)

    board = kpi_board(targets, summaries, hist, as_of, lang, reports=reports)
    milestones = milestone_table(targets, summaries, as_of, lang, reports=reports)
    since = as_of - pd.Timedelta(days=params.get("warning_days", 35) - 1)
    found = scan(daily, threshold=params.get("warning_threshold", 5.0), since=since)
    result = ExecutiveResult(
        T=T,
        common=common,
        as_of=as_of,
        month=month,
        targets=targets,
        reports=reports,
        summaries=summaries,
        failed=failed_reports(reports),
        earlier=earlier_runs(reports),
        board=board,
        board_html=plots.board_html(board, T, lang),
        missing=missing_kpis(targets, summaries),
        milestones=milestones,
        milestones_shown=narrative.milestone_rows(milestones, T, lang),
        daily=daily,
        since=since,
        warnings_found=found,
        not_judged=dict(found.attrs["not_judged"]),
        other_currency=other_currency,
    )
    kpi_label = {k: T(f"kpi_{k}") for k in KPIS}
    for w in found.itertuples():
        drill = drill_down(by_channel, "channel", w.kpi, w.start, w.end)
        top = drill.iloc[0]
        result.warning_rows.append(
            {
                "kpi": w.kpi,
                "start": w.start,
                "end": w.end,
                "change": w.change,
                "top": T.label(top["channel"]),
                "top_share": top["share_of_change"],
            }
        )
        channels = (
            drill.head(5)
            .assign(channel=lambda d: [T.label(c) for c in d.channel])
            .rename(columns={"change": "change_rate"})
        )
        result.warnings.append(
            EarlyWarning(
                w,
                narrative.warning_line(w, top, kpi_label, T, lang),
                narrative.warning_unit(w.kpi),
                channels,
                T("chart_warning", kpi=kpi_label[w.kpi]),
            )
        )
    result.findings = key_findings(summaries, reports=reports)
    result.finding_lines = [narrative.finding_text(f, T, lang) for f in result.findings]
    result.todo = narrative.todo_items(board, result.warning_rows, result.findings, kpi_label, T, lang)
    result.report_links = narrative.report_links(reports, summaries, common, T)
    result.summary = overview_summary(
        as_of, month, board, milestones, result.warning_rows, result.findings, result.missing, reports, T, lang
    )
    if not fd.has("events"):  # orders-only data: the activity KPIs are not known, the order KPIs are judged
        kpis = T("list_sep").join(T(f"kpi_{k}") for k in EVENT_KPIS)
        result.needs_events = T("warnings_need_events", kpis=kpis)
        result.summary.sections_failed([T("sec_activity_warnings")])
    return result


__all__ = [
    "KPIS",
    "REPORTS",
    "EarlyWarning",
    "EarlyWarningError",
    "ExecutiveResult",
    "Targets",
    "TargetsError",
    "analyse",
    "analysis_day",
    "current_summaries",
    "daily_kpis",
    "drill_down",
    "headline_value",
    "history",
    "key_findings",
    "kpi_board",
    "load_targets",
    "milestone_table",
    "missing_kpis",
    "narrative",
    "plots",
    "read_summaries",
    "report_states",
    "run_reports",
    "scan",
    "wait_for_reports",
]
