"""The data overview (report ``00_data_overview``): what a data source holds, and whether the other
reports can rely on it.

It answers: does the source meet the data contract (and if not, which table, column and check fail)?
Is the data fresh? How large is each table, over which period, with how many missing values,
duplicate keys and rows of unknown fans? The figures are computed in the engine
(:mod:`fanlib.data_overview.queries`); the notebook shows the :class:`DataOverviewResult` of
:func:`analyse`. The overview describes broken data rather than refusing it, so it has no errors of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from fanlib.data_overview import narrative, plots, queries
from fanlib.data_overview.summary import overview_summary
from fanlib.present.i18n import Messages, messages
from fanlib.present.notebook import Summary

#: The categorical columns whose distributions the overview charts: (table, column, chart title key).
DISTRIBUTIONS = (
    ("fans", "channel", "chart_channel"),
    ("fans", "gender", "chart_gender"),
    ("events", "event_type", "chart_event_type"),
    ("events", "content_type", "chart_content_type"),
)


@dataclass
class DataOverviewResult:
    """Everything the data overview shows, in the order of its sections."""

    T: Messages
    source: str
    fingerprint: str
    problems: list
    warnings: list
    problem_rows: pd.DataFrame
    warning_rows: pd.DataFrame
    tables: pd.DataFrame
    #: Present tables with a structural problem: described from the columns that are there.
    broken: list[str]
    present: pd.DataFrame
    daily: pd.DataFrame
    growth: pd.DataFrame
    nulls: pd.DataFrame
    #: The columns with missing values, most missing first.
    nulls_shown: pd.DataFrame
    absent: pd.DataFrame
    duplicates: pd.DataFrame
    orphans: pd.DataFrame
    #: (chart title key, distribution with values in the report's language) per charted column.
    distributions: list[tuple[str, pd.DataFrame]] = field(default_factory=list)
    #: Why a chart is not shown: its table is absent (e.g. "no events table"), one sentence each.
    missing_charts: list[str] = field(default_factory=list)
    #: What the engine made of the source: fans derived, join times filled, order lines, rows left out.
    shape_notes: list[str] = field(default_factory=list)
    conclusions: list[str] = field(default_factory=list)
    summary: Summary | None = None


def analyse(fd: Any, params: Mapping[str, Any]) -> DataOverviewResult:
    """The data overview of ``fd`` (connected without validation, so broken data is described too).

    ``params``: the notebook's parameters; ``lang``, ``as_of`` and ``stale_after_days`` are used."""
    from fanlib.data.checks import problems as find_problems
    from fanlib.data.freshness import data_warnings

    lang = params.get("lang", "zh")
    T = messages("data_overview", lang)
    problems = find_problems(fd)
    warnings = data_warnings(fd, params.get("as_of"), params.get("stale_after_days", 30))
    source, fingerprint = fd.describe_source(), fd.fingerprint()
    tables = queries.table_summary(fd)
    nulls = queries.null_rates(fd)
    result = DataOverviewResult(
        T=T,
        source=source,
        fingerprint=fingerprint,
        problems=problems,
        warnings=warnings,
        problem_rows=narrative.problem_table(problems, T),
        warning_rows=narrative.warning_table(warnings, T),
        tables=tables,
        broken=list(tables[tables.present & ~tables.sound].table),
        present=tables[tables.present],
        daily=queries.daily_volume(fd),
        growth=queries.member_growth(fd),
        nulls=nulls,
        nulls_shown=nulls[nulls.missing > 0].sort_values("null_rate", ascending=False),
        absent=queries.absent_columns(fd),
        duplicates=queries.duplicate_keys(fd),
        orphans=queries.orphan_counts(fd),
    )
    for table_name, column, title in DISTRIBUTIONS:
        if fd.has(table_name) and column in fd.present_columns(table_name):
            dist = queries.distribution(fd, table_name, column)
            dist["value"] = [T.label(v) for v in dist["value"]]
            result.distributions.append((title, dist))
        elif not fd.has(table_name) and T(f"no_table_{table_name}") not in result.missing_charts:
            result.missing_charts.append(T(f"no_table_{table_name}"))
    shape = queries.source_shape(fd)
    result.shape_notes = narrative.shape_notes(shape, T, params.get("currency", "CNY"))
    result.conclusions = narrative.conclusions(tables, problems, warnings, T) + result.shape_notes
    result.summary = overview_summary(fd, tables, problems, warnings, T, lang, shape)
    return result


__all__ = ["DISTRIBUTIONS", "DataOverviewResult", "analyse", "plots"]
