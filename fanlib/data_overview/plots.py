"""The data overview's charts: each takes a computed frame and returns its matplotlib Figure."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from fanlib.present import plotting


def rows_per_table(present: pd.DataFrame, title: str) -> Figure:
    """Bars of the rows of each table the source has."""
    return plotting.bar(present.set_index("table")["rows"], title=title).figure


def daily_rows(daily: pd.DataFrame, title: str) -> Figure:
    """Rows per day of each timed table, on a log scale (events outnumber orders by far)."""
    ax = plotting.line(daily, "date", "rows", hue="table", title=title)
    ax.set_yscale("log")
    return ax.figure


def member_growth(growth: pd.DataFrame, title: str) -> Figure:
    """Cumulative members by month of joining."""
    return plotting.line(growth, "month", "members", title=title, markers=True).figure


def null_rates(shown: pd.DataFrame, title: str) -> Figure:
    """Bars of the null rate of each column with missing values."""
    labelled = shown.assign(label=shown.table + "." + shown.column).set_index("label")["null_rate"]
    return plotting.bar(labelled, percent=True, title=title).figure


def distribution(dist: pd.DataFrame, title: str) -> Figure:
    """Bars of the shares of a column's values (already labelled in the report's language)."""
    return plotting.bar(dist.set_index("value")["share"], percent=True, title=title).figure
