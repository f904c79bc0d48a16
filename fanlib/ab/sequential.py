"""Peeking-safe monitoring: always-valid confidence sequences (mixture SPRT, Johari et al. 2017).

With a normal mixing distribution N(0, τ²) over the true difference, the mixture
likelihood ratio against H0: Δ = Δ0 is

    Λ = sqrt(V / (V + τ²)) · exp(τ² (Δ̂ - Δ0)² / (2 V (V + τ²)))

for an estimate Δ̂ with variance V. Rejecting when Λ ≥ 1/α keeps the false-positive rate
at most α however often one looks; inverting it gives the confidence sequence

    Δ̂ ± sqrt( V (V + τ²) / τ² · (log((V + τ²) / V) - 2 log α) ).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats as _st

if TYPE_CHECKING:
    from fanlib.ab.metrics import Metric
    from fanlib.data.tables import FanData

#: τ² as a multiple of the estimate's variance at the planned final look; about 8 gives the
#: narrowest sequence there (it minimises (1 + 1/r)(log(1 + r) + 2 log(1/α)) at α = 0.05).
TAU_RATIO = 8.0


def halfwidth(var: float | np.ndarray, tau2: float, alpha: float = 0.05) -> np.ndarray:
    """Half-width of the always-valid interval for estimates with variance ``var``."""
    var = np.asarray(var, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sqrt(var * (var + tau2) / tau2 * (np.log((var + tau2) / var) - 2 * np.log(alpha)))


def msprt_p_value(estimate: float | np.ndarray, var: float | np.ndarray, tau2: float) -> np.ndarray:
    """The mSPRT p-value 1/Λ at each look (not yet made monotone), for H0: Δ = 0."""
    estimate, var = np.asarray(estimate, dtype=float), np.asarray(var, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_lr = 0.5 * np.log(var / (var + tau2)) + tau2 * estimate**2 / (2 * var * (var + tau2))
    return np.minimum(1.0, np.exp(-log_lr))


def default_tau2(final_var: float, ratio: float = TAU_RATIO) -> float:
    return float(ratio * final_var)


def sequential_table(looks: pd.DataFrame, *, alpha: float = 0.05, tau2: float | None = None) -> pd.DataFrame:
    """Cumulative readout at each look: naive and always-valid intervals and p-values.

    ``looks`` has one row per look with columns ``look``, ``estimate`` and ``var`` (the
    variance of the estimated difference at that look), in time order. At every look the
    always-valid interval holds simultaneously with all other looks (no penalty for peeking).
    """
    frame = looks.reset_index(drop=True).copy()
    if frame.empty:
        return frame
    var = frame["var"].to_numpy(float)
    est = frame["estimate"].to_numpy(float)
    if tau2 is None:
        tau2 = default_tau2(var[np.isfinite(var)][-1] if np.isfinite(var).any() else 1.0)
    z = _st.norm.ppf(1 - alpha / 2)
    se = np.sqrt(var)
    frame["naive_low"], frame["naive_high"] = est - z * se, est + z * se
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["naive_p"] = 2 * _st.norm.sf(np.abs(est / se))
    h = halfwidth(var, tau2, alpha)
    low = np.where(np.isfinite(h), est - h, -np.inf)
    high = np.where(np.isfinite(h), est + h, np.inf)
    # No running intersection: in a campaign read daily, each look's outcome windows are longer, so
    # the quantity estimated grows over time; each look's interval covers its own quantity.
    frame["cs_low"], frame["cs_high"] = low, high
    frame["always_valid_p"] = np.nan_to_num(msprt_p_value(est, var, tau2), nan=1.0)
    frame["tau2"] = tau2
    return frame


def sequential_readout(
    fd: FanData,
    experiment_id: str,
    metric: Metric,
    looks: Iterable[Any],
    *,
    control: str,
    treatment: str,
    window_days: int = 28,
    alpha: float = 0.05,
    tau2: float | None = None,
) -> pd.DataFrame:
    """The peeking-safe table for one metric at daily (or any) look dates, from engine aggregates."""
    return sequential_readouts(
        fd,
        experiment_id,
        metric,
        looks,
        control=control,
        treatments=[treatment],
        window_days=window_days,
        alpha=alpha,
        tau2=tau2,
    )[treatment]


def sequential_readouts(
    fd: FanData,
    experiment_id: str,
    metric: Metric,
    looks: Iterable[Any],
    *,
    control: str,
    treatments: Sequence[str],
    window_days: int = 28,
    alpha: float = 0.05,
    tau2: float | None = None,
) -> dict[str, pd.DataFrame]:
    """The peeking-safe table of every treatment against control, from one engine aggregate of all variants."""
    from fanlib.ab.queries_looks import cumulative_looks

    raw = cumulative_looks(fd, experiment_id, metric, looks, window_days=window_days)
    return {t: looks_table(raw, metric.kind, control=control, treatment=t, alpha=alpha, tau2=tau2) for t in treatments}


def unit_sequential_readouts(
    fd: FanData,
    units: Any,
    metric: Metric,
    time_column: str,
    *,
    control: str,
    treatments: Sequence[str],
    alpha: float = 0.05,
    tau2: float | None = None,
) -> dict[str, pd.DataFrame]:
    """The peeking-safe table of every treatment of a unit table, one look a day as its fans entered
    (``time_column``), from one engine aggregate per day and variant."""
    from fanlib.ab.queries_looks import unit_looks

    raw = unit_looks(fd, units, metric, time_column)
    return {t: looks_table(raw, metric.kind, control=control, treatment=t, alpha=alpha, tau2=tau2) for t in treatments}


def looks_table(
    raw: pd.DataFrame, kind: str, *, control: str, treatment: str, alpha: float = 0.05, tau2: float | None = None
) -> pd.DataFrame:
    """The peeking-safe table of one treatment from per-look, per-variant n, sum and sum_sq (``raw``)."""
    from fanlib.ab.stats import SampleStats

    rows = []
    for look, g in raw.groupby("look"):
        by = {str(r.variant): SampleStats(int(r.n), float(r.sum), float(r.sum_sq), kind) for r in g.itertuples()}
        c, t = by.get(control), by.get(treatment)
        if c is None or t is None or min(c.n, t.n) < 2:
            continue
        rows.append(
            {
                "look": look,
                "n_control": c.n,
                "n_treatment": t.n,
                "estimate": t.mean - c.mean,
                "var": t.variance / t.n + c.variance / c.n,
            }
        )
    frame = pd.DataFrame(rows)
    frame = frame[frame["var"] > 0] if not frame.empty else frame
    return sequential_table(frame, alpha=alpha, tau2=tau2)


def daily_looks(fd: FanData, experiment_id: str, window_days: int) -> pd.DatetimeIndex:
    """One look a day, from the day after the first assignment to the end of the last fan's outcome window,
    but not past the day after the data end."""
    a = fd.assignments.filter(fd.assignments.experiment_id == experiment_id)
    rng = fd.execute(a.aggregate(first=a.assigned_time.min(), last=a.assigned_time.max()), label="ab:looks").iloc[0]
    looks = pd.date_range(
        pd.Timestamp(rng["first"]).normalize() + pd.Timedelta(days=1),
        pd.Timestamp(rng["last"]).normalize() + pd.Timedelta(days=window_days + 1),
        freq="D",
    )
    end = pd.Timestamp(fd.date_range()[1])
    return looks[looks <= end + pd.Timedelta(days=1)]
