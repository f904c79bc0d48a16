"""Guardrail metrics: the treatment must not make them worse by more than a margin (non-inferiority)."""

from __future__ import annotations

import math
from dataclasses import dataclass

FINE, AT_RISK, VIOLATED = "fine", "at risk", "violated"


@dataclass(frozen=True)
class GuardrailResult:
    metric: str
    variant: str
    margin: float  # relative margin, as a share of the control mean (0.05 = 5%)
    margin_abs: float
    worst_bound: float  # the interval bound on the harmful side, in metric units
    estimate: float
    status: str
    higher_is_better: bool

    @property
    def message(self) -> str:
        side = "drop" if self.higher_is_better else "rise"
        if self.status == FINE:
            return f"{self.metric}: no {side} beyond {self.margin:.0%} (non-inferior)"
        if self.status == VIOLATED:
            return f"{self.metric}: {side}s by more than the {self.margin:.0%} margin"
        return f"{self.metric}: a {side} beyond {self.margin:.0%} cannot be ruled out"


def check_guardrail(
    metric: str,
    variant: str,
    estimate: float,
    low: float,
    high: float,
    control_mean: float,
    margin: float,
    higher_is_better: bool = True,
) -> GuardrailResult:
    """Non-inferiority of the absolute lift's interval [low, high] against ``margin`` × |control mean|.

    fine: the whole interval is better than -margin; violated: the whole interval is worse than
    -margin; at risk: in between (harm beyond the margin cannot be ruled out).
    """
    if margin < 0:
        raise ValueError(f"guardrail margin for {metric!r} must be non-negative, got {margin}")
    m = margin * abs(control_mean) if math.isfinite(control_mean) else math.nan
    if higher_is_better:
        worst, best = low, high
        fine, violated = worst > -m, best < -m
    else:
        worst, best = high, low
        fine, violated = worst < m, best > m
    if not (math.isfinite(worst) and math.isfinite(m)):
        status = AT_RISK
    else:
        status = FINE if fine else VIOLATED if violated else AT_RISK
    return GuardrailResult(metric, variant, margin, m, worst, estimate, status, higher_is_better)
