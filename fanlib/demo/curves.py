"""Hourly intensity curves: seasonality, Double-11, the douyin incident and the DiD lift over the window."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fanlib.demo.config import (
    DID_LIFT,
    DID_START,
    DOUBLE11,
    DOUBLE11_COMMENTS,
    DOUBLE11_EVENTS,
    DOUBLE11_ORDERS,
    DOUYIN_DROP,
    HOUR_PROFILE,
    N_DAYS,
    N_HOURS,
    SPRING_FACTOR,
    SPRING_FESTIVAL,
    WEEK_PROFILE,
    _day,
    _hour,
    _hours_between,
)

# ---------------------------------------------------------------------------
# Intensity curves
# ---------------------------------------------------------------------------


@dataclass
class Curve:
    """A piecewise-constant hourly intensity over the window, in per-day units.

    A fan with base rate ``r`` per day has ``r * integral(a, b)`` expected
    actions between hours ``a`` and ``b``; ``sample`` draws their times.
    """

    rate: np.ndarray  # (N_HOURS,) multiplier of a fan's per-day rate

    def __post_init__(self):
        self.cum = np.concatenate([[0.0], np.cumsum(self.rate / 24.0)])

    def at(self, t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        k = np.clip(np.floor(t).astype(np.int64), 0, N_HOURS - 1)
        return self.cum[k] + (t - k) * self.rate[k] / 24.0

    def integral(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.maximum(self.at(b) - self.at(a), 0.0)

    def sample(self, rng: np.random.Generator, a: np.ndarray, b: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """Times (hours) of ``counts[i]`` actions in ``[a[i], b[i])``, fan by fan."""
        ca, cb = self.at(a), self.at(b)
        owner = np.repeat(np.arange(len(counts)), counts)
        u = ca[owner] + rng.random(owner.size) * (cb - ca)[owner]
        k = np.clip(np.searchsorted(self.cum, u, side="right") - 1, 0, N_HOURS - 1)
        t = k + (u - self.cum[k]) / (self.rate[k] / 24.0)
        return np.clip(t, a[owner], np.nextafter(b[owner], -np.inf))


def _day_factors(kind: str) -> np.ndarray:
    f = np.ones(N_DAYS)
    f[_day(SPRING_FESTIVAL[0]) : _day(SPRING_FESTIVAL[1]) + 1] = SPRING_FACTOR[kind]
    for first, last in DOUBLE11.values():
        sl = slice(_day(first), _day(last) + 1)
        f[sl] = {"events": DOUBLE11_EVENTS, "orders": DOUBLE11_ORDERS, "comments": DOUBLE11_COMMENTS}[kind]
    return f


def _base_modulation() -> np.ndarray:
    h = np.arange(N_HOURS)
    return HOUR_PROFILE[h % 24] * WEEK_PROFILE[(h // 24) % 7]


def build_curves() -> dict[str, Curve]:
    """The hourly intensity curves: events by (douyin, DiD community), orders by douyin, comments."""
    base = _base_modulation()
    ev = base * np.repeat(_day_factors("events"), 24)
    od = base * np.repeat(_day_factors("orders"), 24)
    cm = base * np.repeat(_day_factors("comments"), 24)
    drop = _hours_between(DOUYIN_DROP["start"], DOUYIN_DROP["end"])
    did = np.ones(N_HOURS)
    did[_hour(DID_START) :] = 1 + DID_LIFT
    curves = {}
    for douyin in (0, 1):
        d = np.ones(N_HOURS)
        if douyin:
            d[drop] = DOUYIN_DROP["factor"]
        for treated in (0, 1):
            curves[f"events_{douyin}{treated}"] = Curve(ev * d * (did if treated else 1.0))
        curves[f"orders_{douyin}"] = Curve(od * d)
    curves["comments"] = Curve(cm)
    return curves
