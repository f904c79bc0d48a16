"""Plain-language sentences and labels for the report, written from the computed figures.

Every function takes the report's ``Messages`` (``fanlib.present.i18n.messages("ab_campaign", lang)``),
so the same figures read in Simplified Chinese or English.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

# the error's text lives with the error; reports read it here with the other sentences
from fanlib.ab.lifts import MIN_N_INTERVAL
from fanlib.ab.verdict import DONT_SHIP, INCONCLUSIVE, SHIP, WITHHELD, format_lift
from fanlib.present.escape import md_text
from fanlib.present.i18n import fmt_date, fmt_number

if TYPE_CHECKING:
    from fanlib.ab.did import DiDResult
    from fanlib.ab.guardrails import GuardrailResult
    from fanlib.ab.srm import SRMResult
    from fanlib.ab.verdict import Verdict
    from fanlib.present.i18n import Messages

DOMAIN = "ab_campaign"
_DECISION_KEYS = {
    SHIP: "decision_ship",
    DONT_SHIP: "decision_dont_ship",
    INCONCLUSIVE: "decision_inconclusive",
    WITHHELD: "decision_withheld",
}
#: banner level per decision
DECISION_LEVEL = {SHIP: "success", DONT_SHIP: "warning", INCONCLUSIVE: "info", WITHHELD: "danger"}


def _sep(T) -> str:
    return "；" if T.lang == "zh" else "; "


def _list(T) -> str:
    return "、" if T.lang == "zh" else ", "


def metric_label(name: str, T: Messages, default: str | None = None) -> str:
    """A metric's name for readers; metrics of a user's own table keep their column name."""
    return T.label(f"metric_{name}", default if default is not None else name)


def decision_label(decision: str, T: Messages) -> str:
    return T(_DECISION_KEYS[decision])


def dimension_label(dimension: str, T: Messages) -> str:
    return T.label(f"dim_{dimension}", dimension)


def segment_label(value: object, T: Messages, dimension: str | None = None) -> str:
    text = str(value)
    if dimension == "city_tier":
        return T.label(f"city_tier_{text}", text)
    return T.label(f"seg_{text}", T.label(text))


def value_label(value: Any, T: Messages) -> str:
    """Code values shown in tables (guardrail status, estimate source) in the report's language."""
    text = str(value)
    return T.label("val_" + text.replace(" ", "_").replace("'", ""), text)


def value_labels(frame: pd.DataFrame, T: Messages, *columns: str) -> pd.DataFrame:
    """A copy of ``frame`` with the code values (status, estimate source, yes/no) of ``columns`` in words."""
    out = frame.copy()
    for c in columns:
        out[c] = [value_label(v, T) for v in out[c]]
    return out


def segment_table(table: pd.DataFrame, T: Messages, unit: str) -> pd.DataFrame:
    """The per-segment effects (``hte.segment_readout``'s first frame) in words and formatted for the page."""
    shown = table.assign(
        segment=[segment_label(s, T, d) for d, s in zip(table["dimension"], table["segment"], strict=True)],
        dimension=[dimension_label(d, T) for d in table["dimension"]],
    )
    shown = format_columns(
        shown,
        T,
        unit,
        values=["control_mean", "treatment_mean", "se"],
        diffs=["estimate", "low", "high"],
        pvalues=["p_value", "p_adjusted"],
    )
    return value_labels(shown, T, "tested")


def interaction_table(tests: pd.DataFrame, T: Messages) -> pd.DataFrame:
    """The per-dimension heterogeneity tests in words and formatted for the page."""
    shown = tests.assign(dimension=[dimension_label(d, T) for d in tests["dimension"]])
    shown = format_columns(shown, T, "number", values=["q"], pvalues=["p_value", "p_adjusted"])
    return value_labels(shown, T, "heterogeneous")


def relabel(frame: pd.DataFrame, T: Messages) -> pd.DataFrame:
    """A copy whose ``label`` column names each metric in the report's language."""
    out = frame.copy()
    out["label"] = [metric_label(m, T, lab) for m, lab in zip(out["metric"], out["label"], strict=True)]
    return out


def lift_text(value: float, low: float, high: float, unit: str, T: Messages) -> str:
    return format_lift(value, low, high, unit, lang=T.lang)


def notes_text(codes: Iterable[tuple[str, dict]] | None, T: Messages) -> str:
    """Caveats ``[(code, fields), …]`` as one sentence; a metric field is named for readers."""
    texts = []
    for code, fields in codes or ():
        fields = dict(fields)
        if "metric" in fields:
            fields["metric"] = metric_label(fields["metric"], T)
        texts.append(T(f"note_{code}", **fields))
    return _sep(T).join(texts)


def srm_sentence(srm: SRMResult | None, T: Messages) -> str:
    """The split check in one sentence: as planned, or a mismatch that withholds the verdict."""
    pct = lambda v: fmt_number(v, "pct", T.lang)  # noqa: E731
    shares = " / ".join(f"{k} {pct(v)}" for k, v in srm.observed_shares.items())
    plan = " / ".join(f"{k} {pct(v)}" for k, v in srm.planned.items())
    if srm.failed:
        return T(
            "srm_failed", shares=shares, plan=plan, chi2=f"{srm.chi2:.1f}", p=f"{srm.p_value:.2g}", alpha=srm.alpha
        )
    return T("srm_ok", shares=shares, plan=plan, p=f"{srm.p_value:.3g}")


def guardrail_sentence(g: GuardrailResult, T: Messages) -> str:
    side = T("side_drop" if g.higher_is_better else "side_rise")
    key = {"fine": "guard_fine", "violated": "guard_violated", "at risk": "guard_at_risk"}[g.status]
    return T(key, metric=metric_label(g.metric, T), side=side, margin=fmt_number(g.margin, "pct", T.lang, 0))


def _guard_summary(guardrails, T) -> str:
    if not guardrails:
        return T("guards_none")
    bad = [g for g in guardrails if g.status == "violated"]
    risky = [g for g in guardrails if g.status == "at risk"]
    if bad:
        return T("guards_violated", items=_sep(T).join(guardrail_sentence(g, T) for g in bad))
    if risky:
        return T("guards_at_risk", items=_sep(T).join(guardrail_sentence(g, T) for g in risky))
    return T("guards_fine")


def verdict_reason(verdict: Verdict, T: Messages, srm: SRMResult | None = None) -> str:
    """Why the verdict is what it is, in one clause."""
    d = verdict.details or {}
    code = d.get("reason")
    if code == "srm":
        return srm_sentence(srm, T) if srm is not None else T("reason_srm")
    if code in ("ship_best", "none_better", "unclear"):
        best = next((v for v in d.get("variants", []) if v.variant == verdict.variant), None)
        return T(
            f"reason_{code}", variant=verdict.variant or "", reason=verdict_reason(best, T) if best is not None else ""
        )
    primary = d.get("primary", {})
    name = metric_label(primary.get("metric", primary.get("name", "")), T, primary.get("name"))
    p = d.get("p_adjusted", math.nan)
    if code == "guard_violated":
        return _guard_summary(d.get("guardrails", []), T)
    if code == "better" and not d.get("guardrails"):  # nothing guarded: no guardrail can be "fine"
        code = "better_unguarded"
    if code == "better_at_risk":
        return T("reason_better_at_risk", metric=name, guards=_guard_summary(d.get("guardrails", []), T))
    return T(
        f"reason_{code}",
        metric=name,
        p=f"{p:.2g}" if isinstance(p, float) and math.isfinite(p) else "–",
        n=primary.get("n_min", ""),
        min_n=MIN_N_INTERVAL,
    )


def verdict_sentence(verdict: Verdict, T: Messages, srm: SRMResult | None = None) -> str:
    """'treatment: conversion +1.2 pp [0.8, 1.6], revenue per fan +¥3.10 [1.20, 5.00]; guardrails fine; ship'."""
    d = verdict.details or {}
    if "variants" in d:
        return " | ".join(verdict_sentence(v, T, srm) for v in d["variants"])
    if verdict.decision == WITHHELD:
        return T("verdict_withheld_line", variant=verdict.variant, reason=verdict_reason(verdict, T, srm))
    lifts = _list(T).join(
        f"{metric_label(m.get('metric', m['name']), T, m['name'])} "
        f"{lift_text(m['estimate'], m['low'], m['high'], m['unit'], T)}"
        for m in d.get("metrics", [])
    )
    return T(
        "verdict_line",
        variant=verdict.variant,
        lifts=lifts,
        guards=_guard_summary(d.get("guardrails", []), T),
        decision=decision_label(verdict.decision, T),
    )


def lift_sentence(row: pd.Series, T: Messages) -> str:
    """'conversion (treatment): +2.9 pp [0.1, 5.7], relative +11.6% [0.4%, 24.0%], adjusted p = 0.04'."""
    pct = lambda v: fmt_number(v, "pct", T.lang)  # noqa: E731
    finite = all(
        isinstance(row[k], (int, float)) and math.isfinite(row[k])
        for k in ("relative", "relative_low", "relative_high")
    )
    rel = (
        T(
            "relative_interval",
            estimate=("+" if row["relative"] >= 0 else "") + pct(row["relative"]),
            low=pct(row["relative_low"]),
            high=pct(row["relative_high"]),
        )
        if finite
        else T("not_estimable")
    )
    flag = "" if bool(row.get("relative_trusted", True)) else relative_caveat(row.get("relative_codes"), T)
    # A Markdown sentence: the variant and a user table's metric names are values from data.
    return T(
        "lift_line",
        metric=md_text(metric_label(row["metric"], T, row.get("label"))),
        variant=md_text(row["variant"]),
        absolute=lift_text(row["absolute"], row["absolute_low"], row["absolute_high"], row["unit"], T),
        relative=rel + flag,
        p=f"{row['p_adjusted']:.3g}" if math.isfinite(row["p_adjusted"]) else "–",
    )


def relative_caveat(codes: Iterable[tuple[str, dict]] | None, T: Messages) -> str:
    """Why a relative interval is not to be trusted, from its own caveats (a small sample, an uncertain control
    mean, an unbounded interval), never a reason it does not have."""
    reason = notes_text(codes, T)
    return T("relative_untrusted", reason=reason) if reason else T("relative_untrusted_plain")


#: The locale key naming each test behind a p-value (``AbsoluteLift.method``).
TEST_KEYS = {
    "two-proportion z-test": "test_z_proportions",
    "Welch t-test": "test_welch",
    "z-test, delta-method variance": "test_delta",
    "CUPED (regression adjustment), Welch t-test": "test_cuped_welch",
    "CUPED (regression adjustment)": "test_cuped",
}


def test_label(method: str, kind: str, T: Messages) -> str:
    """The test behind a metric's p-value in the report's words; for a rate read with CUPED it says that the
    adjusted Welch t-test took the place of the two-proportion z-test."""
    key = TEST_KEYS.get(method)
    if key is None:
        return method
    if key == "test_cuped_welch" and kind == "proportion":
        key = "test_cuped_welch_rate"
    return T(key)


def cuped_note(row: pd.Series, T: Messages, enabled: bool = True) -> str:
    """Why a metric's estimate is not the CUPED-adjusted one (empty when it is)."""
    if bool(row["cuped_applied"]):
        return ""
    if row["cuped_codes"]:
        return notes_text(row["cuped_codes"], T)
    if not enabled:
        return T("cuped_off")
    if row["kind"] == "ratio":
        return T("cuped_not_for_ratio")
    if not row["n_covariates"]:
        return T("cuped_no_covariates")
    n = int(min(row["n_control"], row["n_variant"]))
    return T("note_cuped_too_few", n=n, k=int(row["n_covariates"]))


def segments_sentence(tests: pd.DataFrame, T: Messages, alpha: float = 0.05) -> str:
    if tests.empty or not tests["p_adjusted"].astype(float).notna().any():  # no segment big enough to test
        return T("segments_none")
    het = tests[tests["heterogeneous"]]
    if het.empty:
        detail = _list(T).join(f"{dimension_label(r.dimension, T)} p = {r.p_adjusted:.2g}" for r in tests.itertuples())
        return T("segments_same", tests=detail)
    return T("segments_differ", dimensions=_list(T).join(dimension_label(d, T) for d in het["dimension"]), alpha=alpha)


def did_sentence(res: DiDResult, T: Messages, alpha: float = 0.05) -> str:
    pct = lambda v: ("+" if v >= 0 else "") + fmt_number(v, "pct", T.lang)  # noqa: E731
    trend = (
        T("did_no_pretrend")
        if not res.pretrend_tested
        else T("did_parallel", p=f"{res.pretrend_p:.2f}")
        if res.pretrend_ok
        else T("did_not_parallel", p=f"{res.pretrend_p:.3f}")
    )
    effect = T(
        "did_effect",
        effect=pct(res.relative),
        low=pct(res.relative_low),
        high=pct(res.relative_high),
        treated=res.n_treated,
        others=res.n_units - res.n_treated,
        p=f"{res.p_value:.3g}",
        significance=T("significant" if res.p_value < alpha else "not_significant"),
    )
    return f"{trend} {effect}"


def did_caveat(res: DiDResult, T: Messages) -> tuple[str, str] | None:
    """The banner (text, level) a DiD estimate needs: not parallel before the start, or not testable."""
    if not res.pretrend_tested:
        return T("did_no_pretrend"), "warning"
    if not res.pretrend_ok:
        return T("did_biased"), "danger"
    return None


def sequential_sentence(table: pd.DataFrame, T: Messages, alpha: float = 0.05, unit: str = "pct") -> str:
    if table.empty:
        return T("seq_none")
    last = table.iloc[-1]
    first_naive = table[table["naive_p"] < alpha]
    first_valid = table[table["always_valid_p"] < alpha]
    naive = (
        T("seq_naive_hit", alpha=alpha, date=fmt_date(first_naive["look"].iloc[0], T.lang))
        if len(first_naive)
        else T("seq_naive_never", alpha=alpha)
    )
    valid = (
        T("seq_valid_hit", date=fmt_date(first_valid["look"].iloc[0], T.lang))
        if len(first_valid)
        else T("seq_valid_never")
    )
    value = (lambda v: fmt_number(v, "pp", T.lang, 2)) if unit == "pct" else (lambda v: f"{v:+.4g}")
    return T(
        "seq_summary",
        looks=len(table),
        estimate=value(last["estimate"]),
        low=value(last["cs_low"]),
        high=value(last["cs_high"]),
        naive=naive,
        valid=valid,
    )


def _fmt(value, unit: str, T, diff: bool) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "–"
    if not math.isfinite(v):
        return "–"
    if unit == "pct":
        return fmt_number(v, "pp", T.lang, 2) if diff else fmt_number(v, "pct", T.lang, 2)
    sign = ("+" if v > 0 else "-" if v < 0 else "") if diff else ("-" if v < 0 else "")
    if unit == "cny":
        return sign + fmt_number(abs(v), "cny", T.lang)
    return sign + (f"{abs(v):,.3f}" if abs(v) < 1_000 else fmt_number(abs(v), "number", T.lang, 1))


def format_columns(
    frame: pd.DataFrame,
    T: Messages,
    units: str | Sequence[str],
    *,
    values: Sequence[str] = (),
    diffs: Sequence[str] = (),
    pvalues: Sequence[str] = (),
) -> pd.DataFrame:
    """A copy with figures written for readers, each in its metric's unit.

    ``units`` is one unit for every row or a per-row sequence (pct, cny, count, number): ``values``
    are levels (41.1%, ¥142.15), ``diffs`` differences (+1.52 pp, +¥14.16), ``pvalues`` p-values.
    """
    out = frame.copy()
    per_row = [units] * len(out) if isinstance(units, str) else list(units)
    for c in values:
        out[c] = [_fmt(v, u, T, False) for v, u in zip(out[c], per_row, strict=True)]
    for c in diffs:
        out[c] = [_fmt(v, u, T, True) for v, u in zip(out[c], per_row, strict=True)]
    for c in pvalues:
        out[c] = [f"{float(v):.3g}" if isinstance(v, (int, float)) and math.isfinite(v) else "–" for v in out[c]]
    return out
