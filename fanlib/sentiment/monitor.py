"""The sentiment index over time, from the engine's per-bin sufficient statistics (small frames).

* **Sentiment index** of a bin: 100 × (2 × mean P(positive) − 1), from −100 (all negative) to +100
  (all positive), with a 95% interval from the spread of the scores.
* **Negative share**: negative count / volume, with a 95% Wilson interval.
* A rolling **baseline band** (the previous bins, the current one left out) shows when the index
  leaves its usual range; the **current** figures pool the last days' counts.

The counts come from :mod:`fanlib.sentiment.queries`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fanlib.stats.intervals import wilson


def finish_stats(df: pd.DataFrame) -> pd.DataFrame:
    """Derived figures from the engine's sufficient statistics (n, sum_p, sum_p2, n_neg)."""
    df = df.copy()
    n = df["n"].astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        df["mean_p"] = df["sum_p"] / n
        var = (df["sum_p2"] - n * df["mean_p"] ** 2) / (n - 1)
        se = np.sqrt(np.clip(var, 0, None) / n)
        df["index"] = 100 * (2 * df["mean_p"] - 1)
        df["index_low"] = 100 * (2 * (df["mean_p"] - 1.96 * se) - 1)
        df["index_high"] = 100 * (2 * (df["mean_p"] + 1.96 * se) - 1)
    df["neg_share"], df["neg_low"], df["neg_high"] = wilson(df["n_neg"].to_numpy(), n.to_numpy())
    return df


def add_baseline_band(
    series: pd.DataFrame, column: str = "index", window: int = 28, k: float = 2.0, min_periods: int = 7
) -> pd.DataFrame:
    """Add a rolling baseline (mean of the previous ``window`` bins, the current one excluded) and a
    band of ± ``k`` standard deviations; ``outside`` marks bins that leave the band."""
    out = series.copy()
    prev = out[column].shift(1).rolling(window, min_periods=min_periods)
    out["baseline"] = prev.mean()
    sd = prev.std()
    out["band_low"] = out["baseline"] - k * sd
    out["band_high"] = out["baseline"] + k * sd
    out["outside"] = (out[column] < out["band_low"]) | (out[column] > out["band_high"])
    return out


def current_figures(daily: pd.DataFrame, days: int = 7) -> dict:
    """The index and negative share over the last ``days`` days of a daily aggregate, pooled from counts."""
    recent = daily.tail(days)
    n = float(recent["n"].sum())
    if n == 0:
        return {
            "days": days,
            "n": 0,
            "index": None,
            "neg_share": None,
            "neg_low": None,
            "neg_high": None,
            "from": str(recent["bin"].min().date()),
            "to": str(recent["bin"].max().date()),
        }
    mean_p = float((recent["mean_p"].fillna(0) * recent["n"]).sum() / n)
    share, low, high = wilson(np.array([recent["n_neg"].sum()]), np.array([n]))
    return {
        "days": days,
        "n": int(n),
        "index": 100 * (2 * mean_p - 1),
        "neg_share": float(share[0]),
        "neg_low": float(low[0]),
        "neg_high": float(high[0]),
        "from": str(recent["bin"].min().date()),
        "to": str(recent["bin"].max().date()),
    }
