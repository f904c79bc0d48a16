"""The A/B report's summary JSON (``02_ab_campaign.summary.json``), filled from the sections' results.

Headline keys the executive overview reads: ``verdict`` (ship / don't ship / withheld / inconclusive, with the
verdict sentence), ``srm_p_value`` and ``primary_lift`` (the primary metric's absolute lift). The other keys:
the whole readout (``experiment``, its verdict sentences in the report's language with the English beside them),
the last sequential look, the segment tests and the difference-in-differences estimate (``did``, always marked
``not_an_experiment``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from fanlib.ab import narrative
from fanlib.present.notebook import Summary

if TYPE_CHECKING:
    from fanlib.ab.comparison import Readout
    from fanlib.ab.did import DiDResult
    from fanlib.present.i18n import Messages

__all__ = ["fill_summary", "did_summary"]

#: Whether a decision is good news on the overview's headline card.
DECISION_GOOD = {"ship": True, "don't ship": False, "withheld": False}

#: The sequential monitoring columns kept from the last look.
SEQUENTIAL_COLUMNS = ["look", "estimate", "naive_low", "naive_high", "cs_low", "cs_high", "always_valid_p"]


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
    seg_tests: pd.DataFrame | None = None,
    seq_table: pd.DataFrame | None = None,
    did_res: DiDResult | None = None,
) -> Summary:
    """Add the readout ``ro`` (if any), its segment tests and last sequential look, and the DiD result (if any)
    to ``summary``; returns it."""
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
        prim = ro.lifts[ro.lifts["metric"] == ro.settings["primary"]].iloc[0]
        summary.headline(
            "primary_lift",
            prim["absolute"],
            label=T("hl_primary_lift", metric=narrative.metric_label(prim["metric"], T, prim["label"])),
            unit="pct" if prim["unit"] == "pct" else "number",
            good=bool(prim["significant"] and prim["absolute"] > 0),
        )
        if seg_tests is not None and not seg_tests.empty:
            summary["segments"] = seg_tests
        if seq_table is not None and not seq_table.empty:
            summary["sequential"] = seq_table[SEQUENTIAL_COLUMNS].tail(1)
    if did_res is not None:
        summary["did"] = did_summary(did_res)
    return summary
