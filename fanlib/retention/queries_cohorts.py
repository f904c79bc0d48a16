"""The engine side of cohort retention: per (group, period) counts of fans observable, active in the
period, and last seen in it, from one pass over the activity rows.

Periods (``PERIODS``) are calendar periods or fixed lengths:

* ``day``, ``week``, ``month``: calendar days, ISO weeks (Monday to Sunday) and calendar months; period 0
  is the calendar period of the fan's start day, period k the k-th calendar period after it, so every
  fan of one cohort shares the same calendar periods (as Amplitude, Mixpanel and GA4 count them);
* ``7d``, ``30d``: fixed lengths counted from each fan's own start day (period k covers days
  7k … 7k + 6 after it), cohorts grouped by ISO week and calendar month.

Only counts leave the engine; :mod:`.cohorts` divides them into rates.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Sequence
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from .activity import activity_rows, start_days

__all__ = ["PERIODS", "CALENDAR", "FIXED_DAYS", "COHORT_OF", "check_period", "cohort_counts", "cohort_counts_by"]

#: Calendar periods: the period of a day as a whole number (consecutive periods, consecutive numbers).
CALENDAR = ("day", "week", "month")
#: Fixed-length periods, counted from each fan's start day: their length in days.
FIXED_DAYS = {"7d": 7, "30d": 30}
#: Every period the cohort analyses know (the notebook's ``cohort_period`` choices).
PERIODS = (*CALENDAR, *FIXED_DAYS)
#: The calendar period that groups fans into cohorts for each period.
COHORT_OF = {"day": "day", "week": "week", "month": "month", "7d": "week", "30d": "month"}
_MONDAY = "1970-01-05"  # a Monday: ISO weeks are counted from it

#: A fan attribute to group by, as an expression over the start-days table.
Grouping = Callable[[ir.Table], ir.Value]


def check_period(period: str) -> str:
    """``period`` if the cohort analyses know it, else a clear refusal naming the choices."""
    from .errors import RetentionInputError

    if period not in PERIODS:
        raise RetentionInputError(f"period must be one of {', '.join(PERIODS)}; got {period!r}")
    return period


def calendar_index(day: ir.DateValue, period: str) -> ir.IntegerValue:
    """The calendar day, ISO week or month of ``day`` as a whole number (engine side)."""
    if period == "month":
        return (day.year() * 12 + day.month() - 1).cast("int64")
    length = 7 if period == "week" else 1
    return (day.delta(ibis.date(_MONDAY), unit="day") // length).cast("int64")


def period_start(index: int, period: str) -> _dt.date:
    """The first day of calendar period number ``index`` (the inverse of :func:`calendar_index`)."""
    if period == "month":
        return _dt.date(index // 12, index % 12 + 1, 1)
    return _dt.date.fromisoformat(_MONDAY) + _dt.timedelta(days=index * (7 if period == "week" else 1))


def _period_of(day: ir.DateValue, start: ir.DateValue, period: str) -> ir.IntegerValue:
    """The period number of ``day`` counted from the fan's ``start`` day (0: the start's own period)."""
    if period in FIXED_DAYS:
        return (day.delta(start, unit="day") // FIXED_DAYS[period]).cast("int64")
    return (calendar_index(day, period) - calendar_index(start, period)).cast("int64")


#: bits used per 64-bit mask of active periods (the sign bit left alone)
_MASK_BITS = 62


def cohort_counts(
    fd: Any, *, group: Grouping, period: str, max_period: int, as_of: _dt.date, cohort_by: str, basis: str
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``cohort_counts_by`` for one grouping: (sizes, on, after)."""
    return cohort_counts_by(
        fd,
        groups={"group": group},
        period=period,
        max_period=max_period,
        as_of=as_of,
        cohort_by=cohort_by,
        basis=basis,
    )["group"]


def cohort_counts_by(
    fd: Any,
    *,
    groups: dict[str, Grouping],
    period: str,
    max_period: int,
    as_of: _dt.date,
    cohort_by: str,
    basis: str,
    attributes: Sequence[str] = (),
) -> dict[str, tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]]:
    """Engine counts: fans per (group, last observable period), active fans per (group, period) and fans
    per (group, last period reached).

    One query, one pass over the activity rows: they are joined once to the small table of fans (start
    day, group, last observable period and an integer row key), then reduced per fan to the last period
    reached and a bit mask of the periods 0 … max_period the fan was active in. Counting per group is
    then bit tests over one row per fan, so no (fan, period) pairs are ever made distinct and the fan id
    string is hashed only once, in the join. Several groupings (``{name: fans → group}``, over the start
    days and the declared fan ``attributes`` named) share that
    per-fan reduction: it is kept in an engine-side temporary table while each grouping's counts are read
    from it, and comes back as ``{name: (sizes, on, after)}``.

    A fan's period k is observable when it ends on or before ``as_of``: the last observable period is the
    one before the period holding the day after ``as_of`` (``period``: see the module notes).
    """
    check_period(period)
    s = start_days(fd, cohort_by, attributes, as_of=as_of)
    as_of_lit = ibis.date(as_of)
    s = s.filter(s.start_day <= as_of_lit)
    names = list(groups)
    group_cols = [f"group_{i}" for i in range(len(names))]
    s = s.mutate(
        max_obs=(_period_of(ibis.date(as_of + _dt.timedelta(days=1)), s.start_day, period) - 1).cast("int64"),
        **{col: groups[name](s).cast("string") for col, name in zip(group_cols, names, strict=True)},
    )
    s = s.select("fan_id", "start_day", "max_obs", *group_cols, fan_key=ibis.row_number())
    days = activity_rows(fd, basis)
    j = days.join(s, "fan_id")
    j = j.filter(j.day <= as_of_lit, j.day >= j.start_day)
    pk = _period_of(j.day, j.start_day, period)
    counted = pk <= ibis.least(j.max_obs, ibis.literal(max_period))  # fully observed and shown
    one = ibis.literal(1).cast("int64")
    chunks = range(max_period // _MASK_BITS + 1)
    masks = {
        f"mask{c}": ibis.ifelse(
            counted & (pk // _MASK_BITS == c),
            one << (pk - c * _MASK_BITS).cast("int32"),
            ibis.literal(0).cast("int64"),
        ).bit_or()
        for c in chunks
    }
    per = j.group_by("fan_key").aggregate(last=pk.max(), **masks)
    fans = s.left_join(per, s.fan_key == per.fan_key)
    fans = fans.select(*group_cols, "max_obs", "last", *masks)
    if len(names) > 1:
        fans = fans.cache()
    # SQL's LEAST skips NULLs: a fan with no activity (no "last") must not reach any period
    reach = ibis.ifelse(
        fans["last"].notnull(), ibis.least(fans["last"], fans.max_obs, ibis.literal(max_period)), ibis.null("int64")
    )
    observable = fans.max_obs.clip(upper=max_period)
    keys = range(-1, max_period + 1)
    agg = {}
    for k in keys:
        # ifelse, not a cast: PostgreSQL cannot cast boolean to bigint (nor shift by a bigint, above)
        agg[f"size_{k + 1}"] = (observable == k).ifelse(1, 0).sum()
        agg[f"after_{k + 1}"] = (reach == k).ifelse(1, 0).sum()
        if k >= 0:
            bit = (fans[f"mask{k // _MASK_BITS}"] >> (k % _MASK_BITS)) & 1
            agg[f"on_{k + 1}"] = bit.fill_null(0).sum()
    try:
        wides = {
            name: fd.execute(fans.group_by(group=fans[col]).aggregate(**agg), label="retention:cohort_counts")
            for col, name in zip(group_cols, names, strict=True)
        }
    finally:
        if len(names) > 1:
            fans.release()

    def long(wide, kind, name, first):
        cols = [f"{kind}_{k + 1}" for k in keys if k >= first]
        out = wide.melt(id_vars="group", value_vars=cols, var_name=name, value_name="n")
        out[name] = out[name].str.removeprefix(f"{kind}_").astype("int64") - 1
        out["n"] = out["n"].fillna(0).astype("int64")
        return out[out["n"] > 0].reset_index(drop=True)

    return {
        name: (long(wide, "size", "max_obs", -1), long(wide, "on", "period", 0), long(wide, "after", "reach", -1))
        for name, wide in wides.items()
    }
