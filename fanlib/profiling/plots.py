"""Charts of the fan-profiling report (drawing only; every figure comes from the other modules).

Titles and labels come from ``T``, the ``fan_profiling`` :class:`fanlib.present.i18n.Messages` of the report.
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from fanlib.present import plotting
from fanlib.profiling.layers import LayerShares, LayerTransitions


def distribution_bars(dist: pd.DataFrame, title: str, sort: bool = True, ax: Axes | None = None) -> Axes:
    """Sorted horizontal bars of shares with Wilson intervals (provinces too: never a pie)."""
    frame = dist.sort_values("share", ascending=True) if sort else dist.iloc[::-1]
    ax = plotting._axes(ax, figsize=(8, max(2.5, 0.3 * len(frame) + 1)))
    ys = np.arange(len(frame))
    ax.barh(ys, frame.share, color=plotting.ACCENT, height=0.7)
    err = np.vstack([frame.share - frame.ci_low, frame.ci_high - frame.share])
    ax.errorbar(frame.share, ys, xerr=err, fmt="none", ecolor="black", elinewidth=0.8, capsize=2)
    ax.set_yticks(ys)
    ax.set_yticklabels(frame.category)
    for y, v in zip(ys, frame.share, strict=True):
        ax.annotate(f"{v:.1%}", (v, y), xytext=(6, 0), textcoords="offset points", va="center", fontsize=8)
    ax.grid(axis="y", visible=False)
    plotting.percent_axis(ax, "x")
    return plotting._finish(ax, title, "", "")


def breakdown_heatmap(shares: pd.DataFrame, title: str, ax: Axes | None = None) -> Axes:
    """Shares of each category (columns) within each group (rows)."""
    return plotting.heatmap(shares, title=title, percent=True, ax=ax)


def layer_bars(shares: LayerShares, T: Any, ax: Axes | None = None) -> Axes:
    """Layer shares (with Wilson intervals) against the 15/30/40/15 targets."""
    t = shares.table
    ax = plotting._axes(ax, figsize=(8, 3.5))
    ys = np.arange(len(t))[::-1]
    colors = [plotting.GOOD if abs(g) <= 0.05 else plotting.BAD for g in t.gap.fillna(0)]
    ax.barh(ys, t.share.fillna(0), color=colors, height=0.6)
    ax.errorbar(
        t.share.fillna(0),
        ys,
        xerr=np.vstack([t.share - t.ci_low, t.ci_high - t.share]).astype(float),
        fmt="none",
        ecolor="black",
        elinewidth=0.8,
        capsize=2,
    )
    ax.scatter(t.target, ys, marker="|", s=600, color="black", zorder=3, label=T("target_marker"))
    ax.set_yticks(ys)
    ax.set_yticklabels([T(f"layer_{layer}") for layer in t.layer])
    ax.grid(axis="y", visible=False)
    plotting.percent_axis(ax, "x")
    ax.legend(loc="lower right", frameon=False)
    return plotting._finish(ax, T("chart_layers"), "", "")


def transition_heatmap(trans: LayerTransitions, T: Any, ax: Axes | None = None) -> Axes:
    """Row shares of the layer transition matrix (previous layer → current layer)."""
    from fanlib.present.i18n import fmt_date

    name = {k: T(f"layer_{k}") for k in [*trans.counts.index, *trans.counts.columns]}
    m = trans.shares.rename(index=name, columns=name)
    title = T("chart_transitions", previous=fmt_date(trans.previous, T.lang), current=fmt_date(trans.current, T.lang))
    return plotting.heatmap(m, title=title, xlabel=T("axis_current"), ylabel=T("axis_previous"), ax=ax)


def gmv_share_bars(table: pd.DataFrame, T: Any, label: str = "name", title: str = "", ax: Axes | None = None) -> Axes:
    """Side-by-side share of fans and share of GMV per group (RFM segment or fan class)."""
    frame = table[[label, "fan_share" if "fan_share" in table else "share", "gmv_share"]].copy()
    frame.columns = [label, T("share_of_fans"), T("share_of_gmv")]
    long = frame.melt(id_vars=label, var_name="measure", value_name="share").fillna({"share": 0})
    return plotting.bar(long, x=label, y="share", hue="measure", percent=True, title=title, ax=ax)


def segment_profile_heatmap(model: Any, T: Any, ax: Axes | None = None) -> Axes:
    """Cluster centroids as z-scores (how far each cluster sits from the average fan)."""
    z = model._z_centroids.copy()
    z.columns = [T(f"col_{c}") for c in z.columns]
    z.index = [f"#{i} ({model.sizes_[i] / model.sizes_.sum():.0%})" for i in z.index]
    ax = plotting._axes(ax, figsize=(9, 1 + 0.5 * len(z)))
    import seaborn as sns

    sns.heatmap(z, annot=True, fmt=".1f", cmap="RdBu_r", center=0, ax=ax, cbar_kws={"label": "z"})
    return plotting._finish(ax, T("chart_segments"), "", "")


def kpi_attainment(card: pd.DataFrame, T: Any, ax: Axes | None = None) -> Axes:
    """Each KPI with a target as attainment (100% = on target), green when met, red when not."""
    c = card[card.target.notna() & card.value.notna()].copy()
    if c.empty:
        return None
    c["attainment"] = np.where(c.higher_is_better, c.value / c.target, c.target / c.value.where(c.value > 0))
    c["one"] = 1.0
    c["hib"] = True
    return plotting.kpi_vs_target(
        c, "label", "attainment", "one", higher_is_better="hib", title=T("chart_attainment"), ax=ax
    )


def trend_lines(
    trend: pd.DataFrame,
    column: str,
    title: str,
    T: Any,
    target: float | None = None,
    percent: bool = True,
    ax: Axes | None = None,
) -> Axes:
    ax = plotting.line(trend, "month", column, title=title, percent=percent, markers=True, ax=ax)
    if target is not None:
        ax.axhline(target, color=plotting.BAD, linestyle="--", linewidth=1, label=T("target_marker"))
        ax.legend(frameon=False)
    return ax


def hours_heatmap(hours: pd.DataFrame, T: Any, ax: Axes | None = None) -> Axes:
    """Interactions by weekday × hour: when fans are there to read and react."""
    m = hours.pivot(index="weekday", columns="hour", values="interactions")
    m.index = [T(f"weekday_{d}") for d in m.index]
    total = m.to_numpy().sum()
    return plotting.heatmap(
        m / total if total else m,
        title=T("chart_hours"),
        percent=False,
        annot=False,
        ax=ax,
        xlabel=T("axis_hour"),
        ylabel="",
    )


def funnel_bars(funnel: pd.DataFrame, T: Any, ax: Axes | None = None) -> Axes:
    shown = funnel.assign(step=[T(f"step_{s}") for s in funnel.step])
    return plotting.bar(shown, x="step", y="share_of_viewers", percent=True, sort=False, title=T("chart_funnel"), ax=ax)


def early_value_scores(model: Any, T: Any, ax: Axes | None = None) -> Axes:
    """Score distribution of test fans who did / did not become high-value, with the flag threshold."""
    ax = plotting._axes(ax, figsize=(8, 3.5))
    t = model.test_
    bins = np.linspace(0, 1, 41)
    ax.hist(t.score[~t.high_value], bins=bins, color=plotting.NEUTRAL, alpha=0.7, density=True, label=T("early_not_hv"))
    ax.hist(t.score[t.high_value], bins=bins, color=plotting.ACCENT, alpha=0.7, density=True, label=T("early_hv"))
    ax.axvline(model.flag_threshold_, color="black", linestyle="--", linewidth=1, label=T("early_threshold"))
    ax.legend(frameon=False)
    return plotting._finish(ax, T("chart_early"), T("axis_score"), T("axis_density"))


def close() -> None:
    plt.close("all")
