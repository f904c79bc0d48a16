"""Ordinary least squares: one result type for every regression the reports fit.

The A/B readout fits the CUPED regression from per-variant moments (``ols_from_cross``: no unit-level
data leaves the engine) and the difference-in-differences panel from rows (``ols``). Both return an
:class:`OLSResult`. ``ols`` equals statsmodels' OLS with ``cov_type`` "nonrobust", "HC0", "HC1" and
"cluster".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

COV_TYPES = ("nonrobust", "HC0", "HC1", "cluster")


@dataclass(frozen=True)
class OLSResult:
    """A least-squares fit: coefficients, their covariance, observations and residual degrees of freedom.

    ``ssr`` (the sum of squared residuals) is nan where the fit did not keep it; ``n_groups`` is the
    number of clusters of a cluster-robust covariance.
    """

    names: tuple[str, ...]
    params: np.ndarray
    cov: np.ndarray
    nobs: int
    df_resid: int
    cov_type: str = "nonrobust"
    n_groups: int | None = None
    ssr: float = math.nan

    @property
    def bse(self) -> np.ndarray:
        """The coefficients' standard errors."""
        return np.sqrt(np.diag(self.cov))

    def coef(self, name: str) -> tuple[float, float]:
        """The coefficient ``name`` and its standard error."""
        i = self.names.index(name)
        return float(self.params[i]), float(self.bse[i])


def ols_from_cross(xtx: np.ndarray, xty: np.ndarray, yty: float, n: int, names: Sequence[str]) -> OLSResult:
    """OLS from X'X, X'y and y'y (no unit-level data needed); classical (non-robust) covariance."""
    k = len(xty)
    params = np.linalg.solve(xtx, xty)
    ssr = float(yty - params @ xty)
    df = n - k
    sigma2 = max(ssr, 0.0) / df
    return OLSResult(tuple(names), params, sigma2 * np.linalg.inv(xtx), n, df, "nonrobust", None, ssr)


def ols(
    y: np.ndarray | Sequence[float],
    X: np.ndarray,
    *,
    names: Sequence[str] | None = None,
    cov_type: str = "nonrobust",
    groups: np.ndarray | Sequence | None = None,
    weights: np.ndarray | Sequence[float] | None = None,
) -> OLSResult:
    """Least squares of y on X (X includes any constant) with a classical, HC0, HC1 or cluster-robust covariance.

    With ``weights`` it is weighted least squares (rows scaled by sqrt(weight), as statsmodels' WLS).
    The cluster covariance uses statsmodels' small-sample factor G/(G-1) · (N-1)/(N-K).
    """
    if cov_type not in COV_TYPES:
        raise ValueError(f"cov_type {cov_type!r} is not one of {', '.join(COV_TYPES)}")
    y = np.asarray(y, dtype=float)
    X = np.asarray(X, dtype=float)
    if weights is not None:
        root = np.sqrt(np.asarray(weights, dtype=float))
        y, X = y * root, X * root[:, None]
    n, k = X.shape
    xtx_inv = np.linalg.pinv(X.T @ X)
    params = xtx_inv @ (X.T @ y)
    resid = y - X @ params
    rank = np.linalg.matrix_rank(X)
    df = n - rank
    n_groups = None
    if cov_type == "nonrobust":
        cov = xtx_inv * (resid @ resid / df)
    elif cov_type in ("HC0", "HC1"):
        meat = (X * resid[:, None] ** 2).T @ X
        cov = xtx_inv @ meat @ xtx_inv
        if cov_type == "HC1":
            cov *= n / df
    else:
        if groups is None:
            raise ValueError("cluster-robust errors need groups")
        codes, uniq = pd.factorize(np.asarray(groups))
        n_groups = len(uniq)
        scores = np.zeros((n_groups, k))
        np.add.at(scores, codes, X * resid[:, None])
        cov = xtx_inv @ (scores.T @ scores) @ xtx_inv
        cov *= n_groups / (n_groups - 1) * (n - 1) / df
    names = tuple(names) if names is not None else tuple(f"x{i}" for i in range(k))
    return OLSResult(names, params, cov, n, df, cov_type, n_groups, float(resid @ resid))
