"""The plain-language verdict: ship, don't ship, inconclusive -- or withheld when the experiment is broken."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from fanlib.ab.lifts import MIN_N_INTERVAL
from fanlib.present.i18n import messages

DOMAIN = "ab_campaign"

SHIP, DONT_SHIP, INCONCLUSIVE, WITHHELD = "ship", "don't ship", "inconclusive", "withheld"


def format_lift(value: float, low: float, high: float, unit: str, lang: str = "en") -> str:
    """'+1.2 pp [0.8, 1.6]' (in the report's language), '+¥3.10 [1.20, 5.00]' or '+0.42 [0.10, 0.74]'."""
    T = messages(DOMAIN, lang)
    if not math.isfinite(value):
        return T("not_estimable")
    if not (math.isfinite(low) and math.isfinite(high)):  # e.g. one fan per variant: the difference, no interval
        point = format_lift(value, value, value, unit, lang).split(" [")[0]
        return point + T("lift_no_interval")
    if unit == "pct":
        return f"{value * 100:+.1f} {T('unit_pp')} [{low * 100:.1f}, {high * 100:.1f}]"
    if unit == "cny":
        sign = "+" if value >= 0 else "-"
        return f"{sign}¥{abs(value):.2f} [{low:.2f}, {high:.2f}]"
    return f"{value:+.3g} [{low:.3g}, {high:.3g}]"


@dataclass(frozen=True)
class Verdict:
    decision: str
    reason: str
    text: str
    variant: str | None = None
    details: dict = field(default_factory=dict)


def decide(
    variant: str,
    primary: dict,
    secondaries: list[dict],
    guardrails: list,
    *,
    srm_failed: bool,
    srm_message: str = "",
    alpha: float = 0.05,
    mde: float | None = None,
) -> Verdict:
    """Decide for one variant from its primary metric, secondary metrics and guardrails.

    ``primary`` and each secondary are dicts with keys name, estimate, low, high, p_adjusted, unit,
    higher_is_better, and optionally se and n_min (the smaller variant's fans). Rules: SRM -> withheld;
    fewer than two fans in a variant -> inconclusive (no interval, no test); a violated guardrail ->
    don't ship; the primary significantly better (adjusted p < alpha) with every guardrail fine -> ship;
    significantly worse -> don't ship; a guardrail at risk -> inconclusive; not significant -> inconclusive,
    or don't ship when the interval rules out the minimum effect worth having (``mde``, absolute).
    """
    shown = [primary, *secondaries]
    lifts = ", ".join(f"{m['name']} {format_lift(m['estimate'], m['low'], m['high'], m['unit'])}" for m in shown)
    bad = [g for g in guardrails if g.status == "violated"]
    risky = [g for g in guardrails if g.status == "at risk"]
    if not guardrails:
        guard_text = "no guardrails set"
    elif bad:
        guard_text = "guardrail violated: " + "; ".join(g.message for g in bad)
    elif risky:
        guard_text = "guardrail at risk: " + "; ".join(g.message for g in risky)
    else:
        guard_text = "guardrails fine"
    sign = 1 if primary.get("higher_is_better", True) else -1
    p = primary["p_adjusted"]
    n_min = primary.get("n_min")
    too_few = n_min is not None and n_min < MIN_N_INTERVAL
    # a win or a loss needs a real interval: finite bounds with some width (a zero standard error is no evidence)
    se = primary.get("se", math.nan)
    spread = (
        math.isfinite(primary["low"])
        and math.isfinite(primary["high"])
        and not (isinstance(se, (int, float)) and se == 0)
    )
    tested = math.isfinite(p) and spread and not too_few
    better = tested and p < alpha and sign * primary["estimate"] > 0
    worse = tested and p < alpha and sign * primary["estimate"] < 0
    # the reason as a message code (rendered in the report's language by fanlib.ab.narrative)
    if srm_failed:
        decision, code = WITHHELD, "srm"
        reason = "sample ratio mismatch: the assignment is broken, so the lifts are not trustworthy"
    elif too_few:
        decision, code = INCONCLUSIVE, "too_few"
        reason = (
            f"{primary['name']} cannot be tested: the smaller variant has only {n_min} fan(s), and a test "
            f"needs at least {MIN_N_INTERVAL} per variant"
        )
    elif bad:
        decision, code, reason = DONT_SHIP, "guard_violated", guard_text
    elif worse:
        decision, code, reason = DONT_SHIP, "worse", f"{primary['name']} is significantly worse"
    elif better and not risky:
        decision, code = SHIP, "better"
        reason = f"{primary['name']} is significantly better (adjusted p = {p:.2g})" + (
            " and guardrails are fine" if guardrails else "; no guardrails were set"
        )
    elif better:
        decision, code, reason = INCONCLUSIVE, "better_at_risk", f"{primary['name']} is better, but {guard_text}"
    elif not tested:
        decision, code, reason = INCONCLUSIVE, "untestable", f"{primary['name']} could not be tested"
    elif (
        mde is not None
        and math.isfinite(primary["high"])
        and sign * (primary["high"] if sign > 0 else primary["low"]) < abs(mde)
    ):
        decision, code = DONT_SHIP, "no_effect"
        reason = f"{primary['name']} shows no effect and the interval rules out the minimum effect worth having"
    else:
        decision, code = INCONCLUSIVE, "not_significant"
        reason = f"{primary['name']} is not significantly different (adjusted p = {p:.2g})"
    text = (
        f"{variant}: {lifts}; {guard_text}; {decision}"
        if decision != WITHHELD
        else f"{variant}: verdict withheld -- {srm_message or reason}"
    )
    details = {"reason": code, "primary": primary, "metrics": shown, "p_adjusted": p, "guardrails": list(guardrails)}
    return Verdict(decision, reason, text, variant, details)
