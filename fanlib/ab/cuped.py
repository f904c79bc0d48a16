"""CUPED / regression adjustment with pre-period covariates, from per-variant moments.

The adjusted effect is the treatment coefficient of OLS ``y ~ 1 + T + X`` (X the
pre-period covariates), i.e. the raw difference minus θ'(x̄_T - x̄_C) with θ the
pooled within-variant slope. Its standard error is the Welch-type one of the adjusted
outcome y - θ'x per variant, robust to different variances in the two variants.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fanlib.ab.lifts import AbsoluteLift, RelativeLift, _critical, _two_sided_p, absolute_lift, relative_lift, welch_df
from fanlib.ab.notes import describe, note
from fanlib.ab.stats import Moments
from fanlib.stats.ols import OLSResult, ols_from_cross

#: Below this share of the variance removed, the adjustment is not worth its assumptions: the unadjusted
#: estimate is kept and the report says so (a table reading "CUPED-adjusted" at 0.0% would mislead).
MIN_VARIANCE_REDUCTION = 0.001


def regression_adjusted_ols(treat: Moments, control: Moments, outcome: str, covariates: Sequence[str]) -> OLSResult:
    """OLS of ``outcome ~ 1 + treatment + covariates`` built from the two variants' moments.

    Equal to ``statsmodels.OLS(y, [1, T, X]).fit()`` on the unit-level data.
    """
    cols = [outcome, *covariates]
    idx = [treat.index(c) for c in cols]
    st, sc = treat.sums[idx], control.sums[idx]
    ct, cc = treat.cross[np.ix_(idx, idx)], control.cross[np.ix_(idx, idx)]
    n1, n0 = treat.n, control.n
    k = len(covariates)
    # regressors: 1, T, X ; build X'X block by block
    xtx = np.empty((k + 2, k + 2))
    xtx[0, 0] = n1 + n0
    xtx[0, 1] = xtx[1, 0] = xtx[1, 1] = n1
    xtx[0, 2:] = xtx[2:, 0] = st[1:] + sc[1:]
    xtx[1, 2:] = xtx[2:, 1] = st[1:]
    xtx[2:, 2:] = ct[1:, 1:] + cc[1:, 1:]
    xty = np.concatenate([[st[0] + sc[0], st[0]], ct[1:, 0] + cc[1:, 0]])
    yty = ct[0, 0] + cc[0, 0]
    return ols_from_cross(xtx, xty, yty, n1 + n0, ("const", "treatment", *covariates))


@dataclass(frozen=True)
class CupedResult:
    absolute: AbsoluteLift
    relative: RelativeLift
    theta: np.ndarray
    variance_reduction: float  # 1 - Var(adjusted) / Var(unadjusted), of the difference
    adjusted_means: dict[str, float]
    adjusted_se: dict[str, float]
    applied: bool  # False when adjustment would have widened the interval
    note: str = ""
    codes: tuple = ()


def cuped(
    treat: Moments,
    control: Moments,
    outcome: str,
    covariates: Sequence[str],
    *,
    alpha: float = 0.05,
    relative_method: str = "fieller",
    min_n_relative: int = 1_000,
) -> CupedResult:
    """Regression-adjusted absolute and relative lift of ``outcome`` using pre-period ``covariates``.

    Never widens the interval: if the adjusted standard error is larger than the unadjusted
    one (covariates unrelated to the outcome), or the adjustment removes less than
    ``MIN_VARIANCE_REDUCTION`` of the variance, the unadjusted result is kept, ``applied`` is False and
    the note says why (``variance_reduction`` then is what the adjustment would have removed, at least 0).
    """
    covariates = list(covariates)
    cols = [outcome, *covariates]
    idx = [treat.index(c) for c in cols]
    n1, n0 = treat.n, control.n
    if min(n1, n0) < len(covariates) + 3:  # too few fans to estimate the slopes and still have a variance left
        return _unadjusted(treat, control, outcome, covariates, alpha, relative_method, min_n_relative)
    within = treat.centred_cross()[np.ix_(idx, idx)] + control.centred_cross()[np.ix_(idx, idx)]
    sxx, sxy = within[1:, 1:], within[1:, 0]
    try:
        theta = np.linalg.solve(sxx, sxy)
    except np.linalg.LinAlgError:
        theta = np.linalg.lstsq(sxx, sxy, rcond=None)[0]
    m1, m0 = treat.mean[idx], control.mean[idx]
    c1, c0 = treat.cov[np.ix_(idx, idx)], control.cov[np.ix_(idx, idx)]
    w = np.concatenate([[1.0], -theta])
    v1, v0 = float(max(w @ c1 @ w, 0.0)), float(max(w @ c0 @ w, 0.0))
    raw_v1, raw_v0 = float(c1[0, 0]), float(c0[0, 0])
    pooled_x = (treat.sums[idx][1:] + control.sums[idx][1:]) / (n1 + n0)
    adj1 = float(m1[0] - theta @ (m1[1:] - pooled_x))
    adj0 = float(m0[0] - theta @ (m0[1:] - pooled_x))
    d = adj1 - adj0
    se = math.sqrt(v1 / n1 + v0 / n0)
    se_raw = math.sqrt(raw_v1 / n1 + raw_v0 / n0)
    reduction = 1 - (se / se_raw) ** 2 if se_raw > 0 else math.nan
    codes: tuple = ()
    applied = True
    if se_raw == 0 or not math.isfinite(se):
        applied, codes = False, (note("cuped_no_variation"),)
    elif se > se_raw * (1 + 1e-9):
        applied, codes = False, (note("cuped_no_gain"),)
    elif reduction < MIN_VARIANCE_REDUCTION:
        applied, codes = False, (note("cuped_negligible", reduction=reduction, min_reduction=MIN_VARIANCE_REDUCTION),)
    text = describe(codes)
    if not applied:
        v1, v0, se = raw_v1, raw_v0, se_raw
        adj1, adj0, d = float(m1[0]), float(m0[0]), float(m1[0] - m0[0])
        theta = np.zeros_like(theta)
        reduction = max(reduction, 0.0) if math.isfinite(reduction) else 0.0
    df = welch_df(v1, n1, v0, n0) if se > 0 else math.inf
    crit = _critical(alpha, df)
    if se > 0:
        stat = d / se
        absolute = AbsoluteLift(
            d,
            se,
            d - crit * se,
            d + crit * se,
            _two_sided_p(stat, df),
            stat,
            df,
            "CUPED (regression adjustment), Welch t-test",
            text,
            codes,
        )
    else:
        codes = codes or (note("no_variation"),)
        absolute = AbsoluteLift(
            d, 0.0, d, d, 1.0 if d == 0 else math.nan, 0.0, df, "CUPED (regression adjustment)", describe(codes), codes
        )
    s1, s0 = math.sqrt(v1 / n1), math.sqrt(v0 / n0)
    relative = relative_lift(
        adj1, s1, adj0, s0, n_min=min(n1, n0), alpha=alpha, method=relative_method, df=df, min_n=min_n_relative
    )
    return CupedResult(
        absolute,
        relative,
        theta,
        reduction,
        {"treatment": adj1, "control": adj0},
        {"treatment": s1, "control": s0},
        applied,
        text,
        codes,
    )


def _unadjusted(
    treat: Moments,
    control: Moments,
    outcome: str,
    covariates: list,
    alpha: float,
    relative_method: str,
    min_n_relative: int,
) -> CupedResult:
    """The plain lift, marked not adjusted: the variants are too small for regression adjustment."""
    from fanlib.ab.stats import SampleStats

    t, c = SampleStats.from_moments(treat, outcome), SampleStats.from_moments(control, outcome)
    absolute = absolute_lift(t, c, alpha)
    relative = relative_lift(
        t.mean,
        t.se,
        c.mean,
        c.se,
        n_min=min(t.n, c.n),
        alpha=alpha,
        method=relative_method,
        df=absolute.df,
        min_n=min_n_relative,
    )
    codes = (note("cuped_too_few", n=int(min(t.n, c.n)), k=len(covariates)),)
    return CupedResult(
        absolute,
        relative,
        np.zeros(len(covariates)),
        0.0,
        {"treatment": t.mean, "control": c.mean},
        {"treatment": t.se, "control": c.se},
        False,
        describe(codes),
        codes,
    )
