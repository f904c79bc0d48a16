"""The four-layer operating model: core, active, potential and silent fans.

Each fan's layer follows from behaviour over ``LayerRules.window_days`` (90 days by default,
the planning documents' quarterly re-assessment). Rates are per 30 days of *presence*: from
joining (or the window start) to the fan's last event in the window, so a fan who left mid-window
is judged on the days they were there (presence ends at their last event or order). Checked in this order:

* lapsed: no event and no order in the window — no longer in the community's operating base (a retention matter);
* unrated: fewer than ``min_present_days`` days of presence — too little behaviour to judge yet;
* core: at least ``core_min_interactions_per_30d`` interactions per 30 days and at least
  ``core_min_orders`` orders in the window;
* active: at least ``active_min_interactions_per_30d`` interactions per 30 days;
* potential: at least ``potential_min_intent_per_30d`` interactions, product clicks or orders per 30 days
  (occasional interaction or purchase intent);
* silent: everyone else present (browsing only).

Interactions are likes, comments, shares, messages and UGC posts; views, visits, clicks and live
watching are browsing. Layer shares are over the fans in the four layers (lapsed and unrated fans are
counted separately); the targets are 15/30/40/15%.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

import ibis
import pandas as pd

from fanlib.data.asof import to_date
from fanlib.profiling.errors import ProfilingRulesError
from fanlib.profiling.features import features_for_window
from fanlib.profiling.stats import PROFILING_Z
from fanlib.profiling.window import Note, window
from fanlib.stats.intervals import wilson_interval

LAYERS = ("core", "active", "potential", "silent")
#: Fans outside the four layers: no event in the window, or too little presence to judge.
LAPSED, UNRATED = "lapsed", "unrated"
OUTSIDE = (LAPSED, UNRATED)
#: The planning documents' target shares.
LAYER_TARGETS = {"core": 0.15, "active": 0.30, "potential": 0.40, "silent": 0.15}
NEW = "new"


@dataclass(frozen=True)
class LayerRules:
    """Thresholds of the four layers (see the module docstring)."""

    window_days: int = 90
    core_min_interactions_per_30d: float = 12.0
    core_min_orders: int = 1
    active_min_interactions_per_30d: float = 4.0
    potential_min_intent_per_30d: float = 1.0
    min_present_days: float = 30.0

    def as_dict(self) -> dict:
        return asdict(self)


def assign_layers(features: ibis.Table, rules: LayerRules = LayerRules()) -> ibis.Table:
    """Add the ``layer`` column to a feature table built over ``rules.window_days``."""
    t = features
    if rules.min_present_days > rules.window_days:
        raise ProfilingRulesError(
            f"min_present_days ({rules.min_present_days}) is longer than the layer window "
            f"({rules.window_days} days): no fan could be rated"
        )
    ipm = t.interactions_per_present_30d
    intent = (t.interactions + t.clicks + t.orders) / ibis.greatest(t.present_days, 7.0) * 30.0
    return t.mutate(
        layer=ibis.cases(
            ((t.events == 0) & (t.orders == 0), LAPSED),
            (t.present_days < rules.min_present_days, UNRATED),
            ((ipm >= rules.core_min_interactions_per_30d) & (t.orders >= rules.core_min_orders), "core"),
            (ipm >= rules.active_min_interactions_per_30d, "active"),
            (intent >= rules.potential_min_intent_per_30d, "potential"),
            else_="silent",
        )
    )


def fan_layers(fd: Any, as_of: Any, rules: LayerRules = LayerRules()) -> ibis.Table:
    """fan_id and layer of every fan who had joined by ``as_of`` (an ibis expression)."""
    f = features_for_window(fd, window(as_of, rules.window_days))
    return assign_layers(f, rules).select("fan_id", "layer")


@dataclass
class LayerShares:
    """Layer counts and shares against the targets."""

    table: pd.DataFrame  # the four layers: fans, share of layered fans (Wilson interval), target, gap
    n: int  # fans in the four layers
    outside: dict[str, int] = field(default_factory=dict)  # lapsed and unrated fans, not in the shares
    notes: list[str] = field(default_factory=list)

    @property
    def shares(self) -> dict[str, float]:
        return dict(zip(self.table.layer, self.table.share, strict=True))


def layer_shares(fd: Any, layered: ibis.Table, z: float = PROFILING_Z) -> LayerShares:
    """Counts, shares with Wilson intervals and gaps to the targets, per layer."""
    df = fd.execute(layered.group_by("layer").aggregate(fans=layered.count()))
    every = df.set_index("layer").fans
    counts = every.reindex(list(LAYERS)).fillna(0).astype(int)
    outside = {k: int(every.get(k, 0)) for k in OUTSIDE}
    n = int(counts.sum())
    rows = []
    for layer, k in counts.items():
        lo, hi = wilson_interval(k, n, z)
        share = k / n if n else None
        rows.append(
            {
                "layer": layer,
                "fans": int(k),
                "share": share,
                "ci_low": lo,
                "ci_high": hi,
                "target": LAYER_TARGETS[layer],
                "gap": None if share is None else share - LAYER_TARGETS[layer],
            }
        )
    notes = [] if n else [Note("no_layered_fans")]
    return LayerShares(pd.DataFrame(rows), n, outside, notes)


@dataclass
class LayerTransitions:
    """Movement between layers from ``previous`` to ``current``: counts and row shares.

    Rows are the previous layer (plus ``lapsed``, ``unrated`` and ``new`` for fans who joined in between),
    columns the current layer (plus ``lapsed`` and ``unrated``).
    """

    counts: pd.DataFrame
    previous: dt.date
    current: dt.date

    @property
    def shares(self) -> pd.DataFrame:
        totals = self.counts.sum(axis=1)
        return self.counts.div(totals.where(totals > 0), axis=0)

    @property
    def stayed_share(self) -> float | None:
        """Share of fans present in both periods who stayed in the same layer."""
        sub = self.counts.loc[[r for r in LAYERS if r in self.counts.index], list(LAYERS)]
        total = sub.to_numpy().sum()
        return float(sum(sub.loc[layer, layer] for layer in sub.index) / total) if total else None

    def summary(self) -> pd.DataFrame:
        """Per previous layer: fans, share that moved up, stayed, moved down (in the four layers) or lapsed."""
        rank = {layer: i for i, layer in enumerate(LAYERS)}
        rows = []
        for prev in [r for r in LAYERS if r in self.counts.index]:
            row = self.counts.loc[prev]
            total = row.sum()
            up = sum(row[c] for c in LAYERS if rank[c] < rank[prev])
            down = sum(row[c] for c in LAYERS if rank[c] > rank[prev])
            rows.append(
                {
                    "previous": prev,
                    "fans": int(total),
                    "up": up / total if total else None,
                    "stayed": row[prev] / total if total else None,
                    "down": down / total if total else None,
                    "lapsed": row[LAPSED] / total if total else None,
                }
            )
        return pd.DataFrame(rows)


def layer_transitions(
    fd: Any, as_of: Any, rules: LayerRules = LayerRules(), period_days: int | None = None
) -> LayerTransitions:
    """The transition matrix between the layers at ``as_of - period_days`` and at ``as_of``.

    ``period_days`` defaults to the layer window (a quarter), so the two assessments do not overlap.
    """
    current = to_date(as_of)
    previous = current - dt.timedelta(days=int(period_days or rules.window_days))
    now = fan_layers(fd, current, rules)
    before = fan_layers(fd, previous, rules).rename(before_layer="layer")
    joined = now.left_join(before, "fan_id")
    joined = joined.mutate(before_layer=joined.before_layer.fill_null(NEW))
    df = fd.execute(joined.group_by(["before_layer", "layer"]).aggregate(fans=joined.count()))
    counts = (
        df.pivot_table(index="before_layer", columns="layer", values="fans", aggfunc="sum", fill_value=0)
        .reindex(index=[*LAYERS, *OUTSIDE, NEW], columns=[*LAYERS, *OUTSIDE], fill_value=0)
        .astype(int)
    )
    counts.index.name, counts.columns.name = "previous", "current"
    return LayerTransitions(counts, previous, current)
