"""Intervals for shares: the one Wilson score interval every report uses."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

#: The two-sided 95% normal quantile.
Z95 = 1.959963984540054


def wilson(k: ArrayLike, n: ArrayLike, z: float = Z95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Share k/n with its Wilson score interval: (share, low, high), arrays in and out; NaN where n = 0.

    The bounds are kept inside [0, 1] and on either side of the share: at k = 0 or k = n, rounding
    could otherwise put a bound a hair past it."""
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        denom = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
        lo = np.clip(np.minimum(centre - half, p), 0.0, 1.0)
        hi = np.clip(np.maximum(centre + half, p), 0.0, 1.0)
    empty = n <= 0
    return np.where(empty, np.nan, p), np.where(empty, np.nan, lo), np.where(empty, np.nan, hi)


def wilson_interval(k: int, n: int, z: float = Z95) -> tuple[float | None, float | None]:
    """The Wilson interval of one share k/n as two floats; (None, None) when n is 0."""
    if n <= 0:
        return None, None
    _, lo, hi = wilson(k, n, z)
    lo, hi = float(lo), float(hi)
    return (lo if math.isfinite(lo) else None), (hi if math.isfinite(hi) else None)
