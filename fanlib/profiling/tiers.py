"""The planning documents' four fan classes: high-value, loyal, active and ordinary.

The rules are explicit and parameterised (``TierRules``). They are applied in the
precedence order high_value → loyal → active → ordinary: a fan gets the first class
whose rule they meet, so the classes are mutually exclusive and cover every fan.

* high_value: top spenders — spend in the window at or above the ``1 - high_value_top_share``
  quantile of spend among fans who bought in the window (and above zero);
* loyal: long-standing repeat buyers — member for at least ``loyal_min_tenure_days`` and at
  least ``loyal_min_orders`` orders over their lifetime up to the analysis day;
* active: interact and share often — at least ``active_min_interactions_per_30d`` interactions
  per 30 days of membership in the window, or at least ``active_min_shares`` shares in it;
* ordinary: everyone else (knows the brand, rarely buys or interacts).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import ibis

from fanlib.profiling.errors import ProfilingRulesError

TIERS = ("high_value", "loyal", "active", "ordinary")
#: Names are ``tier_<tier>`` in the fan_profiling message catalogue.


@dataclass(frozen=True)
class TierRules:
    """Thresholds of the four fan classes (see the module docstring)."""

    high_value_top_share: float = 0.10
    loyal_min_tenure_days: float = 180.0
    loyal_min_orders: int = 2
    active_min_interactions_per_30d: float = 10.0
    active_min_shares: int = 3

    def as_dict(self) -> dict:
        return asdict(self)


def high_value_threshold(fd: Any, features: ibis.Table, rules: TierRules = TierRules()) -> float | None:
    """The spend (in the report's currency) from which a fan counts as high-value; None when nobody spent."""
    if not 0 < rules.high_value_top_share < 1:
        raise ProfilingRulesError(f"high_value_top_share must be between 0 and 1, got {rules.high_value_top_share}")
    buyers = features.filter(features.spend > 0)
    q = buyers.aggregate(q=buyers.spend.quantile(1 - rules.high_value_top_share), n=buyers.count())
    row = fd.execute(q).iloc[0]
    return None if int(row["n"]) == 0 else float(row["q"])


def assign_tiers(features: ibis.Table, threshold: float | None, rules: TierRules = TierRules()) -> ibis.Table:
    """Add the ``tier`` column to ``features`` by the rules, in precedence order."""
    t = features
    hv = (t.spend >= threshold) & (t.spend > 0) if threshold is not None else ibis.literal(False)
    loyal = (t.tenure_days >= rules.loyal_min_tenure_days) & (t.orders_total >= rules.loyal_min_orders)
    active = (t.interactions_per_30d >= rules.active_min_interactions_per_30d) | (t.shares >= rules.active_min_shares)
    return t.mutate(tier=ibis.cases((hv, "high_value"), (loyal, "loyal"), (active, "active"), else_="ordinary"))
