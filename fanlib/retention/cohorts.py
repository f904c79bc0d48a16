"""Cohort retention: matrices, curves by group, D-N retention, lifecycle (counts from the engine).

Two definitions (as in Amplitude):

* **on** ("N-day"): a fan counts in period k if active *in* period k after their start;
* **on_or_after** ("unbounded"): a fan counts in period k if active in period k *or any later one*.

Periods are calendar days, ISO weeks and calendar months (``day``, ``week``, ``month``: period 0 is the
calendar period of the fan's start, as every analytics tool counts them), or fixed lengths counted per fan
from their own start day (``7d``, ``30d``: period k covers days k·L … k·L + L − 1); see
:mod:`.queries_cohorts`. A fan counts in the denominator of period k only when that whole period lies on
or before the analysis date, so recent cohorts never show false drops; cells where not every fan of the
cohort could be observed yet are flagged ``complete = False``.

The engine returns only counts per (group, period) (:mod:`.queries_cohorts`); the rates are divided
out in pandas.
"""

from __future__ import annotations

import datetime as _dt
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import ibis
import numpy as np
import pandas as pd

from fanlib.metrics import CATALOGUE

from .activity import RetentionDataWarning, activity_rows, analysis_date
from .errors import RetentionInputError
from .queries_cohorts import (
    CALENDAR,
    COHORT_OF,
    calendar_index,
    check_period,
    cohort_counts,
    cohort_counts_by,
    period_start,
)
from .segments import declared_kinds, grouping

__all__ = [
    "CohortTable",
    "cohort_table",
    "retention_curves",
    "retention_curves_by",
    "day_n_retention",
    "lifecycle_counts",
    "BENCHMARKS",
]

_TRUNCATE = {"day": "D", "week": "W", "month": "M"}  # ISO weeks start on Monday
DEFINITIONS = ("on", "on_or_after")

#: Reference retention figures from the planning documents (new members of a community), as the KPI
#: catalogue (fanlib.metrics) holds them for the day-N retention headlines.
BENCHMARKS = pd.DataFrame(
    [
        {
            "day": day,
            "current_industry": m.benchmark if m else None,
            "healthy": m.target if m else None,
            "source": m.benchmark_source if m and m.benchmark is not None else "",
        }
        for day, m in ((d, CATALOGUE.get(f"retention_d{d}")) for d in (1, 7, 30, 90))
    ]
)


def _rates(sizes: pd.DataFrame, on: pd.DataFrame, after: pd.DataFrame, max_period: int) -> pd.DataFrame:
    """Rates per (group, period) from the engine's counts (all small), as whole-array operations."""
    groups = sorted(set(sizes["group"].astype(str)))
    periods = np.arange(max_period + 1)

    def grid(frame, column, lowest):
        """Counts as a groups × (lowest … max_period) array."""
        keys = frame[column].clip(lower=lowest).to_numpy()
        wide = frame.assign(key=keys, group=frame["group"].astype(str)).pivot_table(
            index="group", columns="key", values="n", aggfunc="sum", fill_value=0
        )
        return wide.reindex(index=groups, columns=range(lowest, max_period + 1), fill_value=0).to_numpy(np.int64)

    def at_least(hist):
        """Fans whose value is ≥ k, for k = 0 … max_period (hist starts at −1)."""
        return hist[:, ::-1].cumsum(axis=1)[:, ::-1][:, 1:]

    obs = grid(sizes, "max_obs", -1)
    size = obs.sum(axis=1)
    eligible = at_least(obs)  # fans whose period k is fully observed
    retained_on = grid(on, "period", 0)
    retained_after = at_least(grid(after, "reach", -1))
    with np.errstate(divide="ignore", invalid="ignore"):
        rate_on = np.where(eligible > 0, retained_on / eligible, np.nan)
        rate_after = np.where(eligible > 0, retained_after / eligible, np.nan)
    n = len(periods)
    sizes_per_cell = np.repeat(size, n)
    return pd.DataFrame(
        {
            "group": np.repeat(groups, n),
            "period": np.tile(periods, len(groups)),
            "cohort_size": sizes_per_cell,
            "eligible": eligible.ravel(),
            "retained_on": retained_on.ravel(),
            "retained_on_or_after": retained_after.ravel(),
            "rate_on": rate_on.ravel(),
            "rate_on_or_after": rate_after.ravel(),
            "complete": (eligible.ravel() == sizes_per_cell) & (sizes_per_cell > 0),
        }
    )


@dataclass
class CohortTable:
    """A cohort retention table: one row per (cohort, period) with both definitions.

    ``cells`` columns: cohort, period, cohort_size, eligible, retained_on,
    retained_on_or_after, rate_on, rate_on_or_after, complete, small.
    ``matrix(definition)`` pivots to cohorts × periods with incomplete cells
    and small cohorts blanked (NaN), so a heatmap never shows them as drops.
    """

    cells: pd.DataFrame
    period: str  # day, week, month (calendar) or 7d, 30d (fixed lengths from each fan's start)
    cohort_period: str  # the calendar period grouping fans into cohorts: day, week or month
    cohort_by: str
    basis: str
    as_of: _dt.date
    min_cohort_size: int
    notes: list[str] = field(default_factory=list)

    @property
    def calendar(self) -> bool:
        """Whether the periods are calendar periods (else fixed lengths from each fan's start day)."""
        return self.period in CALENDAR

    def matrix(self, definition: str = "on", show_incomplete: bool = False) -> pd.DataFrame:
        if definition not in DEFINITIONS:
            raise RetentionInputError(f"definition must be one of {', '.join(DEFINITIONS)}; got {definition!r}")
        c = self.cells.copy()
        value = c[f"rate_{definition}"].where(~c["small"])
        if not show_incomplete:
            value = value.where(c["complete"])
        c["value"] = value
        return c.pivot(index="cohort", columns="period", values="value")

    @property
    def sizes(self) -> pd.Series:
        return self.cells.groupby("cohort")["cohort_size"].first()


def cohort_table(
    fd: Any,
    *,
    period: str = "week",
    cohort_period: str | None = None,
    cohort_by: str = "join",
    basis: str = "activity",
    max_periods: int = 12,
    as_of: Any = None,
    min_cohort_size: int = 20,
) -> CohortTable:
    """Retention by start cohort (fans grouped by the calendar day, ISO week or month they joined or first
    ordered; ``cohort_period``, by default the calendar period of ``period``: ISO weeks for ``7d``).

    Cohorts smaller than ``min_cohort_size`` are kept in ``cells`` but flagged
    ``small`` and blanked in the matrix, with a note: a cohort of one fan
    shows 0% or 100%, which says nothing.
    """
    check_period(period)
    cohort_period = COHORT_OF[check_period(cohort_period or period)]
    if max_periods < 1:
        raise RetentionInputError("max_periods must be at least 1")
    as_of = analysis_date(fd, as_of).day
    unit = _TRUNCATE[cohort_period]
    sizes, on, after = cohort_counts(
        fd,
        group=lambda s: s.start_day.truncate(unit),
        period=period,
        max_period=max_periods,
        as_of=as_of,
        cohort_by=cohort_by,
        basis=basis,
    )
    if sizes.empty:
        raise RetentionInputError(
            f"no fans start on or before {as_of} (cohort_by={cohort_by!r}); check the fans table and the analysis date"
        )
    cells = _rates(sizes, on, after, max_periods).rename(columns={"group": "cohort"})
    cells["cohort"] = pd.to_datetime(cells["cohort"]).dt.date
    cells["small"] = cells["cohort_size"] < min_cohort_size
    notes = []
    small = cells.loc[cells["small"], ["cohort", "cohort_size"]].drop_duplicates()
    if len(small):
        shown = ", ".join(
            f"{r.cohort} ({r.cohort_size} fan{'s' if r.cohort_size != 1 else ''})" for r in small.head(5).itertuples()
        )
        notes.append(
            f"{len(small)} cohort(s) have fewer than {min_cohort_size} fans and are not shown as rates, "
            f"because a rate over so few fans is noise: {shown}"
        )
        warnings.warn(notes[-1], RetentionDataWarning, stacklevel=2)
    return CohortTable(cells, period, cohort_period, cohort_by, basis, as_of, min_cohort_size, notes)


_GROUPS = {
    "all": lambda s: ibis.literal("all"),
    "channel": lambda s: s.channel,
    "community_id": lambda s: s.community_id,
    "city_tier": lambda s: s.city_tier,
}


def retention_curves(
    fd: Any,
    by: str = "all",
    *,
    period: str = "day",
    max_periods: int = 90,
    cohort_by: str = "join",
    basis: str = "activity",
    as_of: Any = None,
    top: int | None = None,
) -> pd.DataFrame:
    """Retention curves (both definitions) by a fan attribute: all, channel, community_id or city_tier.

    ``period``: one of ``PERIODS`` (day by default: day k after the start day). Each point uses only
    the fans whose period k is fully observed. ``top``
    keeps the largest groups (useful for the many communities).
    """
    return retention_curves_by(
        fd,
        [by],
        period=period,
        max_periods=max_periods,
        cohort_by=cohort_by,
        basis=basis,
        as_of=as_of,
        top=None if top is None else {by: top},
    )[by]


def retention_curves_by(
    fd: Any,
    bys: Iterable[str],
    *,
    period: str = "day",
    max_periods: int = 90,
    cohort_by: str = "join",
    basis: str = "activity",
    as_of: Any = None,
    top: dict[str, int] | None = None,
    bins: int = 4,
) -> dict[str, pd.DataFrame]:
    """``retention_curves`` for several fan attributes with one pass over the activity rows: ``{by: curves}``;
    ``top`` keeps the largest groups of the attributes it names (``{"community_id": 8}``).

    ``bys`` are the fans' channel, community and city tier, or any declared fan column
    (:func:`fanlib.data.attributes.declared_columns`): categorical as it is, numeric in ``bins`` quantile
    bins (:func:`fanlib.data.attributes.segment_labels`), as of the analysis date.
    """
    bys = list(bys)
    check_period(period)
    as_of = analysis_date(fd, as_of).day
    own = [by for by in bys if by not in _GROUPS]
    kinds = declared_kinds(fd, own)
    groups = {by: _GROUPS[by] if by in _GROUPS else grouping(fd, by, kinds[by], bins) for by in bys}
    counts = cohort_counts_by(
        fd,
        groups=groups,
        period=period,
        max_period=max_periods,
        as_of=as_of,
        cohort_by=cohort_by,
        basis=basis,
        attributes=own,
    )
    result = {}
    for by in bys:
        sizes, on, after = counts[by]
        if sizes.empty:
            raise RetentionInputError(f"no fans start on or before {as_of}")
        sizes["group"] = sizes["group"].fillna("unknown")
        on["group"] = on["group"].fillna("unknown")
        after["group"] = after["group"].fillna("unknown")
        out = _rates(sizes, on, after, max_periods).rename(columns={"group": by})
        if top and by in top:
            keep = out.groupby(by)["cohort_size"].first().nlargest(top[by]).index
            out = out[out[by].isin(keep)]
        result[by] = out.drop(columns=["complete"]).reset_index(drop=True)
    return result


def day_n_retention(
    fd: Any,
    days: Iterable[int] = (1, 7, 30, 90),
    *,
    cohort_by: str = "join",
    basis: str = "activity",
    as_of: Any = None,
) -> pd.DataFrame:
    """D1/D7/D30/D90 retention (both definitions) of all fans, next to the planning benchmarks."""
    days = sorted(int(d) for d in days)
    curve = retention_curves(
        fd, "all", period="day", max_periods=max(days), cohort_by=cohort_by, basis=basis, as_of=as_of
    )
    out = curve[curve["period"].isin(days)].rename(columns={"period": "day"})
    out = out[["day", "eligible", "retained_on", "rate_on", "retained_on_or_after", "rate_on_or_after"]]
    out = out.merge(BENCHMARKS, on="day", how="left")
    out["meets_healthy"] = np.where(out["healthy"].notna(), out["rate_on"] >= out["healthy"], None)
    if (out["eligible"] == 0).any():
        missing = out.loc[out["eligible"] == 0, "day"].tolist()
        warnings.warn(
            f"no fan has been observed long enough for day {missing} retention", RetentionDataWarning, stacklevel=2
        )
    return out.reset_index(drop=True)


def lifecycle_counts(
    fd: Any, *, period: str = "week", basis: str = "activity", as_of: Any = None, start: Any = None
) -> pd.DataFrame:
    """Active fans per calendar period split into new, returning and resurrected, plus dormant fans.

    * new: active in the period they joined;
    * returning: active in this period and the previous one;
    * resurrected: active now, not in the previous period, active at some earlier time (or joined earlier);
    * dormant: active in the previous period but not in this one (shown as a negative bar by convention).
    """
    if check_period(period) not in CALENDAR:
        raise RetentionInputError(f"lifecycle periods are calendar periods: {', '.join(CALENDAR)}; got {period!r}")
    as_of = analysis_date(fd, as_of).day
    a = activity_rows(fd, basis)  # made distinct per (fan, period) below
    a = a.filter(a.day <= ibis.date(as_of))

    def index(day):
        return calendar_index(day, period)  # weeks start on Monday

    f = fd.fans
    joined = f.select(fan_id=f.fan_id, join_idx=index(f.join_time.date()).cast("int64"))
    per = a.select(fan_id=a.fan_id, idx=index(a.day).cast("int64")).distinct()
    w = ibis.window(group_by="fan_id", order_by="idx")
    per = per.mutate(prev=per.idx.lag().over(w))
    per = per.join(joined, "fan_id", how="left")
    status = ibis.cases((per.idx == per.join_idx, "new"), (per.prev == per.idx - 1, "returning"), else_="resurrected")
    counts = per.group_by([per.idx, status.name("status")]).aggregate(n=per.count())
    df = fd.execute(counts, label="retention:lifecycle")
    if df.empty:
        raise RetentionInputError("no activity on or before the analysis date; lifecycle counts need events or orders")
    wide = df.pivot_table(index="idx", columns="status", values="n", aggfunc="sum", fill_value=0)
    for col in ("new", "returning", "resurrected"):
        if col not in wide:
            wide[col] = 0
    full = np.arange(wide.index.min(), wide.index.max() + 1)
    wide = wide.reindex(full, fill_value=0)
    wide["active"] = wide["new"] + wide["returning"] + wide["resurrected"]
    wide["dormant"] = (wide["active"].shift(1, fill_value=0) - wide["returning"]).astype(int)
    starts = [period_start(int(i), period) for i in wide.index]
    wide.insert(0, "period_start", starts)
    # the last period is cut off by the analysis date unless it ends exactly there
    last_end = (
        pd.Timestamp(starts[-1])
        + (pd.DateOffset(months=1) if period == "month" else pd.Timedelta(days=7 if period == "week" else 1))
        - pd.Timedelta(days=1)
    ).date()
    wide["complete"] = True
    wide.loc[wide.index[-1], "complete"] = last_end <= as_of
    out = wide.reset_index(drop=True)[
        ["period_start", "new", "returning", "resurrected", "dormant", "active", "complete"]
    ]
    if start is not None:
        out = out[out["period_start"] >= pd.Timestamp(start).date()].reset_index(drop=True)
    return out
