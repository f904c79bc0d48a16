"""Charts of the experiment readout, drawn with the fanlib theme (plotting is kept apart from fitting).

Titles, axis labels and legends come from the report's messages (``T``); Chinese by default.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from fanlib.ab import narrative
from fanlib.present import plotting

if TYPE_CHECKING:
    import datetime

    from matplotlib.axes import Axes

    from fanlib.present.i18n import Messages


def _messages(T):
    from fanlib.present.i18n import messages

    return T or messages(narrative.DOMAIN, "zh")


def _finite(frame: pd.DataFrame, *columns: str) -> np.ndarray:
    """Rows where every named column holds a finite number (an estimate with its whole interval)."""
    ok = np.ones(len(frame), dtype=bool)
    for c in columns:
        ok &= np.isfinite(pd.to_numeric(frame[c], errors="coerce").astype(float).to_numpy())
    return ok


def forest_lifts(
    lifts: pd.DataFrame, *, T: Messages | None = None, title: str | None = None, ax: Axes | None = None
) -> Axes | None:
    """Forest plot of every metric × variant's relative lift and its interval (None when none has one)."""
    T = _messages(T)
    frame = narrative.relabel(lifts, T)
    many = frame["variant"].nunique() > 1
    frame["row"] = frame["label"] + (" · " + frame["variant"].astype(str) if many else "")
    frame = frame[_finite(frame, "relative", "relative_low", "relative_high")]
    if frame.empty:  # e.g. one fan per variant: nothing to draw, and the notebook says so
        return None
    return plotting.forest(
        frame,
        "relative",
        "relative_low",
        "relative_high",
        "row",
        ref=0.0,
        title=title or T("chart_forest"),
        xlabel=T("chart_forest_x"),
        percent=True,
        significant="significant",
        ax=ax,
    )


def forest_segments(
    segments: pd.DataFrame,
    *,
    T: Messages | None = None,
    unit: str = "pct",
    title: str | None = None,
    ax: Axes | None = None,
) -> Axes | None:
    """Forest plot of the absolute lift in every segment of every dimension with an interval (None if none)."""
    T = _messages(T)
    frame = segments[_finite(segments, "estimate", "low", "high")].copy()
    if frame.empty:
        return None
    frame["row"] = [
        f"{narrative.dimension_label(d, T)} = {narrative.segment_label(s, T, d)}"
        for d, s in zip(frame["dimension"], frame["segment"], strict=True)
    ]
    frame["sig"] = frame["p_adjusted"] < 0.05
    return plotting.forest(
        frame,
        "estimate",
        "low",
        "high",
        "row",
        ref=0.0,
        percent=unit == "pct",
        title=title or T("chart_segments", variant=""),
        xlabel=T("chart_segments_x"),
        significant="sig",
        ax=ax,
    )


def sequential_chart(
    table: pd.DataFrame,
    *,
    T: Messages | None = None,
    percent: bool = True,
    title: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Cumulative estimate over the looks, with the naive interval and the always-valid sequence."""
    T = _messages(T)
    ax = plotting._axes(ax, figsize=(10, 4.5))
    x = pd.to_datetime(table["look"])
    finite_low = table["cs_low"].where(np.isfinite(table["cs_low"]))
    finite_high = table["cs_high"].where(np.isfinite(table["cs_high"]))
    ax.fill_between(
        x, finite_low, finite_high, color=plotting.ACCENT, alpha=0.18, linewidth=0, label=T("legend_always_valid")
    )
    ax.plot(x, table["naive_low"], color=plotting.NEUTRAL, linestyle="--", linewidth=1, label=T("legend_naive"))
    ax.plot(x, table["naive_high"], color=plotting.NEUTRAL, linestyle="--", linewidth=1)
    ax.plot(x, table["estimate"], color=plotting.ACCENT, marker="o", label=T("legend_estimate"))
    ax.axhline(0, color="black", linewidth=1)
    if percent:
        plotting.percent_axis(ax, "y", decimals=1)
    ax.legend(loc="best", frameon=False)
    return plotting._finish(ax, title or T("chart_sequential", metric=""), "", T("chart_seq_y"))


def did_trends_chart(
    trend: pd.DataFrame,
    start: datetime.date | str,
    *,
    T: Messages | None = None,
    title: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Mean log(weekly events per active fan) of treated and comparison communities, start marked."""
    T = _messages(T)
    ax = plotting._axes(ax, figsize=(10, 4.5))
    names = {"treated": T("legend_treated"), "comparison": T("legend_comparison")}
    colours = {"treated": plotting.BAD, "comparison": plotting.ACCENT}
    for group, g in trend.groupby("group"):
        ax.plot(
            pd.to_datetime(g["week_start"]),
            g["log_outcome"],
            marker="o",
            color=colours.get(group),
            label=names.get(group, group),
        )
    ax.axvline(pd.Timestamp(start), color="black", linestyle="--", linewidth=1)
    ax.legend(loc="best", frameon=False)
    return plotting._finish(ax, title or T("chart_did_trends"), "", T("chart_did_y"))


def event_study_chart(
    study: pd.DataFrame, *, T: Messages | None = None, title: str | None = None, ax: Axes | None = None
) -> Axes:
    """Event-study coefficients by week relative to the start (week -1 is the reference)."""
    T = _messages(T)
    ax = plotting._axes(ax, figsize=(10, 4.5))
    pre = study["period"] < 0
    for mask, colour, label in ((pre, plotting.NEUTRAL, T("legend_before")), (~pre, plotting.BAD, T("legend_after"))):
        s = study[mask]
        ax.errorbar(
            s["period"],
            s["estimate"],
            yerr=[s["estimate"] - s["low"], s["high"] - s["estimate"]],
            fmt="o",
            color=colour,
            capsize=3,
            label=label,
        )
    ax.axhline(0, color="black", linewidth=1)
    ax.axvline(-0.5, color="black", linestyle="--", linewidth=1)
    ax.legend(loc="best", frameon=False)
    return plotting._finish(ax, title or T("chart_event_study"), T("chart_event_x"), T("chart_event_y"))
