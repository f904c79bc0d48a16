"""The engine side of the churn features: the cut-offs as a small table, each cut-off's 90-day window of
days, the event aggregates per (fan, cut-off) and each fan's last event day before each cut-off.

Only the per (fan, cut-off) aggregates leave the engine, through :mod:`.churn_features`.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from fanlib.data import contract

__all__ = ["INTERACTIVE", "cutoff_table", "window_days", "event_aggregates", "last_event_ever"]

#: Event types that count as interaction (the share of interactive events is a feature).
INTERACTIVE = contract.ENGAGED_TYPES


def cutoff_table(cutoffs: list[_dt.date], *, active_within_days: int) -> ir.Table:
    """One row per cut-off with the first day of each window it needs, computed here so the engine
    compares plain columns."""
    day = _dt.timedelta(days=1)
    windows = {"cutoff": 0, "start_90": -90, "start_active": -active_within_days}
    frame = pd.DataFrame(
        {"position": np.arange(len(cutoffs), dtype="int64")}
        | {name: pd.to_datetime([c + shift * day for c in cutoffs]) for name, shift in windows.items()}
    )
    frame["cutoff_ts"] = frame["cutoff"]  # 00:00 of the day, to compare with join and comment times
    return ibis.memtable(frame).cast({name: "date" for name in windows} | {"cutoff_ts": "timestamp"})


def window_days(cutoffs: list[_dt.date]) -> ir.Table:
    """(day, position, in30, bit): each day of each cut-off's 90-day window. ``in30`` marks the last 30
    days; ``bit`` is 1 << (k − 1) for the day k days before the cut-off within them (0 before), so a fan's
    distinct active days are the popcount of one OR of these bits per (fan, cut-off)."""
    rows = [
        (c - _dt.timedelta(days=k), position, int(k <= 30), (1 << (k - 1)) if k <= 30 else 0)
        for position, c in enumerate(cutoffs)
        for k in range(1, 91)
    ]
    frame = pd.DataFrame(rows, columns=["day", "position", "in30", "bit"]).astype(
        {"day": "datetime64[s]", "position": "int64", "in30": "int64", "bit": "int64"}
    )
    return ibis.memtable(frame).cast({"day": "date"})


def event_aggregates(fd: Any, cutoffs: list[_dt.date]) -> tuple[ir.Table, ir.Table]:
    """Per (fan, cut-off) event aggregates of the 90 days before each cut-off, and each fan's first check-in.

    Each event meets only the few cut-offs whose 90-day window holds its day (a join on the day to a small
    table of window days, see ``window_days``).
    """
    days = window_days(cutoffs)
    e = fd.events
    first_day, last_cutoff = min(cutoffs) - _dt.timedelta(days=90), max(cutoffs)
    e = e.filter(
        e.event_time >= ibis.timestamp(pd.Timestamp(first_day).to_pydatetime()),
        e.event_time < ibis.timestamp(pd.Timestamp(last_cutoff).to_pydatetime()),
    )
    # event-type flags per event, before the join multiplies the rows by the windows holding them
    e = e.select(
        "fan_id",
        day=e.event_time.date(),
        inter=e.event_type.isin(INTERACTIVE).ifelse(1, 0),
        ck=(e.event_type == "checkin").ifelse(1, 0),
    )  # PostgreSQL cannot cast boolean to bigint
    w = e.join(days, "day")
    ev_agg = w.group_by("fan_id", "position").aggregate(
        last_event=w.day.max(),
        active_mask_30=w.bit.bit_or(),
        events_30=w.in30.sum(),
        events_90=w.count(),
        inter_30=(w.inter * w.in30).sum(),
        checkin_mask_30=(w.ck * w.bit).bit_or(),
    )
    ev = fd.events
    first_ck = (
        ev.filter(ev.event_type == "checkin").group_by("fan_id").aggregate(first_checkin=ev.event_time.min().date())
    )
    return ev_agg, first_ck


def last_event_ever(fd: Any, cuts: ir.Table) -> ir.Table:
    """(fan_id, position, last_event): each fan's last event day before each cut-off, however long ago
    (the scoring population of every buyer reaches back further than the 90-day window)."""
    e = fd.events
    days = e.select("fan_id", day=e.event_time.date()).distinct()
    j = days.join(cuts.select("position", "cutoff"), days.day < cuts.cutoff)
    return j.group_by("fan_id", "position").aggregate(last_event=j.day.max())
