"""Kaplan–Meier survival curves and log-rank tests, from (duration, event) pairs.

Inputs are small per-fan arrays that the engine produces (one row per fan:
time to churn or censoring, and whether churn was observed); the maths is a
single sort and a few cumulative sums.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from fanlib.errors import InputError

__all__ = ["KaplanMeier", "LogRankResult", "logrank_test", "kaplan_meier_by"]

Z95 = stats.norm.ppf(0.975)


class SurvivalInputError(InputError, ValueError):
    """Durations/events that a survival model cannot use, with the reason."""


def check_survival_input(durations, events, what: str = "survival data") -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(durations, dtype=float)
    e = np.asarray(events)
    if t.shape != e.shape or t.ndim != 1:
        raise SurvivalInputError(f"{what}: durations and events must be 1-D arrays of the same length")
    if t.size == 0:
        raise SurvivalInputError(f"{what}: no fans to analyse")
    bad = ~np.isfinite(t) | (t < 0)
    if bad.any():
        raise SurvivalInputError(
            f"{what}: {int(bad.sum())} durations are negative or missing "
            f"(example rows: {np.flatnonzero(bad)[:5].tolist()})"
        )
    if not np.isin(e, [0, 1, True, False]).all():
        raise SurvivalInputError(f"{what}: events must be 0/1 (churn observed or not)")
    return t, e.astype(bool)


@dataclass
class KaplanMeier:
    """Kaplan–Meier estimator with Greenwood standard errors and log-log 95% intervals.

    ``fit(durations, events)`` returns self. ``survival_`` holds one row per
    distinct event time: time, at_risk, events, survival, se (Greenwood),
    ci_low, ci_high. ``at_risk(times)`` gives the numbers at risk for the
    table under a plot; ``median_`` is the median survival time (inf if the
    curve never reaches 0.5).
    """

    alpha: float = 0.05
    label: str = ""

    def fit(self, durations, events, label: str | None = None) -> KaplanMeier:
        t, e = check_survival_input(durations, events, "Kaplan–Meier")
        if label is not None:
            self.label = label
        # counts per distinct time without a full argsort (the slow part at a million rows)
        n = t.size
        all_times, counts = np.unique(t, return_counts=True)
        at_risk = n - np.concatenate([[0], np.cumsum(counts)[:-1]])
        times, d = np.unique(t[e.astype(bool)], return_counts=True)
        at_risk = at_risk[np.searchsorted(all_times, times)]
        surv = np.cumprod(1.0 - d / at_risk)
        with np.errstate(divide="ignore", invalid="ignore"):
            gw = np.cumsum(d / (at_risk * (at_risk - d)))
            se = surv * np.sqrt(gw)
            z = stats.norm.ppf(1 - self.alpha / 2)
            # log(-log S) interval: stays inside [0, 1] (lifelines' default).
            log_s = np.log(surv)
            theta = z * np.sqrt(gw) / np.abs(log_s)
            low = np.exp(-np.exp(np.log(-log_s) + theta))
            high = np.exp(-np.exp(np.log(-log_s) - theta))
        low = np.where(surv >= 1, 1.0, np.where(surv <= 0, 0.0, low))
        high = np.where(surv >= 1, 1.0, np.where(surv <= 0, 0.0, high))
        self.durations_ = np.sort(t)
        self.survival_ = pd.DataFrame(
            {"time": times, "at_risk": at_risk, "events": d, "survival": surv, "se": se, "ci_low": low, "ci_high": high}
        )
        below = np.flatnonzero(surv <= 0.5)
        self.median_ = float(times[below[0]]) if below.size else float("inf")
        self.n_ = int(n)
        self.n_events_ = int(e.sum())
        return self

    def survival_at(self, times) -> np.ndarray:
        """S(t) as a right-continuous step function."""
        s = self.survival_
        idx = np.searchsorted(s["time"].to_numpy(), np.asarray(times, dtype=float), side="right") - 1
        return np.where(idx >= 0, s["survival"].to_numpy()[np.clip(idx, 0, None)], 1.0)

    def at_risk(self, times) -> np.ndarray:
        """Number of fans still at risk (duration ≥ t) at each of ``times``."""
        return self.n_ - np.searchsorted(self.durations_, np.asarray(times, dtype=float), side="left")


def kaplan_meier_by(
    df: pd.DataFrame, group: str, duration: str = "duration", event: str = "event", min_size: int = 2
) -> dict[str, KaplanMeier]:
    """One Kaplan–Meier curve per value of ``group`` (groups smaller than ``min_size`` are skipped)."""
    out = {}
    for value, part in df.groupby(group, sort=True, observed=True):
        if len(part) >= min_size:
            out[str(value)] = KaplanMeier().fit(part[duration], part[event], label=str(value))
    return out


@dataclass(frozen=True)
class LogRankResult:
    """A k-group log-rank test: observed and expected churn per group, χ², p-value."""

    groups: tuple
    observed: np.ndarray
    expected: np.ndarray
    statistic: float
    df: int

    @property
    def p_value(self) -> float:
        return float(stats.chi2.sf(self.statistic, self.df))

    @property
    def table(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "group": list(self.groups),
                "observed": self.observed,
                "expected": self.expected,
                "observed_over_expected": self.observed / self.expected,
            }
        )


def logrank_test(durations, events, groups) -> LogRankResult:
    """The log-rank (Mantel–Cox) test that the survival curves of all groups are equal."""
    t, e = check_survival_input(durations, events, "log-rank test")
    g = np.asarray(groups)
    if g.shape != t.shape:
        raise SurvivalInputError("log-rank test: groups must have one value per fan")
    labels, gi = np.unique(g, return_inverse=True)
    k = labels.size
    if k < 2:
        raise SurvivalInputError(f"log-rank test needs at least two groups; got {k} ({labels.tolist()})")
    if not e.any():
        raise SurvivalInputError("log-rank test: no churn events in any group, so there is nothing to compare")
    times, ti = np.unique(t, return_inverse=True)
    m = times.size
    d_tg = np.zeros((m, k))
    n_tg = np.zeros((m, k))
    np.add.at(d_tg, (ti, gi), e.astype(float))
    np.add.at(n_tg, (ti, gi), 1.0)
    at_risk = n_tg[::-1].cumsum(axis=0)[::-1]  # fans with duration ≥ t, per group
    d = d_tg.sum(axis=1)
    n = at_risk.sum(axis=1)
    use = d > 0
    d, n, d_tg, at_risk = d[use], n[use], d_tg[use], at_risk[use]
    expected = (d / n)[:, None] * at_risk
    factor = np.where(n > 1, d * (n - d) / np.maximum(n - 1, 1), 0.0) / n**2
    # V_gh = Σ d(n−d)/(n−1) · n_g/n · (δ_gh − n_h/n)
    V = np.einsum("t,tg,th->gh", -factor, at_risk, at_risk)
    V[np.diag_indices(k)] += np.einsum("t,tg->g", factor * n, at_risk)
    obs = d_tg.sum(axis=0)
    exp = expected.sum(axis=0)
    diff = (obs - exp)[:-1]
    stat = float(diff @ np.linalg.solve(V[:-1, :-1], diff))
    return LogRankResult(tuple(labels.tolist()), obs, exp, stat, k - 1)
