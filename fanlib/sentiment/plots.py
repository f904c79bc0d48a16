"""Charts of the sentiment report (plotting only; every figure comes from the other modules).

Every label comes from the report's messages ``T`` (``fanlib.present.i18n.messages("sentiment", lang)``)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from fanlib.present import plotting

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from fanlib.present.i18n import Messages
    from fanlib.sentiment.crisis import Alert

LEVEL_COLOURS = {"I": "#B2182B", "II": plotting.BAD, "III": "#F0E442"}
_NO_GLYPH = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\ufe0f]")


def _safe(label: str) -> str:
    # Emoji have no glyph in the CJK font: keep chart labels to text.
    return _NO_GLYPH.sub("", str(label)) or "?"


def index_chart(daily: pd.DataFrame, T: Messages, alerts: Sequence[Alert] = ()) -> Figure:
    """The daily sentiment index with its rolling baseline band; alert periods shaded by level."""
    plotting.use_theme()
    fig, ax = plt.subplots(figsize=(10, 4.2))
    ax.fill_between(
        daily["bin"], daily["band_low"], daily["band_high"], color=plotting.NEUTRAL, alpha=0.25, label=T("chart_band")
    )
    ax.plot(daily["bin"], daily["baseline"], color=plotting.NEUTRAL, lw=1, ls="--", label=T("chart_baseline"))
    ax.plot(daily["bin"], daily["index"], color=plotting.ACCENT, lw=1.2, label=T("chart_index_line"))
    for a in alerts:
        ax.axvspan(a.start, a.end + pd.Timedelta(days=1), color=LEVEL_COLOURS[a.level], alpha=0.35, lw=0)
        ax.annotate(
            T("chart_level", level=a.level),
            (a.start, ax.get_ylim()[1]),
            fontsize=9,
            ha="left",
            va="top",
            color=LEVEL_COLOURS[a.level],
        )
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m"))
    ax.set_ylabel(T("chart_index_axis"))
    ax.set_xlabel("")
    ax.set_title(T("chart_index"))
    ax.legend(loc="lower left", frameon=False, fontsize=9, ncol=3)
    return fig


def negative_share_chart(daily: pd.DataFrame, T: Messages) -> Figure:
    """Daily negative share with its Wilson interval."""
    plotting.use_theme()
    fig, ax = plt.subplots(figsize=(10, 3.6))
    ax.fill_between(daily["bin"], daily["neg_low"], daily["neg_high"], color=plotting.BAD, alpha=0.2, lw=0)
    ax.plot(daily["bin"], daily["neg_share"], color=plotting.BAD, lw=1)
    plotting.percent_axis(ax, "y")
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m"))
    ax.set_xlabel("")
    ax.set_title(T("chart_neg_share"))
    return fig


def breakdown_chart(
    df: pd.DataFrame, by: str, title: str, labels: Callable[[Any], str] | None = None, top: int = 12
) -> Figure:
    """Negative share per channel / community / tier, with intervals; ``labels`` maps values to names."""
    plotting.use_theme()
    d = df.head(top).iloc[::-1]
    fig, ax = plt.subplots(figsize=(8, max(2.5, 0.42 * len(d) + 1)))
    ys = np.arange(len(d))
    ax.barh(ys, d["neg_share"], color=plotting.BAD, alpha=0.8, height=0.6)
    ax.errorbar(
        d["neg_share"],
        ys,
        xerr=[d["neg_share"] - d["neg_low"], d["neg_high"] - d["neg_share"]],
        fmt="none",
        ecolor="black",
        lw=1,
        capsize=3,
    )
    ax.set_yticks(ys)
    ax.set_yticklabels([_safe(labels(v) if labels else v) for v in d[by]])
    plotting.percent_axis(ax, "x")
    ax.grid(axis="y", visible=False)
    ax.set_title(title)
    return fig


def drivers_chart(drivers: pd.DataFrame, T: Messages, top: int = 15) -> Figure:
    """Horizontal bars of the drivers' z-scores."""
    plotting.use_theme()
    d = drivers.head(top).iloc[::-1]
    fig, ax = plt.subplots(figsize=(7, max(2.5, 0.38 * len(d) + 1)))
    ys = np.arange(len(d))
    ax.barh(ys, d["z"], color=plotting.BAD, height=0.6)
    ax.axvline(1.96, color="black", lw=0.8, ls=":")
    ax.set_yticks(ys)
    ax.set_yticklabels([_safe(t) for t in d["term"]])
    ax.grid(axis="y", visible=False)
    ax.set_xlabel("z")
    ax.set_title(T("chart_drivers"))
    return fig


def reliability_chart(reliability: pd.DataFrame | list[dict], T: Messages) -> Figure:
    """Mean predicted probability against the observed positive rate per probability bin (a frame, or
    the model card's ``reliability`` rows)."""
    reliability = pd.DataFrame(reliability)
    plotting.use_theme()
    fig, ax = plt.subplots(figsize=(4.8, 4.5))
    ax.plot([0, 1], [0, 1], color=plotting.NEUTRAL, ls="--", lw=1, label=T("chart_perfect"))
    ax.plot(
        reliability["mean_predicted"],
        reliability["observed"],
        marker="o",
        color=plotting.ACCENT,
        label=T("chart_model"),
    )
    ax.set_xlabel(T("chart_predicted"))
    ax.set_ylabel(T("chart_observed"))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(frameon=False, loc="upper left")
    ax.set_title(T("chart_calibration"))
    return fig
