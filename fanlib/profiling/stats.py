"""Small statistics helpers for shares: Wilson intervals (the shared ones) and chi-square comparisons."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from fanlib.stats.intervals import wilson_interval

#: The normal quantile of the report's 95% intervals. The profiling report has always used the rounded
#: 1.96 (the shared default is the exact 1.959963984540054); every profiling call of the shared
#: :func:`fanlib.stats.intervals.wilson_interval` passes it, so the published intervals do not move.
PROFILING_Z = 1.96


@dataclass(frozen=True)
class ChiSquare:
    """Pearson chi-square test of independence on a groups × categories count table."""

    statistic: float
    dof: int
    p_value: float
    n: int
    cramers_v: float

    def significant(self, alpha: float = 0.05) -> bool:
        """Whether the groups differ at level ``alpha``."""
        return self.p_value < alpha


def chi_square(counts: pd.DataFrame) -> ChiSquare | None:
    """Chi-square test on a count table (rows = groups, columns = categories).

    Empty rows and columns are dropped first; None when fewer than 2 rows or columns remain.
    """
    c = counts.loc[counts.sum(axis=1) > 0, counts.sum(axis=0) > 0]
    if c.shape[0] < 2 or c.shape[1] < 2:
        return None
    arr = c.to_numpy(dtype=float)
    stat, p, dof, _ = stats.chi2_contingency(arr, correction=False)
    n = int(arr.sum())
    v = math.sqrt(stat / (n * (min(arr.shape) - 1))) if n else float("nan")
    return ChiSquare(float(stat), int(dof), float(p), n, float(v))


def shares_with_ci(counts: pd.Series, z: float = PROFILING_Z) -> pd.DataFrame:
    """Category, count, share and Wilson interval, sorted by count."""
    n = int(counts.sum())
    rows = []
    for cat, k in counts.sort_values(ascending=False).items():
        lo, hi = wilson_interval(int(k), n, z)
        rows.append({"category": cat, "fans": int(k), "share": k / n if n else np.nan, "ci_low": lo, "ci_high": hi})
    return pd.DataFrame(rows, columns=["category", "fans", "share", "ci_low", "ci_high"])
