"""The report's tables as readers see them: metrics named, code values in words, figures formatted.

Each function takes a section's result and the report's ``Messages`` and returns a :class:`Table` (the
frame, its caption and the column formats ``fanlib.present.notebook.localized_table`` applies), so the
notebook only shows them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from fanlib.ab import narrative
from fanlib.ab.comparison import Readout
from fanlib.present.i18n import fmt_number

#: The banner level of each guardrail status.
GUARDRAIL_LEVEL = {"fine": "success", "at risk": "warning", "violated": "danger"}

_LIFT_COLUMNS = [
    "label",
    "variant",
    "control_mean",
    "variant_mean",
    "absolute",
    "absolute_low",
    "absolute_high",
    "relative",
    "relative_low",
    "relative_high",
    "relative_trusted",
    "p_value",
    "p_adjusted",
    "estimate_source",
    "test",
    "note",
]
_CUPED_COLUMNS = [
    "label",
    "variant",
    "raw_absolute",
    "raw_low",
    "raw_high",
    "absolute",
    "absolute_low",
    "absolute_high",
    "covariates",
    "variance_reduction",
    "cuped_applied",
    "cuped_note",
]


@dataclass(frozen=True)
class Table:
    """A table of the page: what it shows, its caption, and how its columns are formatted."""

    frame: pd.DataFrame
    caption: str
    formats: dict[str, str] = field(default_factory=dict)


def _unit_of(ro: Readout) -> dict[str, str]:
    return dict(zip(ro.lifts["metric"], ro.lifts["unit"], strict=True))


def experiments_table(overview: pd.DataFrame, T: Any) -> Table:
    """The split check of every experiment in the data."""
    return Table(narrative.value_labels(overview, T, "failed"), T("cap_srm_all"), {"n": "count"})


def variants_table(ro: Readout, T: Any) -> Table:
    """n, mean, standard error and standard deviation per metric and variant."""
    unit_of = _unit_of(ro)
    shown = narrative.format_columns(
        narrative.relabel(ro.variants, T), T, [unit_of[m] for m in ro.variants["metric"]], values=["mean", "se", "sd"]
    )
    return Table(shown.drop(columns=["metric"]), T("cap_variants"), {"n": "count"})


def lifts_table(ro: Readout, T: Any) -> Table:
    """Absolute and relative lifts with their intervals, raw and corrected p-values, and caveats."""
    lifts = narrative.relabel(ro.lifts, T)
    lifts["note"] = [narrative.notes_text(c, T) for c in lifts["note_codes"]]
    lifts["test"] = [narrative.test_label(m, k, T) for m, k in zip(lifts["test"], lifts["kind"], strict=True)]
    shown = narrative.format_columns(
        lifts[_LIFT_COLUMNS],
        T,
        lifts["unit"],
        values=["control_mean", "variant_mean"],
        diffs=["absolute", "absolute_low", "absolute_high"],
        pvalues=["p_value", "p_adjusted"],
    )
    return Table(
        narrative.value_labels(shown, T, "relative_trusted", "estimate_source"),
        T("cap_lifts"),
        {"relative": "pct", "relative_low": "pct", "relative_high": "pct"},
    )


def cuped_table(ro: Readout, T: Any) -> Table:
    """The lifts before and after the CUPED adjustment, and the variance it removed."""
    cu = narrative.relabel(ro.lifts, T)
    enabled = bool(ro.settings.get("cuped", True))
    cu["cuped_note"] = [narrative.cuped_note(r, T, enabled) for _, r in ro.lifts.iterrows()]
    cu["covariates"] = [", ".join(c) if enabled else "–" for c in ro.lifts["covariates"]]
    cu = cu[_CUPED_COLUMNS]
    diffs = ["raw_absolute", "raw_low", "raw_high", "absolute", "absolute_low", "absolute_high"]
    cu = narrative.format_columns(cu, T, ro.lifts["unit"], diffs=diffs)
    return Table(narrative.value_labels(cu, T, "cuped_applied"), T("cap_cuped"), {"variance_reduction": "pct"})


def guardrails_table(ro: Readout, T: Any) -> Table:
    """Each guardrail's estimate, worst bound, allowed drop and status."""
    g = pd.DataFrame(
        [
            {
                "metric": narrative.metric_label(x.metric, T),
                "variant": x.variant,
                "margin": x.margin,
                "estimate": x.estimate,
                "worst_bound": x.worst_bound,
                "allowed": -x.margin_abs,
                "status": x.status,
                "reading": narrative.guardrail_sentence(x, T),
            }
            for x in ro.guardrails
        ]
    )
    unit_of = _unit_of(ro)
    g = narrative.format_columns(
        g, T, [unit_of[x.metric] for x in ro.guardrails], diffs=["estimate", "worst_bound", "allowed"]
    )
    return Table(narrative.value_labels(g, T, "status"), T("cap_guardrails"), {"margin": "pct"})


def power_table(ro: Readout, T: Any, mde_relative: float) -> Table:
    """This experiment's power for the planned effect, and the effect it could detect."""
    unit_of = _unit_of(ro)
    shown = narrative.format_columns(
        narrative.relabel(ro.power, T),
        T,
        [unit_of[m] for m in ro.power["metric"]],
        diffs=["mde_absolute", "detectable_absolute"],
    )
    return Table(
        shown.drop(columns=["metric"]),
        T("cap_power", mde=fmt_number(mde_relative, "pct", T.lang, 0)),
        {
            "achieved_power": "pct",
            "detectable_relative": "pct",
            "mde_relative": "pct",
            "n_per_arm_needed": "count",
            "n_per_arm": "count",
        },
    )


def planner_table(plan: pd.DataFrame, ro: Readout, T: Any, *, alpha: float, power: float) -> Table:
    """Fans per arm a new experiment on the primary metric needs, for a few effect sizes."""
    primary = ro.settings["primary"]
    ctl = ro.variants[(ro.variants["metric"] == primary) & (ro.variants["variant"] == ro.control)].iloc[0]
    return Table(
        narrative.format_columns(plan, T, _unit_of(ro)[primary], values=["baseline"], diffs=["mde"]),
        T(
            "cap_planner",
            metric=narrative.metric_label(primary, T, ctl["label"]),
            power=fmt_number(power, "pct", T.lang, 0),
            alpha=alpha,
        ),
        {"mde_relative": "pct", "per_arm": "count", "total": "count"},
    )


def segment_tables(
    seg_table: pd.DataFrame, seg_tests: pd.DataFrame, T: Any, *, unit: str, metric_name: str, variant: str
) -> tuple[Table, Table]:
    """One variant's effect per segment, and the heterogeneity test per dimension."""
    effects = Table(
        narrative.segment_table(seg_table, T, unit),
        T("cap_segments", metric=metric_name, variant=variant),
        {"n_control": "count", "n_treatment": "count"},
    )
    return effects, Table(narrative.interaction_table(seg_tests, T), T("cap_interactions"))
