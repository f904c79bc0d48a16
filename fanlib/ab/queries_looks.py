"""The daily views' engine queries: per look and variant, the counts and sums of fans known by that look.

``cumulative_looks`` reads the contract's assignments and orders (a fan's outcome accumulates up to the look,
capped at its outcome window); ``unit_looks`` reads a user's unit table with a time column (a fan counts from
the day it entered, with the table's outcome). ``fanlib.ab.sequential`` turns them into always-valid intervals.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import ibis
import pandas as pd

from fanlib.ab.errors import ABInputError
from fanlib.ab.queries import require_table, run_query

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from fanlib.ab.metrics import Metric
    from fanlib.data.tables import FanData


def cumulative_looks(
    fd: FanData, experiment_id: str, metric: Metric, looks: Iterable[Any], *, window_days: int = 28
) -> pd.DataFrame:
    """Per look date and variant: n, Σy, Σy² of the metric using only data known by that date.

    A fan counts from its assignment; its outcome accumulates orders up to the look (capped at the
    outcome window). Only proportion and mean metrics built from orders are supported.
    """
    if metric.column not in ("converted", "revenue", "orders"):
        raise ABInputError(
            f"the peeking-safe mode supports conversion, revenue and orders metrics, not {metric.name!r}",
            check="sequential metric",
            code="sequential_metric",
            fields={"metric": metric.name},
        )
    a = require_table(fd, "assignments")
    a = a.filter(a.experiment_id == experiment_id).select("fan_id", "variant", "assigned_time")
    lk = ibis.memtable(pd.DataFrame({"look": pd.to_datetime(list(looks))}))
    al = a.cross_join(lk)
    al = al.filter(al.assigned_time < al.look)
    o = fd.orders.select(o_fan="fan_id", t="order_time", amount="amount_cny")
    j = al.left_join(
        o,
        [
            al.fan_id == o.o_fan,
            o.t >= al.assigned_time,
            o.t < al.look,
            o.t < al.assigned_time + ibis.interval(days=window_days),
        ],
    )
    per = j.group_by([j.fan_id, j.variant, j.look]).aggregate(
        orders=j.amount.count(), revenue=j.amount.sum().fill_null(0.0)
    )
    y = {
        "converted": (per.orders > 0).ifelse(1.0, 0.0),
        "revenue": per.revenue.cast("float64"),
        "orders": per.orders.cast("float64"),
    }[metric.column]
    per = per.mutate(y=y)
    agg = per.group_by(["look", "variant"]).aggregate(n=per.count(), sum=per.y.sum(), sum_sq=(per.y * per.y).sum())
    frame = run_query(fd, agg, f"ab:{experiment_id}:looks")
    return frame.sort_values(["look", "variant"]).reset_index(drop=True)


def unit_looks(fd: FanData, units: ir.Table, metric: Metric, time_column: str) -> pd.DataFrame:
    """Per day and variant of a unit table: n, Σy, Σy² of the fans who entered by the end of that day.

    ``time_column`` says when each fan entered; their outcome is the table's (the export's final value). The
    engine aggregates per day; the running totals over the days are taken here (a few rows per day).
    """
    if metric.kind == "ratio":
        raise ABInputError(
            f"the daily view needs a rate or a mean as the primary outcome, not the ratio {metric.name!r}",
            check="sequential metric",
            code="sequential_metric",
            fields={"metric": metric.name},
        )
    y = units[metric.column].cast("float64").fill_null(0.0)
    day = units[time_column].cast("timestamp").truncate("D")
    per_day = units.filter(units[time_column].notnull()).group_by(
        [day.name("day"), units.variant.cast("string").name("variant")]
    )
    frame = run_query(fd, per_day.aggregate(n=y.count(), sum=y.sum(), sum_sq=(y * y).sum()), "ab:unit:looks")
    if frame.empty:
        return pd.DataFrame(columns=["look", "variant", "n", "sum", "sum_sq"])
    wide = frame.pivot_table(index="day", columns="variant", values=["n", "sum", "sum_sq"], aggfunc="sum").fillna(0)
    running = wide.sort_index().cumsum().stack("variant", future_stack=True).reset_index()
    running["look"] = pd.to_datetime(running["day"]) + pd.Timedelta(days=1)
    return running[["look", "variant", "n", "sum", "sum_sq"]].sort_values(["look", "variant"]).reset_index(drop=True)
