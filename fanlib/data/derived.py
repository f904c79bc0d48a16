"""Fans derived from activity: the fans table of a source that has only orders (or events), and join times
filled in from the first order or event.

Every buyer is a fan, joining at the first order: a source without ``fans`` gets one fan per distinct
``fan_id`` of ``orders`` and ``events`` (every row, cancelled ones included, so that every order's fan
exists), with ``join_time`` the first order or event and the other columns empty. A ``fans`` table without
``join_time``, or with some missing, gets each missing join time from the same first order or event; a fan
with neither is a contract violation (``not_null`` on ``fans.join_time``). Everything runs in the engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir

from fanlib.data import contract

if TYPE_CHECKING:
    from fanlib.data.columns import TablePlan

#: The tables whose rows make a fan (and whose first row is a derived join time).
ACTIVITY_TABLES = ("orders", "events")


def activity_sources(plans: Mapping[str, TablePlan]) -> list[str]:
    """The activity tables with a readable ``fan_id`` and time column."""
    out = []
    for name in ACTIVITY_TABLES:
        p = plans.get(name)
        tcol = contract.table(name).time_column
        if p is not None and all(c in p.present and p.castable.get(c) for c in ("fan_id", tcol)):
            out.append(name)
    return out


def first_activity(plans: Mapping[str, TablePlan]) -> ir.Table | None:
    """``fan_id, first_time``: each fan's first order or event (None when no activity table is readable)."""
    parts = []
    for name in activity_sources(plans):
        t = plans[name].typed
        tcol = contract.table(name).time_column
        part = t.select(fan_id=t.fan_id, first_time=t[tcol])
        parts.append(part.filter(part.fan_id.notnull() & part.first_time.notnull()))
    if not parts:
        return None
    both = parts[0] if len(parts) == 1 else parts[0].union(parts[1], distinct=False)
    return both.group_by("fan_id").aggregate(first_time=both.first_time.min())


def derived_fans(plans: Mapping[str, TablePlan]) -> ir.Table | None:
    """``fan_id, join_time`` of every fan of the activity tables, as a raw table for ``columns.plan``."""
    first = first_activity(plans)
    if first is None:
        return None
    return first.select("fan_id", join_time=first.first_time)


def filled_fans(fans: ir.Table, first: ir.Table) -> ir.Table:
    """``fans`` with each missing ``join_time`` taken from the fan's first order or event."""
    joined = fans.left_join(first, fans.fan_id == first.fan_id)
    columns = {c: joined[c] for c in fans.columns}
    columns["join_time"] = ibis.coalesce(joined["join_time"], joined["first_time"])
    return joined.select(**columns)


@dataclass(frozen=True)
class JoinTimes:
    """Fans whose join time the source leaves out, and how many of them it was filled for."""

    missing: int
    filled: int

    @property
    def unfillable(self) -> int:
        return self.missing - self.filled

    def as_dict(self) -> dict:
        return {**asdict(self), "unfillable": self.unfillable}


def join_time_counts(fans_plan: TablePlan, plans: Mapping[str, TablePlan], execute: Any) -> JoinTimes:
    """How many fans lack a join time in the source, and for how many a first order or event fills it."""
    t = fans_plan.typed
    first = first_activity(plans)
    missing = t.join_time.isnull()
    if first is None:
        n = execute(t.aggregate(missing=missing.ifelse(1, 0).sum()), label="data:fans:join_time").iloc[0]
        return JoinTimes(_whole(n["missing"]), 0)
    j = t.left_join(first, t.fan_id == first.fan_id)
    gap = j.join_time.isnull()
    row = execute(
        j.aggregate(
            missing=gap.ifelse(1, 0).sum(),
            filled=(gap & j.first_time.notnull()).ifelse(1, 0).sum(),
        ),
        label="data:fans:join_time",
    ).iloc[0]
    return JoinTimes(_whole(row["missing"]), _whole(row["filled"]))


def unfillable_examples(fans_plan: TablePlan, plans: Mapping[str, TablePlan], execute: Any, n: int = 5) -> list:
    """A few fan ids with neither a join time nor any order or event."""
    t = fans_plan.typed
    first = first_activity(plans)
    gaps = t.filter(t.join_time.isnull()).select("fan_id")
    if first is not None:
        gaps = gaps.anti_join(first, "fan_id")
    got = execute(gaps.order_by("fan_id").limit(n), label="data:fans:join_time:examples")
    return [{"fan_id": v} for v in got["fan_id"]]


def _whole(v: Any) -> int:
    return 0 if v is None or v != v else int(v)
