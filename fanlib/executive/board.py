"""The KPI board and the milestone table: this run's figures against the targets that apply now."""

from __future__ import annotations

from typing import Any

import pandas as pd

from fanlib.executive.runs import earlier_runs, failed_reports
from fanlib.executive.targets import Targets


def headline_value(summaries: dict, report: str, key: str) -> Any:
    """A report's figure ``key``: from its summary's headline list, else from its KPI scorecard
    (``kpis``: records with ``kpi`` and ``value``, as 01_fan_profiling writes them); None if absent."""
    summary = summaries.get(report, {})
    for h in summary.get("headline", []):
        if h.get("key") == key:
            return h.get("value")
    for row in summary.get("kpis", []) if isinstance(summary.get("kpis"), list) else []:
        if isinstance(row, dict) and row.get("kpi") == key:
            return row.get("value")
    return None


def missing_kpis(targets: Targets, summaries: dict) -> list[str]:
    """ "report:key" of every KPI in the targets file that this run's summaries do not provide."""
    return [f"{k.report}:{k.key}" for k in targets.kpis.values() if headline_value(summaries, k.report, k.key) is None]


def kpi_board(
    targets: Targets, summaries: dict, hist: pd.DataFrame, as_of: Any, lang: str = "zh", reports: dict | None = None
) -> pd.DataFrame:
    """One row per KPI: current value, the target that applies now, on/off track, change since the last run,
    and the trend across runs (for a sparkline).

    ``reports`` (from :func:`run_reports`): ``from_run`` names the earlier run a value comes from, and
    ``report_failed`` marks the KPIs of a report that failed (no value: its older one is left out)."""
    earlier = earlier_runs(reports or {})
    failed = set(failed_reports(reports or {}))
    month = targets.programme_month(as_of)
    rows = []
    for kpi in targets.kpis.values():
        value = headline_value(summaries, kpi.report, kpi.key)
        due = [m for m in targets.milestones if kpi.name in m.targets and m.month <= month]
        upcoming = [m for m in targets.milestones if kpi.name in m.targets and m.month > month]
        current_target = due[-1].targets[kpi.name] if due else None
        next_target = upcoming[0] if upcoming else None
        past = hist[(hist.report == kpi.report) & (hist.key == kpi.key)].sort_values("run_date")
        trend = [v for v in past["value"].tolist() if v is not None]
        previous = trend[-2] if len(trend) >= 2 else None
        rows.append(
            {
                "kpi": kpi.name,
                "label": kpi.label(lang),
                "unit": kpi.unit,
                "value": value,
                "target": current_target,
                "on_track": None if value is None or current_target is None else bool(value >= current_target),
                "change": None if value is None or previous is None else value - previous,
                "next_target": None if next_target is None else next_target.targets[kpi.name],
                "next_month": None if next_target is None else next_target.month,
                "trend": trend,
                "from_run": earlier.get(kpi.report) if value is not None else None,
                "report_failed": kpi.report in failed,
            }
        )
    return pd.DataFrame(rows)


def milestone_table(
    targets: Targets, summaries: dict, as_of: Any, lang: str = "zh", reports: dict | None = None
) -> pd.DataFrame:
    """Each milestone target with its status: met / missed (due) or upcoming, judged on today's value;
    ``report_failed`` when the KPI's report failed, ``from_run`` when the value is an earlier run's."""
    earlier = earlier_runs(reports or {})
    failed = set(failed_reports(reports or {}))
    month = targets.programme_month(as_of)
    rows = []
    for m in targets.milestones:
        for name, target in m.targets.items():
            kpi = targets.kpis[name]
            value = headline_value(summaries, kpi.report, kpi.key)
            met = None if value is None else bool(value >= target)
            state = (
                "upcoming"
                if m.month > month
                else (
                    ("report_failed" if kpi.report in failed else "no_data")
                    if met is None
                    else ("met" if met else "missed")
                )
            )
            rows.append(
                {
                    "month": m.month,
                    "milestone": m.name(lang),
                    "kpi": kpi.label(lang),
                    "unit": kpi.unit,
                    "target": target,
                    "value": value,
                    "status": state,
                    "from_run": earlier.get(kpi.report) if value is not None else None,
                }
            )
    return pd.DataFrame(rows, columns=["month", "milestone", "kpi", "unit", "target", "value", "status", "from_run"])
