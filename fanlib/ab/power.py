"""Power and minimum detectable effect: plan a new experiment, and judge this one.

Two-sided z-approximations (the large-sample regime experiments run in), equal to
``statsmodels.stats.power.NormalIndPower``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd
from scipy import stats as _st


def sample_size_per_arm(
    sd: float, mde: float, *, alpha: float = 0.05, power: float = 0.8, ratio: float = 1.0
) -> dict[str, int]:
    """Units needed to detect an absolute difference ``mde`` for a metric with unit standard deviation ``sd``.

    ``ratio`` = n_treatment / n_control. Returns {"control": n0, "treatment": n1, "total": …}.
    """
    if mde <= 0 or sd <= 0:
        raise ValueError("the minimum detectable effect and the standard deviation must be positive")
    z = _st.norm.ppf(1 - alpha / 2) + _st.norm.ppf(power)
    n0 = (z * sd / mde) ** 2 * (1 + 1 / ratio)
    n0 = math.ceil(n0)
    n1 = math.ceil(n0 * ratio)
    return {"control": n0, "treatment": n1, "total": n0 + n1}


def sample_size_for_proportion(
    baseline: float, mde: float, *, relative: bool = False, alpha: float = 0.05, power: float = 0.8, ratio: float = 1.0
) -> dict[str, int]:
    """Sample size to detect a change ``mde`` (absolute, or relative to ``baseline``) in a conversion rate."""
    if not 0 < baseline < 1:
        raise ValueError(f"baseline conversion {baseline} must lie strictly between 0 and 1")
    delta = mde * baseline if relative else mde
    return sample_size_per_arm(math.sqrt(baseline * (1 - baseline)), delta, alpha=alpha, power=power, ratio=ratio)


def achieved_power(se_diff: float, effect: float, alpha: float = 0.05) -> float:
    """Power of this experiment's two-sided test to detect a true difference ``effect``, given its standard error."""
    if not se_diff or not math.isfinite(se_diff):
        return math.nan
    z = _st.norm.ppf(1 - alpha / 2)
    s = abs(effect) / se_diff
    return float(_st.norm.cdf(s - z) + _st.norm.cdf(-s - z))


def mde_for(se_diff: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """The smallest true absolute difference this experiment detects with the given power."""
    return float((_st.norm.ppf(1 - alpha / 2) + _st.norm.ppf(power)) * se_diff)


def planner(
    sd: float,
    baseline: float,
    mde_relatives: Sequence[float] = (0.01, 0.02, 0.05, 0.10),
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    ratio: float = 1.0,
) -> pd.DataFrame:
    """Fans per variant a new experiment needs for each relative minimum effect, from a metric's
    control mean (``baseline``) and unit standard deviation ``sd`` (e.g. from this experiment)."""

    if not (math.isfinite(sd) and sd > 0 and math.isfinite(baseline) and baseline != 0):
        from fanlib.ab.errors import ABInputError

        sd_text, base_text = (f"{v:.4g}" if math.isfinite(v) else "–" for v in (sd, baseline))
        raise ABInputError(
            f"planning needs a positive standard deviation and a non-zero baseline "
            f"(got sd = {sd_text}, baseline = {base_text})",
            check="planning inputs",
            code="planner_no_sd",
            fields={"sd": sd_text, "baseline": base_text},
        )
    rows = []
    for rel in mde_relatives:
        n = sample_size_per_arm(sd, abs(rel * baseline), alpha=alpha, power=power, ratio=ratio)
        rows.append(
            {
                "baseline": baseline,
                "mde_relative": rel,
                "mde": abs(rel * baseline),
                "per_arm": n["control"],
                "total": n["total"],
            }
        )
    return pd.DataFrame(rows)


def lift_power(
    lifts: pd.DataFrame, variants: pd.DataFrame, control: str, *, mde_relative: float, alpha: float, power: float
) -> pd.DataFrame:
    """Per metric and variant of a readout: the power for a relative effect of ``mde_relative``, the effect
    this experiment could detect, and the fans per arm a new experiment would need."""
    prow = []
    sd_of = {(v.metric, v.variant): v.sd for v in variants.itertuples()}
    for r in lifts.itertuples():
        mde_abs = mde_relative * abs(r.control_mean) if math.isfinite(r.control_mean) else math.nan
        sd_c = sd_of[(r.metric, control)]
        plan_n = (
            sample_size_per_arm(sd_c, mde_abs, alpha=alpha, power=power)["control"]
            if sd_c and math.isfinite(sd_c) and mde_abs and math.isfinite(mde_abs)
            else math.nan
        )
        prow.append(
            {
                "metric": r.metric,
                "label": r.label,
                "variant": r.variant,
                "mde_relative": mde_relative,
                "mde_absolute": mde_abs,
                "achieved_power": achieved_power(r.se, mde_abs, alpha),
                "detectable_absolute": mde_for(r.se, alpha, power) if r.se else math.nan,
                "detectable_relative": (
                    mde_for(r.se, alpha, power) / abs(r.control_mean) if r.se and r.control_mean else math.nan
                ),
                "n_per_arm_needed": plan_n,
                "n_per_arm": min(r.n_control, r.n_variant),
            }
        )
    return pd.DataFrame(prow)
