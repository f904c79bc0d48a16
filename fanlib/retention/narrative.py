"""Plain-language conclusions generated from the retention figures, and a guard for report sections.

Every sentence is built from the numbers passed in, so the report never states
a claim its data do not support.
"""

from __future__ import annotations

import contextlib
import traceback

import numpy as np
import pandas as pd

from .activity import RetentionInputError
from .survival import SurvivalInputError

__all__ = ["guarded", "retention_findings", "cox_findings", "churn_findings", "clv_findings", "pct"]

DRIVER_LABELS = {
    "checkin": "参与签到 check-in participant",
    "negative_commenter": "发过负面评论 negative commenter",
}


def pct(x: float, digits: int = 1) -> str:
    return "–" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:.{digits}%}"


def driver_label(name: str) -> str:
    if name in DRIVER_LABELS:
        return DRIVER_LABELS[name]
    if name.startswith("channel["):
        return f"渠道 channel {name[8:-1]}（对比 wechat）"
    if name.startswith("city_tier["):
        return f"城市线级 tier {name[10:-1]}（对比一线）"
    return name


@contextlib.contextmanager
def guarded(section: str):
    """Run a report section; on bad input show a clear banner instead of a traceback."""
    from fanlib.report import banner

    try:
        yield
    except (RetentionInputError, SurvivalInputError, ValueError) as err:
        banner(f"{section}：本节未生成 Section not available — {err}", "warning")
    except Exception as err:  # noqa: BLE001 - a report must finish and say what went wrong
        last = traceback.extract_tb(err.__traceback__)[-1]
        banner(f"{section}：计算出错 Section failed — {type(err).__name__}: {err} "
               f"({last.filename.rsplit('/', 1)[-1]}:{last.lineno})", "danger")


def retention_findings(day_n: pd.DataFrame) -> list[str]:
    """Bullets comparing D-N retention with the planning documents' benchmarks."""
    out = []
    for row in day_n.itertuples():
        text = (f"第 {row.day} 天留存 D{row.day} retention：{pct(row.rate_on)}（当天回访 returned on the day），"
                f"{pct(row.rate_on_or_after)}（当天或之后回访 on or after）；基于 {row.eligible:,} 名已满 {row.day} 天的粉丝")
        if row.healthy is not None and not pd.isna(row.healthy):
            verdict = "达到" if row.rate_on >= row.healthy else "低于"
            text += f"，{verdict}健康线 {pct(row.healthy, 0)} (healthy benchmark)"
        if row.current_industry is not None and not pd.isna(row.current_industry):
            better = "高于" if row.rate_on > row.current_industry else "不高于"
            text += f"，{better}规划文档中的现状 {pct(row.current_industry)}"
        out.append(text + "。")
    return out


def cox_findings(summary: pd.DataFrame, ph: pd.DataFrame | None = None, alpha: float = 0.05) -> list[str]:
    """Bullets on the drivers whose hazard ratio differs from 1, strongest first, and on the PH check."""
    s = summary[summary["p"] < alpha].copy()
    s["strength"] = np.abs(np.log(s["hazard_ratio"]))
    out = []
    for name, r in s.sort_values("strength", ascending=False).iterrows():
        direction = "提高" if r["hazard_ratio"] > 1 else "降低"
        change = abs(r["hazard_ratio"] - 1)
        out.append(f"{driver_label(name)}：流失风险{direction} {change:.0%}（HR {r['hazard_ratio']:.2f}，"
                   f"95% CI {r['hr_low']:.2f}–{r['hr_high']:.2f}）。")
    quiet = [driver_label(n) for n in summary.index if n not in s.index]
    if quiet:
        out.append("与流失无显著关系 No significant effect: " + "、".join(quiet) + "。")
    if ph is not None:
        bad = [driver_label(n) for n in ph.index[~ph["proportional"]]]
        if bad:
            out.append("比例风险检验提示以下因素的作用随时间变化，其 HR 应理解为平均效应：" + "、".join(bad) + "。")
        else:
            out.append("比例风险检验未发现违背 (proportional-hazards check passed for every driver)。")
    return out


def churn_findings(metrics: pd.DataFrame, best: str, gains: pd.DataFrame) -> list[str]:
    """Bullets on model quality in words an operator can act on."""
    m = metrics.loc[best]
    names = {"logistic": "逻辑回归 logistic regression", "boosting": "梯度提升 gradient boosting"}
    top = gains.iloc[0]
    out = [f"效果更好的模型是{names.get(best, best)}：ROC-AUC {m['roc_auc']:.3f}，PR-AUC {m['pr_auc']:.3f}，"
           f"校准误差 ECE {m['ece']:.3f}（预测概率与实际流失率平均相差 {m['ece']:.1%}）。",
           f"按模型风险排序联系前 10% 的粉丝，其流失率为 {pct(top['churn_rate'])}，是整体 {pct(m['base_rate'])} 的 "
           f"{top['lift']:.1f} 倍 (top-decile lift)；联系前 30% 可覆盖 {pct(gains.iloc[2]['cumulative_churn_captured'])} 的流失粉丝。"]
    if m["roc_auc"] < 0.65:
        out.append("AUC 不高说明在近期活跃的粉丝中，谁会离开主要取决于少数驱动因素（见上节生存分析），"
                   "名单应与这些因素一起使用。")
    return out


def clv_findings(params: pd.Series, total_clv: float, n: int, horizon_days: int, holdout: pd.DataFrame,
                 unit_days: float = 1.0) -> list[str]:
    """Bullets on the BG/NBD/Gamma-Gamma results and the holdout check."""
    r, alpha, a, b = params["r"], params["alpha"], params["a"], params["b"]
    rate = r / alpha / unit_days * 30
    drop = a / (a + b)
    pred, act = holdout["predicted"] * holdout["customers"], holdout["actual"] * holdout["customers"]
    err = (pred.sum() - act.sum()) / act.sum() if act.sum() else np.nan
    return [f"活跃买家平均每 30 天购买 {rate:.2f} 次 (mean purchase rate)；每次购买后流失的平均概率为 {drop:.1%}。",
            f"{n:,} 名买家未来 {horizon_days} 天的预测总价值 (折现后 CLV) 为 ¥{total_clv:,.0f}，"
            f"人均 ¥{total_clv / max(n, 1):,.0f}。",
            f"验证期检验：模型预测购买 {pred.sum():,.0f} 次，实际 {act.sum():,.0f} 次，偏差 {err:+.1%}。"]
