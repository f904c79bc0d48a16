"""The profiling report's public face: :func:`analyse` runs every section of ``01_fan_profiling`` and
returns a :class:`ProfilingResult` holding what each section shows.

Each section runs on its own: what goes wrong in one (a data problem, a fault) is kept with the section
and raised again where the page shows it, inside the report's one section guard
(``result.sections.guard(title)`` around ``result.check(key)``), so the banner stands where the section
stands. A section that needs a failed one says so. The summary is built from whatever the sections
computed and is already partial, naming the sections that failed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from fanlib.data.errors import AttributeProblem
from fanlib.present.i18n import DEFAULT_CURRENCY, Messages, fmt_number, fmt_period, messages
from fanlib.present.notebook import Sections, Summary
from fanlib.profiling import narrative, portraits
from fanlib.profiling.early_value import EarlyValueModel, early_features
from fanlib.profiling.errors import ProfilingDataError
from fanlib.profiling.export import export_fans, fan_export_frame
from fanlib.profiling.layers import LayerRules, layer_shares, layer_transitions
from fanlib.profiling.profile import fan_profile, tier_shares
from fanlib.profiling.queries import community_kpis, kpi_trend
from fanlib.profiling.queries_content import best_hours
from fanlib.profiling.queries_features import fan_features
from fanlib.profiling.queries_orders import purchase_kpis
from fanlib.profiling.rfm import segment_value
from fanlib.profiling.segments import BehaviourSegments, segment_inputs
from fanlib.profiling.summary import profiling_summary
from fanlib.profiling.tiers import TierRules
from fanlib.profiling.window import resolve_as_of, window

#: Section key -> the message key of its title, in the order of the page.
SECTIONS = {
    "as_of": "title",
    "portraits": "sec_portraits",
    "compare": "sec_compare",
    "tiers": "sec_tiers",
    "rfm": "sec_rfm",
    "layers": "sec_layers",
    "transitions": "sec_transitions",
    "segments": "sec_segments",
    "early": "sec_early",
    "kpis": "sec_kpis",
    "groups": "sec_groups",
    "trend": "sec_trend",
    "content": "sec_content",
    "export": "sec_export",
}
#: The sections that give the report's main answer, who the fans are worth: without the analysis date or the
#: RFM value segments (from the orders alone) the report has failed; any other section missing makes it partial.
MAIN_SECTIONS = ("as_of", "rfm")
#: The sections that rest on interactions (table ``events``): on orders-only data each says so and is named
#: among the sections that could not be produced.
NEEDS_EVENTS = ("tiers", "layers", "transitions", "segments", "early", "kpis", "groups", "trend", "content")
#: The community KPIs charted month by month: (column, chart title key, shown as a share).
TREND_CHARTS = (
    ("dau_rate", "chart_trend_dau", True),
    ("speaking_rate", "chart_trend_speaking", True),
    ("messages_per_1k_day", "chart_trend_messages", False),
)
#: The portrait dimensions compared by fan class and community; the first two are charted too.
COMPARED = ("age_band", "gender", "city_tier", "occupation", "channel")
CHARTED_COMPARISONS = ("age_band", "channel")


@dataclass
class ProfilingResult:
    """What every section of the profiling report shows; a section that failed has its error in ``errors``."""

    T: Messages
    params: Mapping[str, Any]
    as_of: Any
    tier_rules: TierRules
    layer_rules: LayerRules
    #: What the sections computed, by key, and (once the page is shown) which sections failed.
    sections: Sections
    errors: dict[str, BaseException] = field(default_factory=dict)
    #: (dimension, its title, distribution with categories in the report's language, whether the categories
    #: are in their own order: age bands, quantile bins), one per portrait dimension: the built-in ones the
    #: data gives, then the team's own ``portrait_columns``.
    portraits: list[tuple[str, str, pd.DataFrame, bool]] = field(default_factory=list)
    #: (shares by group with labels in the report's language, chart title), in the order of the page.
    comparisons: list[tuple[pd.DataFrame, str]] = field(default_factory=list)
    comparison_findings: list[str] = field(default_factory=list)
    shown: dict[str, Any] = field(default_factory=dict)
    summary: Summary | None = None

    def check(self, key: str) -> None:
        """Raise the error that section ``key`` met, if any (inside the section's guard on the page)."""
        if key in self.errors:
            raise self.errors[key]

    def finish(self, path: Any) -> Summary:
        """Mark the summary partial for every section that failed on the page too, and write it to ``path``."""
        self.sections.mark(self.summary)
        self.summary.write(path)
        return self.summary


class _Runner:
    """Runs the sections of one report, keeping each one's error with its key."""

    def __init__(self, result: ProfilingResult):
        self.result = result

    @contextlib.contextmanager
    def section(self, key: str) -> Iterator[None]:
        try:
            yield
        except Exception as exc:  # noqa: BLE001 - a section's failure is shown on the page, not raised here
            self.result.errors[key] = exc


def rules(params: Mapping[str, Any]) -> tuple[TierRules, LayerRules]:
    """The fan-class and layer rules the report's parameters set."""
    p = params
    tier_rules = TierRules(
        p["high_value_top_share"],
        p["loyal_min_tenure_days"],
        p["loyal_min_orders"],
        p["active_min_interactions_per_30d"],
        p["active_min_shares"],
    )
    layer_rules = LayerRules(
        p["rfm_window_days"],
        p["core_min_interactions_per_30d"],
        p["core_min_orders"],
        p["active_layer_min_interactions_per_30d"],
        p["potential_min_intent_per_30d"],
        p["layer_min_present_days"],
    )
    return tier_rules, layer_rules


def analyse(fd: Any, params: Mapping[str, Any]) -> ProfilingResult:
    """Every section of the profiling report on ``fd``; ``params``: the notebook's parameters."""
    lang = params.get("lang", "zh")
    T = messages("fan_profiling", lang, currency=params.get("currency", DEFAULT_CURRENCY))
    S = Sections(T)
    tier_rules, layer_rules = rules(params)
    result = ProfilingResult(T, params, params.get("as_of"), tier_rules, layer_rules, S)
    run = _Runner(result)
    with run.section("as_of"):
        result.as_of = resolve_as_of(fd, params.get("as_of"))
    with run.section("portraits"):
        _portraits(fd, result)
    with run.section("compare"):
        _compare(fd, result)
    with run.section("tiers"):
        _needs_events(fd)
        _tiers(fd, result)
    with run.section("rfm"):
        _rfm(fd, result)
    with run.section("layers"):
        _needs_events(fd)
        _layers(fd, result)
    with run.section("transitions"):
        _needs_events(fd)
        _transitions(fd, result)
    with run.section("segments"):
        _needs_events(fd)
        _segments(fd, result)
    with run.section("early"):
        _needs_events(fd)
        _early(fd, result)
    with run.section("kpis"):
        if not fd.has("events"):  # orders-only data: the purchase figures, then the community KPIs are refused
            _purchase_kpis(fd, result)
        _needs_events(fd)
        _kpis(fd, result)
    with run.section("groups"):
        _needs_events(fd)
        S.need("kpis")
    with run.section("trend"):
        _needs_events(fd)
        result.shown["trend"] = kpi_trend(fd, result.as_of, 12)
    with run.section("content"):
        _needs_events(fd)
        _content(result)
    with run.section("export"):
        _export(fd, result)
    summary = profiling_summary(
        S,
        T,
        as_of=result.as_of,
        parameters={
            "rfm_window_days": params["rfm_window_days"],
            "kpi_window_days": params["kpi_window_days"],
            "segment_window_days": params["segment_window_days"],
            "tier_rules": tier_rules.as_dict(),
            "layer_rules": layer_rules.as_dict(),
        },
    )
    result.summary = summary.sections_failed([T(SECTIONS[k]) for k in SECTIONS if k in result.errors])
    if any(k in result.errors for k in MAIN_SECTIONS):
        result.summary["status"] = "failed"
    return result


def _needs_events(fd: Any) -> None:
    """Refuse a section that rests on interactions when the data has no events table (orders-only data)."""
    if not fd.has("events"):
        raise ProfilingDataError(
            "table 'events' is not in the data: this section rests on the fans' interactions", "needs_events"
        )


def _portraits(fd: Any, result: ProfilingResult) -> None:
    T, p = result.T, result.params
    try:
        base = portraits.portrait_base(
            fd, result.as_of, columns=p.get("portrait_columns") or [], bins=p.get("portrait_bins", 4)
        )
    except AttributeProblem as exc:  # said in the report's language, naming the column and the ones there are
        raise ProfilingDataError(
            str(exc), f"portrait_column_{exc.check}", column=exc.column, available=", ".join(exc.available) or "–"
        ) from exc
    result.sections["base"] = base
    codes = {}
    for d in base.all:
        own = d in base.own
        dist = portraits.distribution(fd, base, d)
        codes[d] = dist[["category", "fans", "share"]].copy()
        dist["category"] = [portraits.category_label(c, T, own) for c in dist.category]
        ordered = d == "age_band" or portraits.is_binned(dist)
        result.portraits.append((d, portraits.dimension_title(d, T), dist, ordered))
    result.sections["portraits"] = codes
    if base.absent:
        result.shown["portraits_absent"] = T(
            "portraits_absent", dims=T("list_sep").join(T(f"dim_{d}") for d in base.absent)
        )
    if not base.all:
        raise ProfilingDataError(
            "table 'fans' has none of the portrait columns (gender, age or birth_year, province, city_tier, "
            "occupation, channel) and no portrait_columns are named",
            "no_portrait_columns",
        )


def _compare(fd: Any, result: ProfilingResult) -> None:
    T, S, p = result.T, result.sections, result.params
    profile = fan_profile(fd, result.as_of, p["rfm_window_days"], result.tier_rules, result.layer_rules)
    S["profile"] = profile
    base = S.need("base")
    with_tier = base.table.join(profile.table.select("fan_id", "tier"), "fan_id")
    top = portraits.largest_groups(fd, base, "community_id", p["top_communities"])
    for d in [*[c for c in COMPARED if c in base.dimensions], *base.own]:
        own = d in base.own
        for group, groups, src in (("tier", None, with_tier), ("community_id", top, base.table)):
            if group == d or (group == "tier" and not profile.has_events):  # no fan classes without events
                continue
            b = portraits.breakdown(fd, src, d, group, groups, own=own)
            result.comparison_findings.append(b.finding(T))
            if d in CHARTED_COMPARISONS:
                shares = b.shares.rename(
                    columns=lambda c, own=own: portraits.category_label(c, T, own),
                    index=lambda g: T.label(f"tier_{g}", str(g)),
                )
                result.comparisons.append((shares, f"{T(f'dim_{d}')} × {T(f'group_{group}')}"))


def _tiers(fd: Any, result: ProfilingResult) -> None:
    T, S = result.T, result.sections
    profile = S.need("profile")
    tiers = tier_shares(fd, profile)
    S["tiers"] = tiers
    result.shown["tiers"] = tiers.assign(name=[T(f"tier_{t}") for t in tiers.tier])
    result.shown["tiers_caption"] = T(
        "cap_tiers",
        days=result.params["rfm_window_days"],
        threshold=T.money(profile.high_value_spend or 0),
    )
    result.shown["tiers_finding"] = narrative.tier_finding(tiers, T)


def _rfm(fd: Any, result: ProfilingResult) -> None:
    T, S = result.T, result.sections
    rfm = segment_value(fd, S.need("profile").table)
    result.shown["rfm_notes"] = rfm.notes
    S["rfm"] = rfm.table
    result.shown["rfm"] = rfm.table.assign(name=[T(f"rfm_{s}") for s in rfm.table.segment]).drop(columns="segment")


def _layers(fd: Any, result: ProfilingResult) -> None:
    T, S, lang = result.T, result.sections, result.T.lang
    layers = layer_shares(fd, S.need("profile").table)
    S["layers"] = layers
    result.shown["layers"] = layers.table.assign(name=[T(f"layer_{name}") for name in layers.table.layer])
    result.shown["layers_finding"] = narrative.layer_finding(layers, T)
    result.shown["layers_outside"] = T(
        "layers_outside",
        lapsed=fmt_number(layers.outside["lapsed"], "count", lang),
        unrated=fmt_number(layers.outside["unrated"], "count", lang),
        days=f"{result.params['layer_min_present_days']:g}",
    )


def _transitions(fd: Any, result: ProfilingResult) -> None:
    T, S = result.T, result.sections
    trans = layer_transitions(fd, result.as_of, result.layer_rules, result.params["layer_period_days"])
    S["transitions"] = trans
    names = {k: T(f"layer_{k}") for k in [*trans.counts.index, *trans.counts.columns]}
    counts = trans.counts.rename(index=names, columns=names)
    counts.index.name = T("col_previous")
    result.shown["transition_counts"] = counts
    result.shown["transitions_finding"] = narrative.transition_finding(trans, T)


def _segments(fd: Any, result: ProfilingResult) -> None:
    T, S, p = result.T, result.sections, result.params
    features = fan_features(fd, result.as_of, p["segment_window_days"])
    seg_X = fd.execute(segment_inputs(features, p["segment_min_span_days"]), label="profiling:segments")
    result.shown["segment_inputs"] = seg_X
    model = BehaviourSegments(n_bootstrap=p["n_bootstrap"]).fit(seg_X)
    S["segments"] = model
    result.shown["segments"] = model.summary.assign(description=model.describe(T).values).round(2)
    result.shown["segments_finding"] = narrative.segment_finding(model, T)


def _early(fd: Any, result: ProfilingResult) -> None:
    T, S, p, lang = result.T, result.sections, result.params, result.T.lang
    from fanlib.present.i18n import fmt_date

    data = fd.execute(early_features(fd, result.as_of, p["early_days"], p["horizon_days"]), label="profiling:early")
    early = EarlyValueModel(p["early_days"], p["horizon_days"]).fit(data)
    S["early"] = early.metrics_
    result.shown["early_model"] = early
    metrics = pd.DataFrame([early.metrics_]).drop(columns=["early_days", "horizon_days"])
    metrics["split_date"] = fmt_date(early.metrics_["split_date"], lang)
    result.shown["early"] = metrics
    result.shown["early_finding"] = narrative.early_value_finding(early.metrics_, T)


def _kpis(fd: Any, result: ProfilingResult) -> None:
    T, S, lang = result.T, result.sections, result.T.lang
    kpis = community_kpis(fd, result.as_of, result.params["kpi_window_days"])
    S["kpis"] = kpis
    card = kpis.scorecard(T)
    shown = card.copy()
    for col in ("value", "today", "target"):
        shown[col] = [T.fmt(v, u) for v, u in zip(card[col], card.unit, strict=True)]
    shown["status"] = card.good.map({True: T("status_met"), False: T("status_below")}).fillna("–")
    result.shown["scorecard"] = card
    result.shown["scorecard_table"] = shown[["label", "value", "today", "target", "status"]].rename(
        columns={"label": "kpi"}
    )
    result.shown["kpis_caption"] = T("cap_kpis", period=fmt_period(*kpis.window.period, lang=lang))
    result.shown["gaps"] = narrative.gaps_banner(card, T)


def _purchase_kpis(fd: Any, result: ProfilingResult) -> None:
    T, p = result.T, result.params
    figures = purchase_kpis(fd, result.as_of, p["kpi_window_days"])
    result.sections["purchase_kpis"] = figures
    shown = figures.assign(
        figure=[T(f"purchase_{f}") for f in figures.figure],
        value=[T.fmt(v, u) for v, u in zip(figures.value, figures.unit, strict=True)],
    )
    result.shown["purchase_kpis"] = shown[["figure", "value"]]
    result.shown["purchase_kpis_caption"] = T(
        "cap_purchase_kpis", period=fmt_period(*window(result.as_of, p["kpi_window_days"]).period, lang=T.lang)
    )


def _content(result: ProfilingResult) -> None:
    T, S, lang = result.T, result.sections, result.T.lang
    kpis = S.need("kpis")
    result.shown["content"] = kpis.content.assign(content_type=[T.label(c) for c in kpis.content.content_type])
    best = best_hours(kpis.hours)
    S["best_hours"] = best
    result.shown["best_hours"] = narrative.best_hours_text(best, T)
    steps = fmt_number(kpis.overall["touch_steps"], "number", lang)
    result.shown["funnel"] = kpis.funnel.assign(step=[T(f"step_{s}") for s in kpis.funnel.step])
    result.shown["funnel_caption"] = T("cap_funnel", steps=steps)


def _export(fd: Any, result: ProfilingResult) -> None:
    S, p = result.sections, result.params
    if not p["export"]:
        return
    seg_labels = None
    if "segments" in S:
        seg_labels = result.shown["segment_inputs"][["fan_id"]].assign(segment=S["segments"].labels_)
    frame = fan_export_frame(fd, S.need("profile"), seg_labels, currency=result.T.currency)
    result.shown["export"] = export_fans(frame, p["output_dir"], T=result.T, created=result.as_of)
