"""Charts of the fan-profiling report (drawing only; every figure comes from the other modules)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from fanlib import plotting
from fanlib.profiling.layers import LAYER_NAMES, LAYERS, LayerShares, LayerTransitions


def distribution_bars(dist: pd.DataFrame, title: str, sort: bool = True, ax=None):
    """Sorted horizontal bars of shares with Wilson intervals (provinces too: never a pie)."""
    frame = dist.sort_values("share", ascending=True) if sort else dist.iloc[::-1]
    ax = plotting._axes(ax, figsize=(8, max(2.5, 0.3 * len(frame) + 1)))
    ys = np.arange(len(frame))
    ax.barh(ys, frame.share, color=plotting.ACCENT, height=0.7)
    err = np.vstack([frame.share - frame.ci_low, frame.ci_high - frame.share])
    ax.errorbar(frame.share, ys, xerr=err, fmt="none", ecolor="black", elinewidth=0.8, capsize=2)
    ax.set_yticks(ys)
    ax.set_yticklabels(frame.category)
    for y, v in zip(ys, frame.share):
        ax.annotate(f"{v:.1%}", (v, y), xytext=(6, 0), textcoords="offset points", va="center", fontsize=8)
    ax.grid(axis="y", visible=False)
    plotting.percent_axis(ax, "x")
    return plotting._finish(ax, title, "", "")


def breakdown_heatmap(shares: pd.DataFrame, title: str, ax=None):
    """Shares of each category (columns) within each group (rows)."""
    return plotting.heatmap(shares, title=title, percent=True, ax=ax)


def layer_bars(shares: LayerShares, ax=None):
    """Layer shares (with Wilson intervals) against the 15/30/40/15 targets."""
    t = shares.table
    ax = plotting._axes(ax, figsize=(8, 3.5))
    ys = np.arange(len(t))[::-1]
    colors = [plotting.GOOD if abs(g) <= 0.05 else plotting.BAD for g in t.gap.fillna(0)]
    ax.barh(ys, t.share.fillna(0), color=colors, height=0.6)
    ax.errorbar(t.share.fillna(0), ys, xerr=np.vstack([t.share - t.ci_low, t.ci_high - t.share]).astype(float),
                fmt="none", ecolor="black", elinewidth=0.8, capsize=2)
    ax.scatter(t.target, ys, marker="|", s=600, color="black", zorder=3, label="目标 target")
    ax.set_yticks(ys)
    ax.set_yticklabels(t.name)
    ax.grid(axis="y", visible=False)
    plotting.percent_axis(ax, "x")
    ax.legend(loc="lower right", frameon=False)
    return plotting._finish(ax, "四层用户结构 Layer shares vs targets", "", "")


def transition_heatmap(trans: LayerTransitions, ax=None):
    """Row shares of the layer transition matrix (previous layer → current layer)."""
    m = trans.shares.rename(index={**LAYER_NAMES, "new": "新加入 new"}, columns=LAYER_NAMES)
    return plotting.heatmap(m, title=f"层级迁移 Layer movement {trans.previous} → {trans.current}",
                            xlabel="当前层 current", ylabel="上期层 previous", ax=ax)


def gmv_share_bars(table: pd.DataFrame, label: str = "name", title: str = "粉丝占比与GMV占比 Fans vs GMV", ax=None):
    """Side-by-side share of fans and share of GMV per group (RFM segment or fan class)."""
    frame = table[[label, "fan_share" if "fan_share" in table else "share", "gmv_share"]].copy()
    frame.columns = [label, "粉丝占比 share of fans", "GMV占比 share of GMV"]
    long = frame.melt(id_vars=label, var_name="measure", value_name="share").fillna({"share": 0})
    return plotting.bar(long, x=label, y="share", hue="measure", percent=True, title=title, ax=ax)


def segment_profile_heatmap(model, ax=None):
    """Cluster centroids as z-scores (how far each cluster sits from the average fan)."""
    z = model._z_centroids.copy()
    z.index = [f"#{i} ({model.sizes_[i] / model.sizes_.sum():.0%})" for i in z.index]
    ax = plotting._axes(ax, figsize=(9, 1 + 0.5 * len(z)))
    import seaborn as sns

    sns.heatmap(z, annot=True, fmt=".1f", cmap="RdBu_r", center=0, ax=ax, cbar_kws={"label": "z"})
    return plotting._finish(ax, "行为分群中心 Segment centroids (z-scores)", "", "")


def kpi_attainment(card: pd.DataFrame, ax=None):
    """Each KPI with a target as attainment (100% = on target), green when met, red when not."""
    c = card[card.target.notna() & card.value.notna()].copy()
    if c.empty:
        return None
    c["attainment"] = np.where(c.higher_is_better, c.value / c.target, c.target / c.value.where(c.value > 0))
    c["one"] = 1.0
    c["hib"] = True
    return plotting.kpi_vs_target(c, "label", "attainment", "one", higher_is_better="hib",
                                  title="KPI 达成率 Attainment vs target (100% = target)", ax=ax)


def trend_lines(trend: pd.DataFrame, column: str, title: str, target: float | None = None, percent=True, ax=None):
    ax = plotting.line(trend, "month", column, title=title, percent=percent, markers=True, ax=ax)
    if target is not None:
        ax.axhline(target, color=plotting.BAD, linestyle="--", linewidth=1, label="目标 target")
        ax.legend(frameon=False)
    return ax


def hours_heatmap(hours: pd.DataFrame, ax=None):
    """Interactions by weekday × hour: when fans are there to read and react."""
    m = hours.pivot(index="weekday", columns="hour", values="interactions")
    m.index = ["周一 Mon", "周二 Tue", "周三 Wed", "周四 Thu", "周五 Fri", "周六 Sat", "周日 Sun"]
    total = m.to_numpy().sum()
    return plotting.heatmap(m / total if total else m, title="互动时段 Interactions by weekday and hour",
                            percent=False, annot=False, ax=ax, xlabel="小时 hour", ylabel="")


def funnel_bars(funnel: pd.DataFrame, ax=None):
    return plotting.bar(funnel, x="step", y="share_of_viewers", percent=True, sort=False,
                        title="转化漏斗 Funnel (share of viewers)", ax=ax)


def early_value_scores(model, ax=None):
    """Score distribution of test fans who did / did not become high-value, with the flag threshold."""
    ax = plotting._axes(ax, figsize=(8, 3.5))
    t = model.test_
    bins = np.linspace(0, 1, 41)
    ax.hist(t.score[~t.high_value], bins=bins, color=plotting.NEUTRAL, alpha=0.7, density=True,
            label="未成为高价值 not high-value")
    ax.hist(t.score[t.high_value], bins=bins, color=plotting.ACCENT, alpha=0.7, density=True,
            label="成为高价值 became high-value")
    ax.axvline(model.flag_threshold_, color="black", linestyle="--", linewidth=1, label="阈值 threshold")
    ax.legend(frameon=False)
    return plotting._finish(ax, "前14天得分 Scores from the first days (test fans)", "score", "density")


def close():
    plt.close("all")
