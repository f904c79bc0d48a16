"""Purchase figures from the orders alone, for data without events (a retailer's or a shop's order log).

Over the KPI window ``[as_of - window_days + 1, as_of]``: buyers (fans with an order in it), repeat buyers
(two or more orders in it) and the repurchase rate (repeat buyers ÷ buyers), the median days between a
fan's consecutive orders (for orders in the window, the previous one may be earlier), orders, GMV and the
average order value (GMV ÷ orders). The same definitions as the community KPIs' value figures
(:mod:`fanlib.profiling.queries`), which also need the events for their funnel.
"""

from __future__ import annotations

from typing import Any

import ibis
import pandas as pd

from fanlib.profiling.window import days_between, window

#: The figures, in the order of the table; their units as ``fanlib.present.i18n.fmt_number`` writes them.
PURCHASE_FIGURES = {
    "buyers": "count",
    "repeat_buyers": "count",
    "repurchase_rate": "pct",
    "repurchase_interval_days": "days",
    "orders": "count",
    "gmv": "cny",
    "aov": "cny",
}


def purchase_kpis(fd: Any, as_of: Any, window_days: int = 30) -> pd.DataFrame:
    """One row per figure (``figure``, ``value``, ``unit``) over the window, computed in the engine."""
    w = window(as_of, window_days)
    od = fd.orders.filter(fd.orders.order_time < w.lit_end())
    od = od.mutate(
        prev=od.order_time.lag().over(ibis.window(group_by=od.fan_id, order_by=[od.order_time, od.order_id]))
    )
    odw = od.filter(od.order_time >= w.lit_start())
    odw = odw.mutate(gap=days_between(odw.order_time, odw.prev))
    per_fan = odw.group_by("fan_id").aggregate(n=odw.count(), gmv=odw.amount_cny.sum())
    a = fd.execute(
        per_fan.aggregate(
            buyers=per_fan.count(),
            repeat_buyers=(per_fan.n >= 2).ifelse(1, 0).sum(),
            orders=per_fan.n.sum(),
            gmv=per_fan.gmv.sum(),
        ),
        label="profiling:purchase_kpis",
    ).iloc[0]
    gap = fd.execute(odw.filter(odw.gap.notnull()).gap.median(), label="profiling:purchase_interval")
    buyers, orders = int(a["buyers"]), int(a["orders"] or 0)
    gmv = float(a["gmv"] or 0.0)
    values = {
        "buyers": buyers,
        "repeat_buyers": int(a["repeat_buyers"] or 0),
        "repurchase_rate": int(a["repeat_buyers"] or 0) / buyers if buyers else None,
        "repurchase_interval_days": None if gap is None or pd.isna(gap) else float(gap),
        "orders": orders,
        "gmv": gmv,
        "aov": gmv / orders if orders else None,
    }
    return pd.DataFrame(
        {
            "figure": list(values),
            "value": pd.Series(list(values.values()), dtype=object),  # counts stay whole numbers
            "unit": list(PURCHASE_FIGURES.values()),
        }
    )
