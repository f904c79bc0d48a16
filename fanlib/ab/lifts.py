"""Absolute and relative lifts of a variant over control, with intervals and p-values.

* Absolute lift: Welch's t for means (equal to ``statsmodels ttest_ind(usevar="unequal")``),
  the two-proportion z-test for proportions (p-value with the pooled variance, as
  ``proportions_ztest``; Wald interval with the unpooled variance), and a z-test on the
  delta-method variances for ratio metrics.
* Relative lift (treatment / control - 1): Fieller's interval (default) or the log-ratio
  interval. Both keep their coverage where the plain delta method under-covers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from scipy import stats as _st

from fanlib.ab.notes import describe, note

if TYPE_CHECKING:
    from fanlib.ab.stats import RatioStats, SampleStats

#: Below this many units per arm a relative interval is flagged as not to be trusted.
MIN_N_RELATIVE = 1_000
#: A variance within a variant needs two units; with fewer there is no interval and no test.
MIN_N_INTERVAL = 2
#: Fieller's g = (crit · se_control / mean_control)²; above this the ratio is poorly determined.
MAX_FIELLER_G = 0.05


@dataclass(frozen=True)
class AbsoluteLift:
    estimate: float
    se: float
    low: float
    high: float
    p_value: float
    statistic: float
    df: float  # Welch degrees of freedom; inf for z-tests
    method: str
    note: str = ""
    codes: tuple = ()  # the caveats behind ``note``, as (code, fields) for the report's language


@dataclass(frozen=True)
class RelativeLift:
    estimate: float
    low: float
    high: float
    method: str
    trusted: bool
    note: str = ""
    codes: tuple = ()


def welch_df(v1: float, n1: int, v0: float, n0: int) -> float:
    """Welch–Satterthwaite degrees of freedom from unit variances and counts (nan below two units a variant)."""
    if min(n1, n0) < MIN_N_INTERVAL:
        return math.nan
    a, b = v1 / n1, v0 / n0
    denom = a * a / (n1 - 1) + b * b / (n0 - 1)
    return (a + b) ** 2 / denom if denom > 0 else math.inf


def too_few_units(n1: int, n0: int) -> tuple | None:
    """The caveat when a variant is too small for an interval (no units, or one), else None."""
    n = int(min(n1, n0))
    if n >= MIN_N_INTERVAL:
        return None
    return note("undefined_no_units") if n == 0 else note("too_few_units", n=n, min_n=MIN_N_INTERVAL)


def _critical(alpha: float, df: float) -> float:
    return float(_st.norm.ppf(1 - alpha / 2)) if not math.isfinite(df) else float(_st.t.ppf(1 - alpha / 2, df))


def _two_sided_p(stat: float, df: float) -> float:
    return float(2 * (_st.norm.sf(abs(stat)) if not math.isfinite(df) else _st.t.sf(abs(stat), df)))


def absolute_lift(
    treat: SampleStats | RatioStats, control: SampleStats | RatioStats, alpha: float = 0.05
) -> AbsoluteLift:
    """Difference of means treatment - control, with a (1 - alpha) interval and a two-sided p-value.

    ``treat`` and ``control`` are ``SampleStats`` or ``RatioStats`` of the same kind.
    """
    kind = control.kind
    d = treat.mean - control.mean
    n1, n0 = treat.n, control.n
    small = too_few_units(n1, n0)
    if small is not None:
        codes = (small,)
        method = {"proportion": "two-proportion z-test", "ratio": "z-test, delta-method variance"}.get(
            kind, "Welch t-test"
        )
        return AbsoluteLift(
            d, math.nan, math.nan, math.nan, math.nan, math.nan, math.nan, method, describe(codes), codes
        )
    if kind == "proportion":
        se = math.sqrt(treat.variance / n1 + control.variance / n0)
        pooled = (treat.sum + control.sum) / (n1 + n0)
        se0 = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
        df, method = math.inf, "two-proportion z-test"
        if se0 == 0:
            codes = (note("no_variation"),)
            return AbsoluteLift(d, 0.0, d, d, 1.0, 0.0, df, method, describe(codes), codes)
        if se == 0:  # every fan alike within each variant, yet the variants differ: as for means, no test
            codes = (note("no_within_variation"),)
            return AbsoluteLift(d, 0.0, d, d, math.nan, math.nan, df, method, describe(codes), codes)
        stat = d / se0
        crit = _critical(alpha, df)
        return AbsoluteLift(d, se, d - crit * se, d + crit * se, _two_sided_p(stat, df), stat, df, method)
    v1, v0 = treat.variance, control.variance
    se = math.sqrt(v1 / n1 + v0 / n0)
    if kind == "ratio":
        df, method = math.inf, "z-test, delta-method variance"
    else:
        df, method = welch_df(v1, n1, v0, n0), "Welch t-test"
    if not math.isfinite(se):
        codes = (note("undefined_no_units"),)
        return AbsoluteLift(d, se, math.nan, math.nan, math.nan, math.nan, df, method, describe(codes), codes)
    if se == 0:
        codes = (note("no_variation" if d == 0 else "no_within_variation"),)
        return AbsoluteLift(
            d, 0.0, d, d, 1.0 if d == 0 else math.nan, 0.0 if d == 0 else math.nan, df, method, describe(codes), codes
        )
    stat = d / se
    crit = _critical(alpha, df)
    return AbsoluteLift(d, se, d - crit * se, d + crit * se, _two_sided_p(stat, df), stat, df, method)


def fieller_interval(m1: float, s1: float, m0: float, s0: float, crit: float) -> tuple[float, float, float]:
    """Fieller's interval for m1 / m0 from independent estimates; returns (low, high, g).

    Unbounded (nan, nan) when the control mean is not clearly away from zero (g >= 1).
    """
    if m0 == 0:
        return math.nan, math.nan, math.inf
    g = (crit * s0 / m0) ** 2
    if g >= 1:
        return math.nan, math.nan, g
    disc = m1 * m1 * s0 * s0 + m0 * m0 * s1 * s1 - crit * crit * s0 * s0 * s1 * s1
    root = crit * math.sqrt(max(disc, 0.0))
    denom = m0 * m0 - crit * crit * s0 * s0
    lo, hi = (m1 * m0 - root) / denom, (m1 * m0 + root) / denom
    return min(lo, hi), max(lo, hi), g


def log_ratio_interval(m1: float, s1: float, m0: float, s0: float, crit: float) -> tuple[float, float]:
    """Interval for m1 / m0 on the log scale (delta method for log m1 - log m0), back-transformed."""
    if m1 <= 0 or m0 <= 0:
        return math.nan, math.nan
    centre = math.log(m1 / m0)
    half = crit * math.sqrt((s1 / m1) ** 2 + (s0 / m0) ** 2)
    return math.exp(centre - half), math.exp(centre + half)


def relative_lift(
    treat_mean: float,
    treat_se: float,
    control_mean: float,
    control_se: float,
    *,
    n_min: int,
    alpha: float = 0.05,
    method: str = "fieller",
    df: float = math.inf,
    min_n: int = MIN_N_RELATIVE,
) -> RelativeLift:
    """Relative lift treatment / control - 1 with a Fieller (default) or log-ratio interval.

    ``trusted`` is False, with the reason in ``note``, when a variant has fewer than ``min_n``
    units or the control mean is too uncertain for a ratio (Fieller's g above 0.05).
    """
    if method not in ("fieller", "log"):
        raise ValueError(f"relative interval method {method!r} is not 'fieller' or 'log'")
    if control_mean == 0 or not math.isfinite(control_mean):
        codes = (note("rel_control_zero"),)
        return RelativeLift(math.nan, math.nan, math.nan, method, False, describe(codes), codes)
    if not math.isfinite(treat_mean):
        codes = (note("undefined_no_units"),)
        return RelativeLift(math.nan, math.nan, math.nan, method, False, describe(codes), codes)
    small = too_few_units(n_min, n_min)
    if small is not None or not (math.isfinite(treat_se) and math.isfinite(control_se)):
        codes = (small or note("undefined_no_units"),)
        return RelativeLift(treat_mean / control_mean - 1, math.nan, math.nan, method, False, describe(codes), codes)
    est = treat_mean / control_mean - 1
    crit = _critical(alpha, df)
    if method == "fieller":
        lo, hi, g = fieller_interval(treat_mean, treat_se, control_mean, control_se, crit)
    else:
        lo, hi = log_ratio_interval(treat_mean, treat_se, control_mean, control_se, crit)
        g = (crit * control_se / control_mean) ** 2
    codes = []
    if n_min < min_n:
        codes.append(note("rel_small_n", n=int(n_min), min_n=int(min_n)))
    if g > MAX_FIELLER_G:
        codes.append(note("rel_uncertain_control"))
    if not math.isfinite(lo):
        codes.append(note("rel_unbounded"))
    return RelativeLift(
        est,
        lo - 1 if math.isfinite(lo) else math.nan,
        hi - 1 if math.isfinite(hi) else math.nan,
        method,
        not codes,
        describe(codes),
        tuple(codes),
    )
