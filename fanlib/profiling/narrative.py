"""Plain-language conclusions built from the computed figures (never hand-written claims).

Every function takes ``T``, the ``fan_profiling`` :class:`fanlib.present.i18n.Messages` of the report's language.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from fanlib.metrics import CATALOGUE
from fanlib.present.i18n import fmt_date, fmt_number, fmt_period
from fanlib.profiling.benchmarks import biggest_gaps
from fanlib.profiling.layers import LAYERS, LayerShares, LayerTransitions

#: The planning documents' figure: high-value users give this share of community GMV (kept in the KPI catalogue).
PLANNED_HIGH_VALUE_GMV_SHARE = CATALOGUE["high_value_gmv_share"].target


def _pct(v, T, digits: int = 1) -> str:
    return fmt_number(v, "pct", T.lang, digits)


def tier_finding(tiers: pd.DataFrame, T: Any) -> str:
    hv = tiers.set_index("tier").loc["high_value"]
    if hv.gmv_share is None or pd.isna(hv.gmv_share):
        return T("finding_tiers_none")
    return T(
        "finding_tiers",
        share=_pct(hv.share, T),
        gmv_share=_pct(hv.gmv_share, T),
        planned=_pct(PLANNED_HIGH_VALUE_GMV_SHARE, T),
    )


def layer_finding(shares: LayerShares, T: Any) -> str:
    t = shares.table.dropna(subset=["share"])
    if t.empty:
        return T("finding_layers_none")
    worst = t.loc[t.gap.abs().idxmax()]
    sep = T("finding_sep")
    parts = sep.join(
        T("finding_layer_part", name=T(f"layer_{r.layer}"), share=_pct(r.share, T), target=_pct(r.target, T, 0))
        for r in t.itertuples()
    )
    return T(
        "finding_layers",
        parts=parts,
        worst=T(f"layer_{worst.layer}"),
        direction=T("finding_above" if worst.gap > 0 else "finding_below"),
        gap=fmt_number(abs(worst.gap), "pp", T.lang).lstrip("+"),
    )


def transition_finding(tr: LayerTransitions, T: Any) -> str:
    s = tr.summary().set_index("previous")
    sep = T("finding_sep")
    bits = [
        T(
            "finding_transition_part",
            name=T(f"layer_{layer}"),
            stayed=_pct(r.stayed, T, 0),
            up=_pct(r.up, T, 0),
            down=_pct(r.down, T, 0),
            lapsed=_pct(r.lapsed, T, 0),
        )
        for layer, r in s.iterrows()
        if layer in LAYERS and r.fans
    ]
    new = int(tr.counts.loc["new"].sum()) if "new" in tr.counts.index else 0
    return T(
        "finding_transitions",
        period=fmt_period(tr.previous, tr.current, T.lang),
        parts=sep.join(bits),
        new=fmt_number(new, "count", T.lang),
    )


def segment_finding(model: Any, T: Any) -> str:
    text = T(
        "finding_segments", k=model.k_, silhouette=f"{model.scores_.silhouette.max():.2f}", ari=f"{model.ari_mean_:.2f}"
    )
    return text if model.ari_mean_ >= 0.8 else f"{text} {T('finding_segments_unstable')}"


def early_value_finding(m: dict, T: Any) -> str:
    return T(
        "finding_early",
        early=m["early_days"],
        horizon=m["horizon_days"],
        split=fmt_date(m["split_date"], T.lang),
        flagged=fmt_number(m["flagged"], "count", T.lang),
        precision=_pct(m["precision"], T, 0),
        recall=_pct(m["recall"], T, 0),
        base=_pct(m["test_base_rate"], T, 0),
        line=T.money(m["high_value_spend_cny"]),
    )


def gaps_banner(card: pd.DataFrame, T: Any) -> tuple[str, str]:
    """The banner under the scorecard and its level: the KPIs furthest short of target, or that all meet it."""
    gaps = biggest_gaps(card, T=T)
    if gaps:
        return T("gaps_banner", gaps=T("gaps_sep").join(gaps)), "danger"
    return T("gaps_none"), "success"


def best_hours_text(best: pd.DataFrame, T: Any) -> str:
    """The best publishing hours as a sentence: each hour with its share of all interactions."""
    items = (
        T("best_hour_item", hour=f"{int(r.hour):02d}:00", share=fmt_number(r.share, "pct", T.lang))
        for r in best.itertuples()
    )
    return T("best_hours", hours=T("best_hour_sep").join(items))
