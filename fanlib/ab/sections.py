"""The A/B report's sections, each filling its part of the :class:`~fanlib.ab.result.ABResult`: the split
check of every experiment, the readout and its tables, the planner, every treatment's segments and daily
monitoring, and the difference-in-differences.

``fanlib.ab.analysis`` runs them, the optional ones inside the report's section guard.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fanlib.ab import did, hte, narrative, tables
from fanlib.ab import power as ab_power
from fanlib.ab import sequential as seq
from fanlib.ab.errors import ABInputError
from fanlib.ab.metrics import METRICS
from fanlib.ab.readout import all_experiments_srm, experiment_readout, unit_readout
from fanlib.ab.result import ABResult, SegmentView, SequentialView
from fanlib.ab.segment_columns import segment_units
from fanlib.present.escape import md_code, md_text


def treatments(result: ABResult) -> list[str]:
    """The readout's treatments (every variant but control), in the readout's order."""
    return list(dict.fromkeys(result.readout.lifts["variant"]))


def experiments(result: ABResult, fd: Any, p: dict[str, Any]) -> None:
    """The split check of every experiment in the data (none without an assignments table)."""
    T = result.T
    if not fd.has("assignments"):
        return
    overview = all_experiments_srm(fd, planned={p["experiment_id"]: p["planned_split"]}, alpha=p["srm_alpha"])
    shown = overview.assign(split=[T("one_variant_only") if s == "only one variant" else s for s in overview["split"]])
    result.experiments = tables.experiments_table(shown, T)
    result.experiment_banners = [
        T("srm_banner_exp", experiment=r.experiment_id, split=r.split, p=f"{r.p_value:.2g}")
        for r in shown[shown["failed"]].itertuples()
    ]
    result.summary["experiments"] = overview


def readout(result: ABResult, fd: Any, p: dict[str, Any]) -> None:
    """The experiment's readout, from the contract's tables or the user's own unit table."""
    T, summary = result.T, result.summary
    options = {
        k: p[k] for k in ("alpha", "srm_alpha", "correction", "relative_method", "use_cuped", "mde_relative", "power")
    }
    options.update(control=p["control"], planned_split=p["planned_split"])
    try:
        if p["unit_table"]:
            result.readout, result.units = unit_readout(
                fd,
                p["unit_table"],
                variant=p["unit_variant_column"],
                fan_id=p["unit_fan_column"],
                outcomes=p["unit_outcomes"],
                covariates=p["unit_covariates"],
                common_covariates=p["covariates"],
                guardrails=p["guardrails"],
                time_column=p["unit_time_column"],
                **options,
            )
        elif fd.has("assignments"):
            result.readout, result.units = experiment_readout(
                fd,
                p["experiment_id"],
                metrics=p["metrics"],
                window_days=p["window_days"],
                pre_days=p["pre_days"],
                primary=p["primary_metric"],
                guardrails=p["guardrails"],
                covariates=p["covariates"],
                **options,
            )
    except ABInputError as err:
        result.readout_error = err.text(T)
        summary["status"] = "failed"
        summary["error"] = str(err)
    if result.readout is None:  # no experiment in the data: the report is partial, naming the readout
        summary.sections_failed([T("h_readout")])


def readout_views(result: ABResult, p: dict[str, Any]) -> None:
    """The readout's banners, tables, sentences and forest chart."""
    T, ro = result.T, result.readout
    if p["unit_table"]:
        result.readout_line = T(
            "unit_readout_line", table=md_code(p["unit_table"]), control=md_code(ro.control), correction=p["correction"]
        )
    else:
        result.readout_line = T(
            "readout_line",
            experiment=md_code(ro.experiment_id),
            control=md_code(ro.control),
            window=p["window_days"],
            pre=p["pre_days"],
            correction=p["correction"],
        )
    result.srm_banner = (narrative.srm_sentence(ro.srm, T), "danger" if ro.srm.failed else "success")
    decision = ro.verdict.decision
    result.verdict_banner = (
        T(
            "verdict_banner",
            decision=narrative.decision_label(decision, T),
            text=narrative.verdict_sentence(ro.verdict, T, ro.srm),
        ),
        narrative.DECISION_LEVEL[decision],
    )
    result.note_banners = [narrative.notes_text([item], T) for item in ro.note_codes]
    result.variants = tables.variants_table(ro, T)
    result.lifts = tables.lifts_table(ro, T)
    result.lift_sentences = "\n".join("- " + narrative.lift_sentence(r, T) for _, r in ro.lifts.iterrows())
    result.cuped = tables.cuped_table(ro, T)
    if ro.guardrails:
        result.guardrails = tables.guardrails_table(ro, T)
        result.guardrail_banners = [
            (narrative.guardrail_sentence(x, T), tables.GUARDRAIL_LEVEL[x.status]) for x in ro.guardrails
        ]
    elif p["guardrails"]:  # set, but none could be read out (built from events the source lacks, not an outcome)
        names = ", ".join(md_text(narrative.metric_label(g, T)) for g in p["guardrails"])
        result.guardrails_absent = T("guardrails_left_out", names=names)
    result.power = tables.power_table(ro, T, p["mde_relative"])


def planner(result: ABResult, p: dict[str, Any]) -> None:
    """Fans per arm a new experiment on the primary metric would need."""
    ro = result.readout
    primary = ro.settings["primary"]
    ctl = ro.variants[(ro.variants["metric"] == primary) & (ro.variants["variant"] == ro.control)].iloc[0]
    plan = ab_power.planner(float(ctl["sd"]), float(ctl["mean"]), alpha=p["alpha"], power=p["power"])
    result.planner = tables.planner_table(plan, ro, result.T, alpha=p["alpha"], power=p["power"])
    result.summary["planner"] = plan


def segments(result: ABResult, fd: Any, p: dict[str, Any]) -> None:
    """Every treatment's effect per segment, kept as each is done (a failure still shows those before it)."""
    T, unit_table = result.T, bool(p["unit_table"])
    ro = result.readout
    metric = ro.metric_defs[ro.settings["primary"]] if unit_table else METRICS[p["segment_metric"]]
    metric = replace(metric, covariates=())  # a segment's effect is unadjusted; its column may be a covariate
    metric_name = narrative.metric_label(metric.name, T, metric.display)
    units, dimensions, notes = segment_units(
        fd, result.units, p["segments"], bins=p["segment_bins"], unit_table=unit_table
    )
    result.segment_notes = [narrative.notes_text([item], T) for item in notes]
    for variant in treatments(result):
        seg_table, seg_tests = hte.segment_readout(
            fd,
            units,
            metric,
            dimensions,
            control=p["control"],
            treatment=variant,
            alpha=p["alpha"],
            correction=p["correction"],
        )
        effects, interactions = tables.segment_tables(
            seg_table, seg_tests, T, unit=metric.unit, metric_name=metric_name, variant=variant
        )
        sentence = narrative.segments_sentence(seg_tests, T, p["alpha"])
        title = T("chart_segments", variant=variant)
        view = SegmentView(variant, seg_table, seg_tests, effects, interactions, sentence, title, metric.unit, T)
        result.segments.append(view)


def sequential(result: ABResult, fd: Any, p: dict[str, Any]) -> None:
    """The peeking-safe daily monitoring of every treatment against control (one engine query for all)."""
    T, ro = result.T, result.readout
    arms = treatments(result)
    if p["unit_table"]:  # a unit table with a time column: a look a day as its fans entered, on its primary outcome
        metric = ro.metric_defs[ro.settings["primary"]]
        by_arm = seq.unit_sequential_readouts(
            fd, result.units, metric, p["unit_time_column"], control=p["control"], treatments=arms, alpha=p["alpha"]
        )
    else:
        looks = seq.daily_looks(fd, p["experiment_id"], p["window_days"])
        metric = METRICS[p["sequential_metric"]]
        by_arm = seq.sequential_readouts(
            fd,
            p["experiment_id"],
            metric,
            looks,
            control=p["control"],
            treatments=arms,
            window_days=p["window_days"],
            alpha=p["alpha"],
        )
    name = narrative.metric_label(metric.name, T, metric.display)
    for variant in arms:
        table = by_arm[variant]
        result.sequential.append(
            SequentialView(
                variant,
                table,
                T("chart_sequential_arm", metric=name, variant=variant, control=p["control"]),
                metric.unit == "pct",
                T("seq_arm", variant=md_text(variant), control=md_text(p["control"]))
                + " "
                + narrative.sequential_sentence(table, T, p["alpha"], unit=metric.unit),
                T,
            )
        )


def difference_in_differences(result: ABResult, fd: Any, p: dict[str, Any]) -> None:
    """Difference-in-differences for the campaign that was not randomised."""
    T = result.T
    panel = did.build_panel(fd, p["did_start"], pre_weeks=p["did_pre_weeks"], post_weeks=p["did_post_weeks"])
    did_res = result.did_result = did.fit_did(panel, p["did_communities"], alpha=p["alpha"])
    result.did_trends, result.did_start = did.trends(panel, p["did_communities"]), p["did_start"]
    result.did_sentence = narrative.did_sentence(did_res, T, p["alpha"])
    result.did_caveat = narrative.did_caveat(did_res, T)
