"""Charts specific to the retention report (fitting lives elsewhere; these only draw)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from fanlib import plotting
from fanlib.plotting import BAD, GOOD, NEUTRAL, PALETTE

__all__ = ["cohort_heatmap", "retention_curves", "lifecycle_chart", "km_curves", "calibration_chart",
           "gains_chart", "holdout_chart", "roc_pr_chart"]


def cohort_heatmap(table, definition: str = "on", title: str | None = None, ax=None):
    """Cohorts × periods heatmap; incomplete cells and small cohorts stay blank."""
    m = table.matrix(definition)
    m.index = [str(i) for i in m.index]
    unit = {"day": "天", "week": "周", "month": "月(30天)"}[table.period]
    ax = plotting.heatmap(m, title=title or "队列留存", ax=ax, xlabel=f"加入后第 N {unit}", ylabel="队列")
    return ax


def retention_curves(curves: pd.DataFrame, by: str, definition: str = "on", title: str | None = None,
                     unit: str = "天", ax=None):
    """One retention line per group."""
    data = curves.dropna(subset=[f"rate_{definition}"]).copy()
    data[by] = data[by].astype(str)
    ax = plotting.line(data, "period", f"rate_{definition}", hue=by, title=title, xlabel=f"第 N {unit}",
                       ylabel="留存率", percent=True, ax=ax)
    ax.legend(title="", fontsize=8, ncol=2, frameon=False)
    return ax


def lifecycle_chart(counts: pd.DataFrame, title: str = "粉丝生命周期（每期）", ax=None):
    """Stacked bars: new, returning, resurrected above zero, dormant below."""
    plotting.use_theme()
    if ax is None:
        _, ax = plt.subplots(figsize=(11, 4.5))
    x = np.arange(len(counts))
    new, ret, res = counts["new"].to_numpy(), counts["returning"].to_numpy(), counts["resurrected"].to_numpy()
    ax.bar(x, ret, color=PALETTE[0], label="持续活跃 returning")
    ax.bar(x, new, bottom=ret, color=GOOD, label="新增 new")
    ax.bar(x, res, bottom=ret + new, color=PALETTE[1], label="回流 resurrected")
    ax.bar(x, -counts["dormant"].to_numpy(), color=BAD, label="沉睡 dormant")
    ax.axhline(0, color="black", linewidth=0.8)
    step = max(1, len(x) // 12)
    ax.set_xticks(x[::step])
    ax.set_xticklabels([str(d) for d in counts["period_start"].iloc[::step]], rotation=45, ha="right", fontsize=8)
    if "complete" in counts and not counts["complete"].iloc[-1]:
        ax.bar(x[-1:], [0], color="none")
        ax.annotate("未完整", (x[-1], ret[-1] + new[-1] + res[-1]), ha="center", va="bottom", fontsize=8)
    ax.legend(fontsize=8, ncol=4, frameon=False, loc="upper left")
    ax.set_title(title)
    ax.set_ylabel("粉丝数")
    return ax


def km_curves(curves: dict, title: str = "生存曲线（Kaplan–Meier，95% 置信区间）", at_risk_times=None,
              xlabel: str = "天"):
    """Kaplan–Meier step curves with CI bands and a table of numbers at risk underneath."""
    plotting.use_theme()
    n = len(curves)
    fig, (ax, tab) = plt.subplots(2, 1, figsize=(10, 5.5 + 0.25 * n), sharex=True,
                                  gridspec_kw={"height_ratios": [4, 0.6 + 0.3 * n]})
    tmax = max(float(km.durations_.max()) for km in curves.values())
    times = np.asarray(at_risk_times if at_risk_times is not None else np.linspace(0, tmax, 7).round())
    for i, (label, km) in enumerate(curves.items()):
        s = km.survival_
        color = PALETTE[i % len(PALETTE)]
        t = np.concatenate([[0], s["time"].to_numpy()])
        ax.step(t, np.concatenate([[1], s["survival"].to_numpy()]), where="post", color=color, label=label)
        ax.fill_between(t, np.concatenate([[1], s["ci_low"].to_numpy()]), np.concatenate([[1], s["ci_high"].to_numpy()]),
                        step="post", color=color, alpha=0.15, linewidth=0)
        risk = km.at_risk(times)
        for tt, r in zip(times, risk):
            tab.text(tt, n - 1 - i, f"{r:,}", ha="center", va="center", fontsize=8, color=color)
    plotting.percent_axis(ax, "y")
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("仍未流失的比例")
    ax.set_title(title)
    ax.legend(fontsize=8, frameon=False)
    tab.set_yticks(range(n))
    tab.set_yticklabels(list(curves)[::-1], fontsize=8)
    tab.set_ylim(-0.5, n - 0.5)
    tab.set_xticks(times)
    tab.set_xlabel(f"{xlabel}（下表：各时点仍在观察中的人数）")
    tab.grid(False)
    for side in ("top", "right", "left", "bottom"):
        tab.spines[side].set_visible(False)
    return fig


def calibration_chart(tables: dict, title: str = "校准曲线：预测流失率 vs 实际流失率", ax=None):
    """Predicted vs observed churn per bin, one line per model, with the diagonal."""
    ax = plotting._axes(ax, figsize=(6, 5))
    top = 0.0
    for i, (name, t) in enumerate(tables.items()):
        ax.plot(t["predicted"], t["observed"], marker="o", color=PALETTE[i], label=name)
        top = max(top, t["predicted"].max(), t["observed"].max())
    ax.plot([0, top], [0, top], color=NEUTRAL, linestyle="--", label="完美校准")
    plotting.percent_axis(ax, "x")
    plotting.percent_axis(ax, "y")
    ax.legend(frameon=False)
    return plotting._finish(ax, title, "预测流失概率（分箱均值）", "实际流失率")


def gains_chart(tables: dict, title: str = "累计增益：按风险排序联系前 x% 粉丝能覆盖多少流失", ax=None):
    ax = plotting._axes(ax, figsize=(6, 5))
    for i, (name, g) in enumerate(tables.items()):
        ax.plot(np.concatenate([[0], g["cumulative_fans_share"]]), np.concatenate([[0], g["cumulative_churn_captured"]]),
                marker="o", color=PALETTE[i], label=name)
    ax.plot([0, 1], [0, 1], color=NEUTRAL, linestyle="--", label="随机")
    plotting.percent_axis(ax, "x")
    plotting.percent_axis(ax, "y")
    ax.legend(frameon=False)
    return plotting._finish(ax, title, "联系的粉丝比例（按风险从高到低）", "覆盖的流失粉丝比例")


def roc_pr_chart(y, predictions: dict):
    """ROC and precision–recall curves side by side."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    plotting.use_theme()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.5))
    for i, (name, p) in enumerate(predictions.items()):
        fpr, tpr, _ = roc_curve(y, p)
        prec, rec, _ = precision_recall_curve(y, p)
        a1.plot(fpr, tpr, color=PALETTE[i], label=name)
        a2.plot(rec, prec, color=PALETTE[i], label=name)
    a1.plot([0, 1], [0, 1], color=NEUTRAL, linestyle="--")
    a2.axhline(float(np.mean(y)), color=NEUTRAL, linestyle="--", label="基准（整体流失率）")
    a1.set_title("ROC 曲线")
    a1.set_xlabel("误报率")
    a1.set_ylabel("召回率")
    a2.set_title("精确率–召回率曲线")
    a2.set_xlabel("召回率")
    a2.set_ylabel("精确率")
    a1.legend(frameon=False)
    a2.legend(frameon=False)
    return fig


def holdout_chart(table: pd.DataFrame, title: str = "BG/NBD 校准期 vs 验证期：每位顾客的平均购买次数", ax=None):
    """Grouped bars: predicted and actual holdout purchases by calibration frequency."""
    ax = plotting._axes(ax, figsize=(8, 4.5))
    x = np.arange(len(table))
    ax.bar(x - 0.2, table["predicted"], width=0.4, color=PALETTE[0], label="模型预测")
    ax.bar(x + 0.2, table["actual"], width=0.4, color=PALETTE[1], label="实际")
    ax.set_xticks(x)
    ax.set_xticklabels(table["frequency"])
    ax.legend(frameon=False)
    return plotting._finish(ax, title, "校准期复购次数", "验证期平均购买天数")
