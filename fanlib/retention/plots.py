"""Charts specific to the retention report (fitting lives elsewhere; these only draw).

Titles, axis labels and legends come from the ``retention`` message catalogue ``T``
(:func:`fanlib.retention.narrative.catalogue`), Chinese when not given.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

from fanlib.present import plotting
from fanlib.present.i18n import Messages
from fanlib.present.plotting import BAD, GOOD, NEUTRAL, PALETTE

from .churn import ChurnResult
from .narrative import _T, feature_label, model_label
from .survival import KaplanMeier

__all__ = [
    "retention_curves",
    "lifecycle_chart",
    "km_curves",
    "calibration_chart",
    "gains_chart",
    "holdout_chart",
    "roc_pr_chart",
]


def retention_curves(
    curves: pd.DataFrame,
    by: str,
    definition: str = "on",
    title: str | None = None,
    ax: Axes | None = None,
    T: Messages | None = None,
    labels: dict[str, str] | None = None,
) -> Axes:
    """One retention line per group (``labels`` renames the groups for the legend)."""
    T = _T(T)
    data = curves.dropna(subset=[f"rate_{definition}"]).copy()
    data[by] = data[by].astype(str).map(lambda v: (labels or {}).get(v, v))
    ax = plotting.line(
        data,
        "period",
        f"rate_{definition}",
        hue=by,
        title=title,
        xlabel=T("axis_day_n"),
        ylabel=T("axis_retention"),
        percent=True,
        ax=ax,
    )
    ax.legend(title="", fontsize=8, ncol=2, frameon=False)
    return ax


def lifecycle_chart(
    counts: pd.DataFrame, title: str | None = None, ax: Axes | None = None, T: Messages | None = None
) -> Axes:
    """Stacked bars: new, returning, resurrected above zero, dormant below."""
    T = _T(T)
    plotting.use_theme()
    if ax is None:
        _, ax = plt.subplots(figsize=(11, 4.5))
    x = np.arange(len(counts))
    new, ret, res = counts["new"].to_numpy(), counts["returning"].to_numpy(), counts["resurrected"].to_numpy()
    ax.bar(x, ret, color=PALETTE[0], label=T("lc_returning"))
    ax.bar(x, new, bottom=ret, color=GOOD, label=T("lc_new"))
    ax.bar(x, res, bottom=ret + new, color=PALETTE[1], label=T("lc_resurrected"))
    ax.bar(x, -counts["dormant"].to_numpy(), color=BAD, label=T("lc_dormant"))
    ax.axhline(0, color="black", linewidth=0.8)
    step = max(1, len(x) // 12)
    ax.set_xticks(x[::step])
    ax.set_xticklabels([str(d) for d in counts["period_start"].iloc[::step]], rotation=45, ha="right", fontsize=8)
    if len(x) and "complete" in counts and not counts["complete"].iloc[-1]:
        ax.annotate(T("lc_incomplete"), (x[-1], ret[-1] + new[-1] + res[-1]), ha="center", va="bottom", fontsize=8)
    ax.legend(fontsize=8, ncol=4, frameon=False, loc="upper left")
    ax.set_title(title or T("chart_lifecycle"))
    ax.set_ylabel(T("axis_fans"))
    return ax


def km_curves(
    curves: dict[str, KaplanMeier],
    title: str,
    at_risk_times: ArrayLike | None = None,
    xlabel: str = "",
    T: Messages | None = None,
) -> Figure:
    """Kaplan–Meier step curves with CI bands and a table of numbers at risk underneath."""
    T = _T(T)
    plotting.use_theme()
    n = len(curves)
    fig, (ax, tab) = plt.subplots(
        2, 1, figsize=(10, 5.5 + 0.25 * n), sharex=True, gridspec_kw={"height_ratios": [4, 0.6 + 0.3 * n]}
    )
    tmax = max(float(km.durations_.max()) for km in curves.values())
    times = np.asarray(at_risk_times if at_risk_times is not None else np.linspace(0, tmax, 7).round())
    for i, (label, km) in enumerate(curves.items()):
        s = km.survival_
        color = PALETTE[i % len(PALETTE)]
        t = np.concatenate([[0], s["time"].to_numpy()])
        ax.step(t, np.concatenate([[1], s["survival"].to_numpy()]), where="post", color=color, label=label)
        ax.fill_between(
            t,
            np.concatenate([[1], s["ci_low"].to_numpy()]),
            np.concatenate([[1], s["ci_high"].to_numpy()]),
            step="post",
            color=color,
            alpha=0.15,
            linewidth=0,
        )
        risk = km.at_risk(times)
        for tt, r in zip(times, risk, strict=True):
            tab.text(tt, n - 1 - i, f"{r:,}", ha="center", va="center", fontsize=8, color=color)
    plotting.percent_axis(ax, "y")
    ax.set_ylim(0, 1.02)
    ax.set_ylabel(T("axis_not_churned"))
    ax.set_title(title)
    ax.legend(fontsize=8, frameon=False)
    tab.set_yticks(range(n))
    tab.set_yticklabels(list(curves)[::-1], fontsize=8)
    tab.set_ylim(-0.5, n - 0.5)
    tab.set_xticks(times)
    tab.set_xlabel(xlabel)
    tab.grid(False)
    for side in ("top", "right", "left", "bottom"):
        tab.spines[side].set_visible(False)
    return fig


def calibration_chart(
    tables: dict[str, pd.DataFrame], title: str | None = None, ax: Axes | None = None, T: Messages | None = None
) -> Axes:
    """Predicted vs observed churn per bin, one line per model (keys are legend labels), with the diagonal."""
    T = _T(T)
    ax = plotting._axes(ax, figsize=(6, 5))
    top = 0.0
    for i, (name, t) in enumerate(tables.items()):
        ax.plot(t["predicted"], t["observed"], marker="o", color=PALETTE[i], label=name)
        top = max(top, t["predicted"].max(), t["observed"].max())
    ax.plot([0, top], [0, top], color=NEUTRAL, linestyle="--", label=T("perfect_calibration"))
    plotting.percent_axis(ax, "x")
    plotting.percent_axis(ax, "y")
    ax.legend(frameon=False)
    return plotting._finish(ax, title or T("chart_calibration"), T("axis_predicted_churn"), T("axis_observed_churn"))


def gains_chart(
    tables: dict[str, pd.DataFrame], title: str | None = None, ax: Axes | None = None, T: Messages | None = None
) -> Axes:
    """Cumulative gains, one line per model (keys are legend labels), with the random-order diagonal."""
    T = _T(T)
    ax = plotting._axes(ax, figsize=(6, 5))
    for i, (name, g) in enumerate(tables.items()):
        ax.plot(
            np.concatenate([[0], g["cumulative_fans_share"]]),
            np.concatenate([[0], g["cumulative_churn_captured"]]),
            marker="o",
            color=PALETTE[i],
            label=name,
        )
    ax.plot([0, 1], [0, 1], color=NEUTRAL, linestyle="--", label=T("random_order"))
    plotting.percent_axis(ax, "x")
    plotting.percent_axis(ax, "y")
    ax.legend(frameon=False)
    return plotting._finish(ax, title or T("chart_gains"), T("axis_fans_contacted"), T("axis_churn_captured"))


def roc_pr_chart(y: ArrayLike, predictions: dict[str, ArrayLike], T: Messages | None = None) -> Figure:
    """ROC and precision–recall curves side by side (``predictions`` keys are legend labels)."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    T = _T(T)
    plotting.use_theme()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.5))
    for i, (name, p) in enumerate(predictions.items()):
        fpr, tpr, _ = roc_curve(y, p)
        prec, rec, _ = precision_recall_curve(y, p)
        a1.plot(fpr, tpr, color=PALETTE[i], label=name)
        a2.plot(rec, prec, color=PALETTE[i], label=name)
    a1.plot([0, 1], [0, 1], color=NEUTRAL, linestyle="--")
    a2.axhline(float(np.mean(y)), color=NEUTRAL, linestyle="--", label=T("pr_baseline"))
    a1.set_title(T("chart_roc"))
    a1.set_xlabel(T("axis_fpr"))
    a1.set_ylabel(T("axis_recall"))
    a2.set_title(T("chart_pr"))
    a2.set_xlabel(T("axis_recall"))
    a2.set_ylabel(T("axis_precision"))
    a1.legend(frameon=False)
    a2.legend(frameon=False)
    return fig


def holdout_chart(
    table: pd.DataFrame, title: str | None = None, ax: Axes | None = None, T: Messages | None = None
) -> Axes:
    """Grouped bars: predicted and actual holdout purchases by calibration frequency."""
    T = _T(T)
    ax = plotting._axes(ax, figsize=(8, 4.5))
    x = np.arange(len(table))
    ax.bar(x - 0.2, table["predicted"], width=0.4, color=PALETTE[0], label=T("holdout_predicted"))
    ax.bar(x + 0.2, table["actual"], width=0.4, color=PALETTE[1], label=T("holdout_actual"))
    ax.set_xticks(x)
    ax.set_xticklabels(table["frequency"])
    ax.legend(frameon=False)
    return plotting._finish(
        ax, title or T("chart_holdout"), T("axis_calibration_frequency"), T("axis_holdout_purchases")
    )


def churn_model_charts(ch: ChurnResult, T: Messages) -> None:
    """The churn models' ROC and PR curves, calibration, gains and the ten most important features, each shown."""
    roc_pr_chart(ch.test["churned"], {model_label(k, T): ch.test[f"p_{k}"] for k in ch.metrics.index}, T=T)
    plotting.show()
    calibration_chart({model_label(k, T): v for k, v in ch.calibration.items()}, T=T)
    plotting.show()
    gains_chart({model_label(k, T): v for k, v in ch.gains.items()}, T=T)
    plotting.show()
    importance = ch.importance.head(10).rename(index=lambda c: feature_label(c, T))
    plotting.bar(importance, title=T("chart_importance"), percent=True)
    plotting.show()
