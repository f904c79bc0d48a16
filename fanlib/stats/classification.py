"""How good a probability model is for people who act on its ranking: calibration and gains.

A model that says "30% chance" should be right about 30% of the time (calibration), and the fans it
ranks highest should hold most of the positives (gains and lift). These tables serve the churn models
of the retention report and the sentiment model card.

Calibration bins come in two kinds:

* ``"quantile"``: equal-frequency bins (each holds about the same number of predictions, in order of
  the prediction); suited to skewed predictions such as churn risk;
* ``"uniform"``: equal-width probability bins 0–0.1, 0.1–0.2, …; the usual reliability diagram.

The expected calibration error (ECE) is Σ_b (n_b/N)·|mean predicted_b − observed_b| over those bins.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

__all__ = ["STRATEGIES", "calibration_bins", "expected_calibration_error", "gains_table"]

#: How the predictions are cut into calibration bins.
STRATEGIES = ("quantile", "uniform")


def calibration_bins(y: ArrayLike, p: ArrayLike, bins: int = 10, strategy: str = "quantile") -> pd.DataFrame:
    """Mean predicted probability against the observed rate of positives, per bin of the prediction.

    ``"quantile"``: columns bin (1 = lowest predictions), n, predicted, observed. ``"uniform"``: columns
    low, high (the bin's probability range), n, predicted, observed; empty bins are left out.
    """
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    if strategy == "quantile":
        order = np.argsort(p, kind="stable")
        groups = np.array_split(order, bins)
        return pd.DataFrame(
            [
                {"bin": i + 1, "n": g.size, "predicted": p[g].mean(), "observed": y[g].mean()}
                for i, g in enumerate(groups)
                if g.size
            ]
        )
    if strategy == "uniform":
        idx = np.minimum((p * bins).astype(int), bins - 1)
        df = pd.DataFrame({"bin": idx, "p": p, "y": y})
        out = df.groupby("bin").agg(n=("y", "size"), predicted=("p", "mean"), observed=("y", "mean")).reset_index()
        out["low"] = out["bin"] / bins
        out["high"] = (out["bin"] + 1) / bins
        return out[["low", "high", "n", "predicted", "observed"]]
    raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}; got {strategy!r}")


def expected_calibration_error(y: ArrayLike, p: ArrayLike, bins: int = 10, strategy: str = "quantile") -> float:
    """ECE: Σ_b (n_b/N)·|mean predicted_b − observed_b| over the calibration bins of ``strategy``."""
    t = calibration_bins(y, p, bins, strategy)
    return float((t["n"] / t["n"].sum() * (t["predicted"] - t["observed"]).abs()).sum())


def gains_table(y: ArrayLike, p: ArrayLike, groups: int = 10) -> pd.DataFrame:
    """Groups by predicted probability (1 = highest; deciles by default): rate of positives, lift over the
    overall rate, and the cumulative shares of the population contacted and of the positives caught."""
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    order = np.argsort(-p, kind="stable")
    parts = np.array_split(order, groups)
    total, rate = y.sum(), y.mean()
    rows, caught, seen = [], 0.0, 0
    for i, g in enumerate(parts):
        caught += y[g].sum()
        seen += g.size
        rows.append(
            {
                "decile": i + 1,
                "fans": g.size,
                "churn_rate": y[g].mean(),
                "lift": y[g].mean() / rate,
                "cumulative_fans_share": seen / y.size,
                "cumulative_churn_captured": caught / total,
            }
        )
    return pd.DataFrame(rows)
