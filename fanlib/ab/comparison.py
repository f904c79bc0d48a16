"""The comparison of every variant with control, from per-variant moments: the SRM check, per-variant
statistics, lifts, multiple-testing correction, CUPED, guardrails, power and the verdict.

``analyze`` needs only the moments (a few numbers per variant), so it runs the same on the contract's
tables, a user's export or in-memory test data; ``fanlib.ab.readout`` gets the moments from the engine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from fanlib.ab.cuped import cuped
from fanlib.ab.errors import ABInputError
from fanlib.ab.guardrails import GuardrailResult, check_guardrail
from fanlib.ab.lifts import MIN_N_INTERVAL, MIN_N_RELATIVE, absolute_lift, relative_lift
from fanlib.ab.metrics import Metric
from fanlib.ab.multiple import adjust
from fanlib.ab.notes import describe, note
from fanlib.ab.power import lift_power
from fanlib.ab.srm import SRM_ALPHA, SRM_MIN_EXPECTED, SRMResult, srm_check
from fanlib.ab.stats import Moments, variant_stats
from fanlib.ab.verdict import DONT_SHIP, INCONCLUSIVE, SHIP, WITHHELD, Verdict, decide


@dataclass
class Readout:
    """Everything the report shows about one experiment."""

    experiment_id: str
    control: str
    srm: SRMResult
    variants: pd.DataFrame
    lifts: pd.DataFrame
    guardrails: list[GuardrailResult]
    power: pd.DataFrame
    verdicts: list[Verdict]
    verdict: Verdict
    note_codes: list = field(default_factory=list)  # caveats as (code, fields), rendered in the report's language
    settings: dict = field(default_factory=dict)
    metric_defs: dict = field(default_factory=dict, repr=False)  # name -> Metric, as read out

    @property
    def notes(self) -> list[str]:
        """The caveats in English (as written to the summary JSON)."""
        return [describe([c]) for c in self.note_codes]

    def add_note(self, code: str, **fields: Any) -> None:
        item = note(code, **fields)
        if item not in self.note_codes:
            self.note_codes.append(item)

    def summary(self) -> dict:
        """The JSON-able section for ``02_ab_campaign.summary.json``."""
        cols = [
            "metric",
            "variant",
            "kind",
            "estimate_source",
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
            "variance_reduction",
            "covariates",
            "test",
        ]
        return {
            "experiment_id": self.experiment_id,
            "control": self.control,
            "srm": {
                "p_value": self.srm.p_value,
                "chi2": self.srm.chi2,
                "failed": self.srm.failed,
                "counts": self.srm.counts,
                "planned": self.srm.planned,
                "alpha": self.srm.alpha,
            },
            "verdict": {
                "decision": self.verdict.decision,
                "reason": self.verdict.reason,
                "text": self.verdict.text,
                "variant": self.verdict.variant,
            },
            "verdicts": [
                {"variant": v.variant, "decision": v.decision, "reason": v.reason, "text": v.text}
                for v in self.verdicts
            ],
            "metrics": self.lifts[cols].to_dict(orient="records"),
            "guardrails": [
                {
                    "metric": g.metric,
                    "variant": g.variant,
                    "margin": g.margin,
                    "status": g.status,
                    "worst_bound": g.worst_bound,
                }
                for g in self.guardrails
            ],
            "settings": self.settings,
            "notes": self.notes,
        }


def _stats(m: Moments, metric: Metric):
    return variant_stats(m, metric.kind, metric.column, metric.denominator)


def analyze(
    moments: dict[str, dict[str, Moments]],
    metrics: dict[str, Metric],
    *,
    control: str,
    planned_split: dict[str, float] | None = None,
    primary: str | None = None,
    guardrails: dict[str, float] | None = None,
    alpha: float = 0.05,
    srm_alpha: float = SRM_ALPHA,
    correction: str = "holm",
    relative_method: str = "fieller",
    use_cuped: bool = True,
    mde_relative: float = 0.05,
    power: float = 0.8,
    min_n_relative: int = MIN_N_RELATIVE,
    experiment_id: str = "experiment",
) -> Readout:
    """Compute the readout from ``{metric: {variant: Moments}}``.

    ``guardrails`` maps metric name -> non-inferiority margin (relative to the control mean);
    guardrail metrics are judged by their margin, the others by their (corrected) p-values.
    """
    guardrails = dict(guardrails or {})
    unknown = [m for m in [primary, *guardrails] if m and m not in metrics]
    if unknown:
        raise ABInputError(
            f"metrics {unknown} are not defined; available: {sorted(metrics)}",
            check="metric names",
            code="unknown_metrics",
            fields={"metrics": ", ".join(unknown), "available": ", ".join(sorted(metrics))},
        )
    primary = primary or next(iter(metrics))
    first = moments[next(iter(moments))]
    counts = {v: int(m.n) for v, m in first.items()}
    if control not in counts:
        raise ABInputError(
            f"control variant {control!r} not found; variants are {sorted(counts)}",
            table="assignments",
            column="variant",
            check="control present",
            code="no_control",
            fields={"control": control, "variants": ", ".join(sorted(counts))},
        )
    if len(counts) < 2:
        raise ABInputError(
            f"only one variant ({next(iter(counts))!r}); a comparison needs at least two",
            table="assignments",
            column="variant",
            check="at least two variants",
            code="one_variant",
            fields={"variant": next(iter(counts)), "n": next(iter(counts.values()))},
        )
    plan = planned_split or {v: 1.0 for v in counts}
    srm = srm_check(counts, plan, srm_alpha)
    treatments = [v for v in sorted(counts) if v != control]
    note_codes: list = []
    for v in sorted(counts):
        if counts[v] < MIN_N_INTERVAL:
            note_codes.append(note("arm_too_small", variant=v, n=counts[v], min_n=MIN_N_INTERVAL))
    if min((e for e in srm.expected.values() if e > 0), default=0) < SRM_MIN_EXPECTED:
        note_codes.append(note("srm_small_sample", n=sum(counts.values()), min_expected=SRM_MIN_EXPECTED))
    vrows, lrows = [], []
    for name, metric in metrics.items():
        by_v = moments[name]
        st = {v: _stats(m, metric) for v, m in by_v.items()}
        for v in sorted(st):
            s = st[v]
            vrows.append(
                {
                    "metric": name,
                    "label": metric.display,
                    "variant": v,
                    "n": s.n,
                    "mean": s.mean,
                    "se": s.se,
                    "sd": math.sqrt(s.variance) if math.isfinite(s.variance) else math.nan,
                }
            )
        c = st[control]
        if metric.kind == "proportion":
            for v, s in st.items():
                if s.sum == 0 and note("zero_conversions", metric=name, variant=v) not in note_codes:
                    note_codes.append(note("zero_conversions", metric=name, variant=v))
        for v in treatments:
            t = st[v]
            ab = absolute_lift(t, c, alpha)
            rel = relative_lift(
                t.mean,
                t.se,
                c.mean,
                c.se,
                n_min=min(t.n, c.n),
                alpha=alpha,
                method=relative_method,
                df=ab.df,
                min_n=min_n_relative,
            )
            row = {
                "metric": name,
                "label": metric.display,
                "kind": metric.kind,
                "unit": metric.unit,
                "higher_is_better": metric.higher_is_better,
                "guardrail": name in guardrails,
                "variant": v,
                "n_control": c.n,
                "n_variant": t.n,
                "control_mean": c.mean,
                "variant_mean": t.mean,
                "raw_absolute": ab.estimate,
                "raw_low": ab.low,
                "raw_high": ab.high,
                "raw_se": ab.se,
                "raw_p_value": ab.p_value,
                "raw_relative": rel.estimate,
                "raw_relative_low": rel.low,
                "raw_relative_high": rel.high,
                "raw_test": ab.method,
                "variance_reduction": math.nan,
                "cuped_applied": False,
                "cuped_codes": [],
                "covariates": list(metric.covariates) if metric.kind != "ratio" else [],
                "n_covariates": len(metric.covariates),
                "note": "; ".join(dict.fromkeys(filter(None, [ab.note, rel.note]))),
                "note_codes": _unique([*ab.codes, *rel.codes]),
            }
            chosen_abs, chosen_rel, source = ab, rel, "unadjusted"
            if (
                use_cuped
                and metric.covariates
                and metric.kind != "ratio"
                and min(t.n, c.n) > len(metric.covariates) + 2
            ):
                cu = cuped(
                    by_v[v],
                    by_v[control],
                    metric.column,
                    metric.covariates,
                    alpha=alpha,
                    relative_method=relative_method,
                    min_n_relative=min_n_relative,
                )
                row.update(
                    variance_reduction=cu.variance_reduction, cuped_applied=cu.applied, cuped_codes=list(cu.codes)
                )
                if cu.applied:
                    chosen_abs, chosen_rel, source = cu.absolute, cu.relative, "cuped"
                elif cu.note and cu.note not in row["note"]:
                    row["note"] = "; ".join(filter(None, [row["note"], cu.note]))
                    row["note_codes"] = row["note_codes"] + list(cu.codes)
            row.update(
                estimate_source=source,
                absolute=chosen_abs.estimate,
                absolute_low=chosen_abs.low,
                absolute_high=chosen_abs.high,
                se=chosen_abs.se,
                p_value=chosen_abs.p_value,
                relative=chosen_rel.estimate,
                relative_low=chosen_rel.low,
                relative_high=chosen_rel.high,
                relative_trusted=chosen_rel.trusted,
                relative_note=chosen_rel.note,
                relative_codes=list(chosen_rel.codes),
                test=chosen_abs.method,  # the test behind the p-value shown: CUPED's Welch t replaces a z-test
            )
            lrows.append(row)
    variants = pd.DataFrame(vrows)
    lifts = pd.DataFrame(lrows)
    lifts["p_adjusted"] = adjust(lifts["p_value"], correction)
    lifts["significant"] = lifts["p_adjusted"] < alpha
    # power: for the planned relative MDE, and the MDE this experiment could detect
    power_table = lift_power(lifts, variants, control, mde_relative=mde_relative, alpha=alpha, power=power)
    guard_results = []
    for r in lifts[lifts["guardrail"]].itertuples():
        guard_results.append(
            check_guardrail(
                r.metric,
                r.variant,
                r.absolute,
                r.absolute_low,
                r.absolute_high,
                r.control_mean,
                guardrails[r.metric],
                r.higher_is_better,
            )
        )
    verdicts = []
    for v in treatments:
        sub = lifts[lifts["variant"] == v]

        def entry(metric_name: str, sub: pd.DataFrame = sub) -> dict:
            r = sub[sub["metric"] == metric_name].iloc[0]
            return {
                "metric": metric_name,
                "name": metrics[metric_name].display.split(" ", 1)[-1],
                "estimate": r["absolute"],
                "low": r["absolute_low"],
                "high": r["absolute_high"],
                "p_adjusted": r["p_adjusted"],
                "unit": r["unit"],
                "higher_is_better": bool(r["higher_is_better"]),
                "se": r["se"],
                "n_min": int(min(r["n_control"], r["n_variant"])),
            }

        secondaries = [entry(m) for m in metrics if m != primary and m not in guardrails]
        mde_abs = mde_relative * abs(sub[sub["metric"] == primary]["control_mean"].iloc[0])
        verdicts.append(
            decide(
                v,
                entry(primary),
                secondaries,
                [g for g in guard_results if g.variant == v],
                srm_failed=srm.failed,
                srm_message=srm.message,
                alpha=alpha,
                mde=mde_abs,
            )
        )
    verdict = _overall(verdicts, lifts, primary)
    settings = {
        "alpha": alpha,
        "srm_alpha": srm_alpha,
        "correction": correction,
        "relative_method": relative_method,
        "cuped": use_cuped,
        "primary": primary,
        "guardrails": guardrails,
        "mde_relative": mde_relative,
        "power": power,
        "planned_split": srm.planned,
    }
    return Readout(
        experiment_id,
        control,
        srm,
        variants,
        lifts,
        guard_results,
        power_table,
        verdicts,
        verdict,
        note_codes,
        settings,
    )


def _unique(codes) -> list:
    """Caveats in order, each once (the absolute and the relative lift may give the same one)."""
    out: list = []
    for c in codes:
        if c not in out:
            out.append(c)
    return out


def _overall(verdicts: list[Verdict], lifts: pd.DataFrame, primary: str) -> Verdict:
    if len(verdicts) == 1:
        return verdicts[0]
    text = " | ".join(v.text for v in verdicts)
    each = {"variants": verdicts}
    if any(v.decision == WITHHELD for v in verdicts):
        w = next(v for v in verdicts if v.decision == WITHHELD)
        return Verdict(WITHHELD, w.reason, text, details={**each, "reason": "srm"})
    ships = [v for v in verdicts if v.decision == SHIP]
    if ships:
        est = lifts[lifts["metric"] == primary].set_index("variant")["absolute"]
        best = max(ships, key=lambda v: est[v.variant])
        return Verdict(SHIP, f"ship {best.variant}: {best.reason}", text, best.variant, {**each, "reason": "ship_best"})
    if all(v.decision == DONT_SHIP for v in verdicts):
        return Verdict(DONT_SHIP, "no variant beats control", text, details={**each, "reason": "none_better"})
    return Verdict(INCONCLUSIVE, "no variant is clearly better", text, details={**each, "reason": "unclear"})
