"""The A/B report's summary JSON (``02_ab_campaign.summary.json``), filled from the sections' results.

Headline keys the executive overview reads: ``verdict`` (ship / don't ship / withheld / inconclusive, with the
verdict sentence), ``srm_p_value`` and ``primary_lift`` (the primary metric's absolute lift, in percentage
points for a rate, of the arm ``primary_lift_variant``: the shipped one, else the first treatment). The other
keys: the whole readout (``experiment``: every arm's lifts, verdicts and guardrails, its verdict sentences in the
report's language with the English beside them), for every arm its last sequential look (``sequential``), its
segment tests (``segments``) and effects (``segment_effects``), each row naming its ``variant``, and the
difference-in-differences estimate (``did``, always marked ``not_an_experiment``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pandas as pd

from fanlib.ab import narrative
from fanlib.present.notebook import Summary

if TYPE_CHECKING:
    from fanlib.ab.comparison import Readout
    from fanlib.ab.did import DiDResult
    from fanlib.ab.result import SegmentView, SequentialView
    from fanlib.present.i18n import Messages

__all__ = ["fill_summary", "did_summary"]

#: Whether a decision is good news on the overview's headline card.
DECISION_GOOD = {"ship": True, "don't ship": False, "withheld": False}

#: The sequential monitoring columns kept from the last look (after the arm's ``variant``).
SEQUENTIAL_COLUMNS = ["look", "estimate", "naive_low", "naive_high", "cs_low", "cs_high", "always_valid_p"]
#: The per-segment effect columns kept (after the arm's ``variant``).
SEGMENT_COLUMNS = [
    "dimension",
    "segment",
    "n_control",
    "n_treatment",
    "control_mean",
    "treatment_mean",
    "estimate",
    "low",
    "high",
    "p_value",
    "p_adjusted",
    "tested",
]


def did_summary(res: DiDResult) -> dict:
    """The difference-in-differences estimate (a ``did.fit_did`` result) for the summary."""
    return {
        "not_an_experiment": True,
        "effect_relative": res.relative,
        "low": res.relative_low,
        "high": res.relative_high,
        "p_value": res.p_value,
        "pretrend_p": res.pretrend_p,
        "pretrend_ok": res.pretrend_ok,
        "treated": res.n_treated,
        "units": res.n_units,
    }


def fill_summary(
    summary: Summary,
    T: Messages,
    ro: Readout | None = None,
    *,
    segments: Sequence[SegmentView] = (),
    sequential: Sequence[SequentialView] = (),
    did_res: DiDResult | None = None,
) -> Summary:
    """Add the readout ``ro`` (if any), every arm's segment tests and effects (``segments``) and last
    sequential look (``sequential``), and the DiD result (if any) to ``summary``; returns it."""
    if ro is not None:
        verdict_text = narrative.verdict_sentence(ro.verdict, T, ro.srm)
        summary["experiment"] = ro.summary()
        # the verdict sentences in the report's language (the overview report quotes them); English kept beside
        for entry, v in zip(
            [summary["experiment"]["verdict"], *summary["experiment"]["verdicts"]],
            [ro.verdict, *ro.verdicts],
            strict=True,
        ):
            entry.update(
                text_en=entry["text"],
                reason_en=entry["reason"],
                text=narrative.verdict_sentence(v, T, ro.srm),
                reason=narrative.verdict_reason(v, T, ro.srm),
            )
        summary["srm_p_value"] = ro.srm.p_value
        summary["verdict"] = ro.verdict.decision
        summary["verdict_text"] = verdict_text
        summary.headline(
            "verdict",
            narrative.decision_label(ro.verdict.decision, T),
            label=T("hl_verdict"),
            unit="text",
            good=DECISION_GOOD.get(ro.verdict.decision),
            note=verdict_text,
        )
        summary.headline("srm_p_value", ro.srm.p_value, label=T("hl_srm"), unit="number", good=not ro.srm.failed)
        prim_rows = ro.lifts[ro.lifts["metric"] == ro.settings["primary"]]
        shipped = prim_rows[prim_rows["variant"] == ro.verdict.variant]
        prim = (shipped if len(shipped) else prim_rows).iloc[0]
        label = T("hl_primary_lift", metric=narrative.metric_label(prim["metric"], T, prim["label"]))
        if len(prim_rows) > 1:  # several arms: the headline names the one it shows
            label = T("hl_primary_lift_arm", lift=label, variant=prim["variant"])
        summary.headline(
            "primary_lift",
            prim["absolute"],
            label=label,
            unit="pp" if prim["unit"] == "pct" else "number",  # a rate's lift is in percentage points
            good=bool(prim["significant"] and prim["absolute"] > 0),
        )
        summary["primary_lift_variant"] = prim["variant"]
        tests = _per_arm([(v.variant, v.tests) for v in segments])
        if not tests.empty:
            summary["segments"] = tests
            summary["segment_effects"] = _per_arm(
                [(v.variant, v.segments[[c for c in SEGMENT_COLUMNS if c in v.segments]]) for v in segments]
            )
        last = _per_arm([(v.variant, v.table[SEQUENTIAL_COLUMNS].tail(1)) for v in sequential if not v.table.empty])
        if not last.empty:
            summary["sequential"] = last
    if did_res is not None:
        summary["did"] = did_summary(did_res)
    return summary


def _per_arm(frames: Sequence[tuple[str, pd.DataFrame]]) -> pd.DataFrame:
    """The arms' frames one under the other, each row naming its arm in a first ``variant`` column."""
    parts = [f.assign(variant=v)[["variant", *f.columns]] for v, f in frames if not f.empty]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
