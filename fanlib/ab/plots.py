"""Charts of the experiment readout, drawn with the fanlib theme (plotting is kept apart from fitting)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fanlib import plotting


def forest_lifts(lifts: pd.DataFrame, *, title: str = "相对提升及置信区间 Relative lift with interval", ax=None):
    """Forest plot of every metric × variant's relative lift and its interval."""
    frame = lifts.copy()
    frame["row"] = frame["label"] + np.where(frame["variant"].nunique() > 1, " · " + frame["variant"], "")
    frame = frame[np.isfinite(frame["relative"])]
    return plotting.forest(frame, "relative", "relative_low", "relative_high", "row", ref=0.0, title=title,
                           xlabel="相对对照组 vs control", percent=True, significant="significant", ax=ax)


def forest_segments(segments: pd.DataFrame, *, unit: str = "pct", title: str | None = None, ax=None):
    """Forest plot of the absolute lift in every segment of every dimension (none left out)."""
    frame = segments[np.isfinite(segments["estimate"])].copy()
    frame["row"] = frame["dimension"] + " = " + frame["segment"].astype(str)
    frame["sig"] = frame["p_adjusted"] < 0.05
    return plotting.forest(frame, "estimate", "low", "high", "row", ref=0.0, percent=unit == "pct",
                           title=title or "分群效应 Effect by segment", xlabel="绝对提升 absolute lift",
                           significant="sig", ax=ax)


def sequential_chart(table: pd.DataFrame, *, percent: bool = True, title: str | None = None, ax=None):
    """Cumulative estimate over the looks, with the naive interval and the always-valid sequence."""
    ax = plotting._axes(ax, figsize=(10, 4.5))
    x = pd.to_datetime(table["look"])
    finite_low = table["cs_low"].where(np.isfinite(table["cs_low"]))
    finite_high = table["cs_high"].where(np.isfinite(table["cs_high"]))
    ax.fill_between(x, finite_low, finite_high, color=plotting.ACCENT, alpha=0.18, linewidth=0,
                    label="随时有效区间 always-valid")
    ax.plot(x, table["naive_low"], color=plotting.NEUTRAL, linestyle="--", linewidth=1, label="固定样本区间 naive")
    ax.plot(x, table["naive_high"], color=plotting.NEUTRAL, linestyle="--", linewidth=1)
    ax.plot(x, table["estimate"], color=plotting.ACCENT, marker="o", label="累计估计 estimate")
    ax.axhline(0, color="black", linewidth=1)
    if percent:
        plotting.percent_axis(ax, "y", decimals=1)
    ax.legend(loc="best", frameon=False)
    return plotting._finish(ax, title or "逐日累计结果 Cumulative result by day", "", "绝对提升 absolute lift")


def did_trends_chart(trend: pd.DataFrame, start, *, title: str | None = None, ax=None):
    """Mean log(weekly events per active fan) of treated and comparison communities, start marked."""
    ax = plotting._axes(ax, figsize=(10, 4.5))
    names = {"treated": "活动社群 treated", "comparison": "对照社群 comparison"}
    colours = {"treated": plotting.BAD, "comparison": plotting.ACCENT}
    for group, g in trend.groupby("group"):
        ax.plot(pd.to_datetime(g["week_start"]), g["log_outcome"], marker="o", color=colours.get(group),
                label=names.get(group, group))
    ax.axvline(pd.Timestamp(start), color="black", linestyle="--", linewidth=1)
    ax.legend(loc="best", frameon=False)
    return plotting._finish(ax, title or "活动前后趋势 Trends before and after the start", "",
                            "log(人均周互动) log events per fan")


def event_study_chart(study: pd.DataFrame, *, title: str | None = None, ax=None):
    """Event-study coefficients by week relative to the start (week -1 is the reference)."""
    ax = plotting._axes(ax, figsize=(10, 4.5))
    pre = study["period"] < 0
    for mask, colour, label in ((pre, plotting.NEUTRAL, "活动前 before"), (~pre, plotting.BAD, "活动后 after")):
        s = study[mask]
        ax.errorbar(s["period"], s["estimate"], yerr=[s["estimate"] - s["low"], s["high"] - s["estimate"]],
                    fmt="o", color=colour, capsize=3, label=label)
    ax.axhline(0, color="black", linewidth=1)
    ax.axvline(-0.5, color="black", linestyle="--", linewidth=1)
    ax.legend(loc="best", frameon=False)
    return plotting._finish(ax, title or "事件研究 Event study", "相对开始的周 weeks from start",
                            "差异 difference (log)")
