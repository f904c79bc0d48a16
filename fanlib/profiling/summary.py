"""The report's summary JSON (``01_fan_profiling.summary.json``), built from the sections' results.

Headline keys the executive overview reads (params/targets.yaml): ``members`` (count), ``dau_rate``,
``ugc_share`` and ``conversion_rate`` (shares as fractions). The other keys: tier and layer shares,
every KPI with its benchmarks, the segment count and the GMV share of the top tier.
"""

from __future__ import annotations

from typing import Any

from fanlib.metrics import name as metric_name
from fanlib.present.notebook import Summary
from fanlib.profiling.benchmarks import BENCHMARKS, biggest_gaps
from fanlib.profiling.layers import LAYER_TARGETS
from fanlib.profiling.narrative import PLANNED_HIGH_VALUE_GMV_SHARE

#: KPIs shown as headline figures (the first three are read by the executive overview).
HEADLINE_KPIS = ("dau_rate", "ugc_share", "conversion_rate", "speaking_rate", "retention_7d", "messages_per_1k_day")


def profiling_summary(results: dict, T: Any, as_of: Any = None, parameters: dict | None = None) -> Summary:
    """The summary of whatever sections computed; ``status`` is ``partial`` when a section is missing."""
    needed = ("tiers", "layers", "kpis", "segments")
    s = Summary(
        "01_fan_profiling",
        as_of=as_of,
        status="ok" if all(k in results for k in needed) else "partial",
        currency=getattr(T, "currency", "CNY"),
    )
    s["missing_sections"] = [k for k in needed if k not in results]
    if "kpis" in results:
        kpis = results["kpis"]
        card = kpis.scorecard(T)
        s.headline("members", int(kpis.overall["members"]), label=metric_name("members", T.lang), unit="count")
        by_key = card.set_index("kpi")
        for key in HEADLINE_KPIS:
            r = by_key.loc[key]
            s.headline(
                key, r.value, label=r.label, unit=r.unit, target=r.target, higher_is_better=bool(r.higher_is_better)
            )
        s["kpis"] = card
        s["kpi_window"] = {"start": kpis.window.start.date(), "as_of": kpis.window.as_of, "days": kpis.window.days}
        s["kpi_by_channel"] = kpis.by_channel
        s["biggest_gaps"] = biggest_gaps(card, T=T)
        s["notes_kpis"] = [n.text(T) for n in kpis.notes]
    if "portraits" in results:  # dimension -> [{category (a code or the team's own value), fans, share}]
        s["portraits"] = {d: dist.to_dict(orient="records") for d, dist in results["portraits"].items()}
    if "tiers" in results:
        tiers = results["tiers"].set_index("tier")
        hv = tiers.loc["high_value"]
        s.headline(
            "high_value_gmv_share",
            hv.gmv_share,
            label=T("hl_high_value_gmv_share"),
            unit="pct",
            target=PLANNED_HIGH_VALUE_GMV_SHARE,
        )
        s["tiers"] = {t: {"fans": int(r.fans), "share": r.share, "gmv_share": r.gmv_share} for t, r in tiers.iterrows()}
        s["top_tier_gmv_share"] = hv.gmv_share
    if "layers" in results:
        layers = results["layers"]
        lt = layers.table.set_index("layer")
        s.headline(
            "core_layer_share",
            lt.loc["core", "share"],
            label=T("hl_core_layer_share"),
            unit="pct",
            target=LAYER_TARGETS["core"],
        )
        s["layers"] = {k: {"fans": int(r.fans), "share": r.share, "target": r.target} for k, r in lt.iterrows()}
        s["layers_outside"] = layers.outside
    if "transitions" in results:
        s["layer_transitions"] = results["transitions"].counts.to_dict(orient="index")
    if "segments" in results:
        m = results["segments"]
        s.headline("segment_count", m.k_, label=T("hl_segment_count"), unit="count")
        s["segment_count"] = m.k_
        s["segments"] = {
            "k": m.k_,
            "criterion": "silhouette",
            "bootstrap_ari_mean": m.ari_mean_,
            "clusters": m.summary.assign(description=m.describe(T).values),
        }
    if "purchase_kpis" in results:  # orders-only data: the purchase figures of the KPI window
        s["purchase_kpis"] = dict(zip(results["purchase_kpis"].figure, results["purchase_kpis"].value, strict=True))
    if "rfm" in results:
        s["rfm_segments"] = results["rfm"][["segment", "fans", "fan_share", "gmv", "gmv_share"]]
    if "early" in results:
        s["early_value"] = results["early"]
    if "best_hours" in results:
        s["best_hours"] = results["best_hours"]
    s["benchmarks"] = {
        k: {"unit": u, "today": today, "target": target, "higher_is_better": hib}
        for k, (u, today, target, hib) in BENCHMARKS.items()
    }
    if parameters:
        s["parameters"] = parameters
    return s
