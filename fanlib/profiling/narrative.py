"""Plain-language conclusions built from the computed figures (never hand-written claims)."""

from __future__ import annotations

import pandas as pd

from fanlib.profiling.layers import LAYER_NAMES, LayerShares, LayerTransitions

#: The planning documents' figure: high-value users give this share of community GMV.
PLANNED_HIGH_VALUE_GMV_SHARE = 0.684


def tier_finding(tiers: pd.DataFrame) -> str:
    hv = tiers.set_index("tier").loc["high_value"]
    if hv.gmv_share is None or pd.isna(hv.gmv_share):
        return "本期没有消费，无法计算各类粉丝的GMV占比 No spend in the window, so GMV shares are not defined."
    cmp = "高于" if hv.gmv_share > PLANNED_HIGH_VALUE_GMV_SHARE else "低于"
    return (f"高价值粉丝占粉丝的 {hv.share:.1%}，贡献了 {hv.gmv_share:.1%} 的GMV，{cmp}规划文件中的 "
            f"{PLANNED_HIGH_VALUE_GMV_SHARE:.1%}. High-value fans are {hv.share:.1%} of fans and bring "
            f"{hv.gmv_share:.1%} of GMV (planning documents: {PLANNED_HIGH_VALUE_GMV_SHARE:.1%}).")


def layer_finding(shares: LayerShares) -> str:
    t = shares.table.dropna(subset=["share"])
    if t.empty:
        return "没有可分层的粉丝 No fans to place in layers."
    worst = t.loc[t.gap.abs().idxmax()]
    parts = [f"{r['name']} {r.share:.1%} (目标 target {r.target:.0%})" for _, r in t.iterrows()]
    direction = "高于" if worst.gap > 0 else "低于"
    return ("；".join(parts) + f"。偏差最大的是{worst['name']}，{direction}目标 {abs(worst.gap) * 100:.1f} 个百分点 "
            f"(largest gap: {worst.layer}, {worst.gap * 100:+.1f} pp).")


def transition_finding(tr: LayerTransitions) -> str:
    s = tr.summary().set_index("previous")
    bits = []
    for layer in s.index:
        r = s.loc[layer]
        if r.fans:
            bits.append(f"{LAYER_NAMES[layer]}: 留存 stayed {r.stayed:.0%}, 上升 up {r.up:.0%}, 下降 down {r.down:.0%}")
    new = int(tr.counts.loc["new"].sum()) if "new" in tr.counts.index else 0
    return f"{tr.previous} → {tr.current}: " + "；".join(bits) + f"；新加入 new fans: {new:,}."


def segment_finding(model) -> str:
    return (f"按轮廓系数选择了 {model.k_} 个行为分群 (silhouette {model.scores_.silhouette.max():.2f})；"
            f"自助法重抽样的调整兰德指数平均 {model.ari_mean_:.2f}（≥0.8 视为稳定）。"
            f"Chose k = {model.k_} by silhouette; bootstrap ARI {model.ari_mean_:.2f} "
            f"({'stable' if model.ari_mean_ >= 0.8 else 'not stable: read the segments with care'}).")


def early_value_finding(m: dict) -> str:
    return (f"仅凭前 {m['early_days']} 天的行为，模型在测试期（{m['split_date']} 之后加入的粉丝）标记了 {m['flagged']:,} 人："
            f"精确率 {m['precision']:.0%}，召回率 {m['recall']:.0%}（基准比例 {m['test_base_rate']:.0%}）。"
            f"From day {m['early_days']} instead of day 45: precision {m['precision']:.0%}, recall {m['recall']:.0%} "
            f"among fans who joined from {m['split_date']} (base rate {m['test_base_rate']:.0%}; "
            f"high-value = ≥ ¥{m['high_value_spend_cny']:,.0f} in the first {m['horizon_days']} days).")
