"""Two shares compared: the churn of negative commenters against the other commenters.

Shares and their Wilson intervals come from :mod:`fanlib.stats.intervals`, the one Wilson every report uses."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fanlib.stats.intervals import Z95, wilson


@dataclass
class TwoRates:
    """Two proportions from counts: group A (k_a of n_a) against group B (k_b of n_b)."""

    k_a: int
    n_a: int
    k_b: int
    n_b: int

    @property
    def rate_a(self) -> float:
        return self.k_a / self.n_a if self.n_a else float("nan")

    @property
    def rate_b(self) -> float:
        return self.k_b / self.n_b if self.n_b else float("nan")

    @property
    def difference(self) -> float:
        return self.rate_a - self.rate_b

    @property
    def difference_ci(self) -> tuple[float, float]:
        """Newcombe's hybrid score interval (method 10) for the difference of the two rates."""
        _, la, ua = wilson([self.k_a], [self.n_a])
        _, lb, ub = wilson([self.k_b], [self.n_b])
        pa, pb = self.rate_a, self.rate_b
        d = pa - pb
        low = d - np.sqrt((pa - la[0]) ** 2 + (ub[0] - pb) ** 2)
        high = d + np.sqrt((ua[0] - pa) ** 2 + (pb - lb[0]) ** 2)
        return float(low), float(high)

    @property
    def ratio(self) -> float:
        return self.rate_a / self.rate_b if self.rate_b else float("nan")

    @property
    def ratio_ci(self) -> tuple[float, float]:
        """95% interval of the risk ratio on the log scale (0.5 added to zero cells)."""
        ka, kb = self.k_a or 0.5, self.k_b or 0.5
        se = np.sqrt(1 / ka - 1 / self.n_a + 1 / kb - 1 / self.n_b)
        r = (ka / self.n_a) / (kb / self.n_b)
        return float(r * np.exp(-Z95 * se)), float(r * np.exp(Z95 * se))

    def as_dict(self) -> dict:
        return {
            "k_a": self.k_a,
            "n_a": self.n_a,
            "rate_a": self.rate_a,
            "k_b": self.k_b,
            "n_b": self.n_b,
            "rate_b": self.rate_b,
            "difference": self.difference,
            "difference_ci": list(self.difference_ci),
            "ratio": self.ratio,
            "ratio_ci": list(self.ratio_ci),
        }
