"""Sufficient statistics per variant, and the quantities derived from them.

The engine returns, per variant, the count, the sums and the sums of cross-products
of a metric's columns (outcome, optional denominator, optional covariates). Everything
else -- means, variances, covariances, ratio-metric variances -- is derived here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

METRIC_KINDS = ("proportion", "mean", "ratio")


@dataclass(frozen=True)
class Moments:
    """Count, sums and cross-product sums of a few columns for one variant.

    ``sums[i] = Σ z_i`` and ``cross[i, j] = Σ z_i z_j`` over the variant's units.
    """

    n: int
    names: tuple[str, ...]
    sums: np.ndarray
    cross: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "sums", np.asarray(self.sums, dtype=float).reshape(-1))
        object.__setattr__(self, "cross", np.asarray(self.cross, dtype=float).reshape(len(self.names), len(self.names)))

    def index(self, name: str) -> int:
        return self.names.index(name)

    @property
    def mean(self) -> np.ndarray:
        return self.sums / self.n if self.n else np.full(len(self.names), np.nan)

    @property
    def cov(self) -> np.ndarray:
        """Sample covariance matrix (ddof = 1)."""
        if self.n < 2:
            return np.full((len(self.names),) * 2, np.nan)
        m = self.mean
        c = (self.cross - self.n * np.outer(m, m)) / (self.n - 1)
        # cancellation can leave tiny negatives on the diagonal of a constant column
        d = np.diag(c).copy()
        d[d < 0] = 0.0
        np.fill_diagonal(c, d)
        return c

    def centred_cross(self) -> np.ndarray:
        """Σ (z - z̄)(z - z̄)': the within-variant scatter matrix."""
        return self.cov * (self.n - 1) if self.n >= 2 else np.zeros((len(self.names),) * 2)

    def __add__(self, other: Moments) -> Moments:
        if self.names != other.names:
            raise ValueError("cannot add moments of different columns")
        return Moments(self.n + other.n, self.names, self.sums + other.sums, self.cross + other.cross)

    @classmethod
    def from_arrays(cls, names: Sequence[str], *columns: Sequence[float] | np.ndarray) -> Moments:
        """Moments of in-memory columns (for tests and small data)."""
        z = np.column_stack([np.asarray(c, dtype=float) for c in columns])
        return cls(len(z), tuple(names), z.sum(axis=0), z.T @ z)


@dataclass(frozen=True)
class SampleStats:
    """One variant's statistics for a mean or a proportion: n, sum, sum of squares."""

    n: int
    sum: float
    sum_sq: float
    kind: str = "mean"

    @property
    def mean(self) -> float:
        return self.sum / self.n if self.n else math.nan

    @property
    def variance(self) -> float:
        """Unit-level variance: p(1 - p) for proportions, the sample variance (ddof 1) for means."""
        if self.n < 2:
            return math.nan
        if self.kind == "proportion":
            p = self.mean
            return p * (1 - p)
        return max((self.sum_sq - self.sum**2 / self.n) / (self.n - 1), 0.0)

    @property
    def sd(self) -> float:
        return math.sqrt(self.variance)

    @property
    def se(self) -> float:
        """Standard error of the mean (nan below two units: no variance)."""
        return math.sqrt(self.variance / self.n) if self.n >= 2 else math.nan

    @property
    def estimate(self) -> float:
        return self.mean

    @classmethod
    def from_moments(cls, m: Moments, column: str, kind: str = "mean") -> SampleStats:
        i = m.index(column)
        return cls(int(m.n), float(m.sums[i]), float(m.cross[i, i]), kind)


@dataclass(frozen=True)
class RatioStats:
    """One variant's statistics for a ratio metric Σ numerator / Σ denominator (delta method).

    For revenue per order: numerator = revenue per fan, denominator = orders per fan,
    both summed over the same fans, so the fan stays the randomisation unit.
    """

    n: int
    sum_num: float
    sum_sq_num: float
    sum_den: float
    sum_sq_den: float
    sum_cross: float
    kind: str = field(default="ratio")

    # no units: no means; fewer than two: no (co)variances (nan rather than a division by zero)
    @property
    def mean_num(self) -> float:
        return self.sum_num / self.n if self.n else math.nan

    @property
    def mean_den(self) -> float:
        return self.sum_den / self.n if self.n else math.nan

    @property
    def var_num(self) -> float:
        if self.n < 2:
            return math.nan
        return max((self.sum_sq_num - self.sum_num**2 / self.n) / (self.n - 1), 0.0)

    @property
    def var_den(self) -> float:
        if self.n < 2:
            return math.nan
        return max((self.sum_sq_den - self.sum_den**2 / self.n) / (self.n - 1), 0.0)

    @property
    def cov_num_den(self) -> float:
        if self.n < 2:
            return math.nan
        return (self.sum_cross - self.sum_num * self.sum_den / self.n) / (self.n - 1)

    @property
    def mean(self) -> float:
        """The ratio Σ num / Σ den."""
        return self.sum_num / self.sum_den if self.sum_den else math.nan

    estimate = mean

    @property
    def variance(self) -> float:
        """n × Var(ratio) by the delta method (a unit-level variance, so se = sqrt(variance / n))."""
        if self.n < 2 or not self.sum_den:
            return math.nan
        mn, md = self.mean_num, self.mean_den
        v = self.var_num / md**2 - 2 * mn * self.cov_num_den / md**3 + mn**2 * self.var_den / md**4
        return max(v, 0.0)

    @property
    def se(self) -> float:
        v = self.variance
        return math.sqrt(v / self.n) if math.isfinite(v) and self.n else math.nan

    @classmethod
    def from_moments(cls, m: Moments, numerator: str, denominator: str) -> RatioStats:
        i, j = m.index(numerator), m.index(denominator)
        return cls(
            int(m.n),
            float(m.sums[i]),
            float(m.cross[i, i]),
            float(m.sums[j]),
            float(m.cross[j, j]),
            float(m.cross[i, j]),
        )


def variant_stats(m: Moments, kind: str, column: str, denominator: str | None = None) -> SampleStats | RatioStats:
    """The per-variant statistics object for a metric kind."""
    if kind == "ratio":
        if denominator is None:
            raise ValueError("a ratio metric needs a denominator column")
        return RatioStats.from_moments(m, column, denominator)
    if kind not in METRIC_KINDS:
        raise ValueError(f"metric kind {kind!r} is not one of {', '.join(METRIC_KINDS)}")
    return SampleStats.from_moments(m, column, kind)
