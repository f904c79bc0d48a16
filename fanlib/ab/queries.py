"""Per-fan outcomes and per-variant sufficient statistics, computed in the engine.

Two inputs give the same unit-level shape (one row per fan: variant, outcome and
covariate columns, segment columns):

* ``experiment_units(fd, ...)``: from the contract's ``assignments`` with ``orders`` and
  ``events`` in a window after each fan's assignment, and a pre-period window before it;
* ``fanlib.ab.checks.unitrequire_table(fd, name, ...)``: a table the user exported from another tool.

``variant_moments`` then aggregates counts, sums and cross-product sums per variant
(and per segment) in the engine, so only a handful of numbers per variant reach Python.
The metrics themselves are defined in ``fanlib.ab.metrics``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import ibis
import numpy as np
import pandas as pd

from fanlib.ab.errors import ABInputError
from fanlib.ab.metrics import EVENT_COLUMNS, Metric
from fanlib.ab.stats import Moments

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from fanlib.data.tables import FanData


def run_query(fd: FanData, expr: ir.Expr, label: str) -> pd.DataFrame:
    try:
        return fd.execute(expr, label=label)
    except TypeError:
        return fd.execute(expr)


def require_table(fd: FanData, name: str) -> ir.Table:
    if hasattr(fd, "has") and not fd.has(name):
        raise ABInputError(
            f"the data source has no {name!r} table; the experiment readout needs it",
            table=name,
            check="table present",
            code="missing_table",
            fields={"table": name},
        )
    return fd.table(name)


_ORDER_COUNTS = ("orders", "revenue", "pre_orders", "pre_revenue")
_EVENT_COUNTS = ("events", "messages", "clicks", "views", "pre_events", "pre_messages")


def _assigned(fd, experiment_id: str):
    a = require_table(fd, "assignments")
    return a.filter(a.experiment_id == experiment_id).select("fan_id", "variant", "assigned_time")


def _per_fan_orders(fd, a, w, p):
    """Per fan with an order in its pre-period or outcome window: order counts and revenue in each."""
    o = fd.orders.select(o_fan="fan_id", t="order_time", amount="amount_cny")
    jo = a.join(o, [a.fan_id == o.o_fan, o.t >= a.assigned_time - p, o.t < a.assigned_time + w])
    post = jo.t >= jo.assigned_time
    return jo.group_by([jo.fan_id.name("of"), jo.variant.name("ov")]).aggregate(
        orders=post.ifelse(1, 0).sum(),
        revenue=post.ifelse(jo.amount, 0.0).sum(),
        pre_orders=post.ifelse(0, 1).sum(),
        pre_revenue=post.ifelse(0.0, jo.amount).sum(),
    )


def _per_fan_events(fd, a, w, p):
    """Per fan with an event in its pre-period or outcome window: event counts by kind in each."""
    e = fd.events.select(e_fan="fan_id", t="event_time", et="event_type")
    je = a.join(e, [a.fan_id == e.e_fan, e.t >= a.assigned_time - p, e.t < a.assigned_time + w])
    post = je.t >= je.assigned_time
    return je.group_by([je.fan_id.name("ef"), je.variant.name("ev")]).aggregate(
        events=post.ifelse(1, 0).sum(),
        messages=(post & (je.et == "message")).ifelse(1, 0).sum(),
        clicks=(post & (je.et == "click")).ifelse(1, 0).sum(),
        views=(post & (je.et == "view")).ifelse(1, 0).sum(),
        pre_events=post.ifelse(0, 1).sum(),
        pre_messages=((~post) & (je.et == "message")).ifelse(1, 0).sum(),
    )


def _as_outcomes(units, counts: tuple[str, ...]):
    """Counts as float64 with 0 for fans without rows, and the 0/1 columns derived from them."""
    units = units.mutate(**{c: units[c].fill_null(0).cast("float64") for c in counts})
    if "events" in counts:
        units = units.mutate(
            active=(units.events > 0).ifelse(1.0, 0.0), pre_active=(units.pre_events > 0).ifelse(1.0, 0.0)
        )
    return units.mutate(
        converted=(units.orders > 0).ifelse(1.0, 0.0), pre_converted=(units.pre_orders > 0).ifelse(1.0, 0.0)
    )


def _uses_events(fd, with_events: bool) -> bool:
    return with_events and (not hasattr(fd, "has") or fd.has("events"))


def experiment_units(
    fd: FanData,
    experiment_id: str,
    *,
    window_days: int = 28,
    pre_days: int = 28,
    tenure_days: int = 90,
    with_events: bool = True,
    with_segments: bool = True,
) -> ir.Table:
    """One row per assigned fan: outcomes in [assigned, assigned + window), covariates in the pre-period.

    Returned as an ibis expression (nothing runs until it is aggregated). Columns: fan_id, variant,
    assigned_time, orders, revenue, converted, pre_orders, pre_revenue, pre_converted and, with
    events, events, active, messages, clicks, views, pre_events, pre_active, pre_messages; and the
    segments activity_tier, channel, tenure, city_tier (without ``with_segments``, only activity_tier:
    the join with ``fans`` is left out).
    """
    _check_windows(window_days, pre_days)
    a = _assigned(fd, experiment_id)
    w, p = ibis.interval(days=window_days), ibis.interval(days=pre_days)
    per_fan_orders = _per_fan_orders(fd, a, w, p)
    units = a.left_join(per_fan_orders, a.fan_id == per_fan_orders["of"]).drop("of", "ov")
    counts = _ORDER_COUNTS
    if _uses_events(fd, with_events):
        per_fan_events = _per_fan_events(fd, a, w, p)
        units = units.left_join(per_fan_events, units.fan_id == per_fan_events["ef"]).drop("ef", "ev")
        counts += _EVENT_COUNTS
    units = _as_outcomes(units, counts)
    if "events" in counts:
        rate = units.pre_events / max(pre_days, 1)
        units = units.mutate(
            activity_tier=ibis.cases(
                (units.pre_events == 0, "silent"), (rate < 0.5, "low"), (rate < 2, "medium"), else_="high"
            )
        )
    if not with_segments:
        return units
    fans = fd.fans
    keep = [c for c in ("channel", "city_tier", "join_time") if c in _given_fan_columns(fd, fans)]
    f = fans.select(ff="fan_id", **{c: fans[c] for c in keep})
    units = units.left_join(f, units.fan_id == f.ff).drop("ff")
    if "join_time" in keep:
        units = units.mutate(
            tenure=(units.join_time >= units.assigned_time - ibis.interval(days=tenure_days)).ifelse(
                "new", "established"
            )
        ).drop("join_time")
    if "city_tier" in keep:
        units = units.mutate(city_tier=units.city_tier.cast("string").fill_null("unknown"))
    if "channel" in keep:
        units = units.mutate(channel=units.channel.fill_null("unknown"))
    return units


def _given_fan_columns(fd: FanData, fans: ir.Table) -> list[str]:
    """The columns of ``fans`` the source gives (an optional contract column it lacks is no segment)."""
    try:
        return list(fd.present_columns("fans"))
    except Exception:  # noqa: BLE001 - a source object without the contract's bookkeeping
        return list(fans.columns)


def _check_windows(window_days: int, pre_days: int) -> None:
    if window_days < 1 or pre_days < 0:
        raise ABInputError(
            f"window_days must be >= 1 and pre_days >= 0 (got {window_days}, {pre_days})",
            check="window lengths",
            code="bad_windows",
            fields={"window": window_days, "pre": pre_days},
        )


def active_units(
    fd: FanData, experiment_id: str, *, window_days: int = 28, pre_days: int = 28, with_events: bool = True
) -> ir.Table:
    """Like ``experiment_units`` but only the fans with an order (or event) in their pre-period or window.

    Every outcome and covariate column of the other fans is 0, so they add nothing to the sums and
    cross products: per-variant moments need only these fans plus the assignment counts (see
    ``experiment_moments``). At scale most assigned fans buy nothing, and the engine then never
    joins outcomes back onto every assignment.
    """
    _check_windows(window_days, pre_days)
    a = _assigned(fd, experiment_id)
    w, p = ibis.interval(days=window_days), ibis.interval(days=pre_days)
    units = _per_fan_orders(fd, a, w, p).rename(fan_id="of", variant="ov")
    counts = _ORDER_COUNTS
    if _uses_events(fd, with_events):
        ev = _per_fan_events(fd, a, w, p)
        units = units.outer_join(ev, units.fan_id == ev["ef"])
        units = units.mutate(fan_id=units.fan_id.fill_null(units.ef), variant=units.variant.fill_null(units.ev))
        units = units.drop("ef", "ev")
        counts += _EVENT_COUNTS
    return _as_outcomes(units, counts)


def experiment_moments(
    fd: FanData,
    experiment_id: str,
    metrics: dict[str, Metric],
    counts: pd.DataFrame,
    *,
    window_days: int = 28,
    pre_days: int = 28,
    label: str = "ab:moments",
    attributes: ir.Table | None = None,
) -> dict:
    """Per-variant moments of the metrics from the contract tables, as ``{metric: {variant: Moments}}``.

    The same numbers as ``variant_moments`` over ``experiment_units`` (n, sums and cross products per
    variant), computed from the fans with any outcome (``active_units``) and the assignment counts
    per variant (``counts``: columns variant, n, as ``check_assignments`` returns them).

    ``attributes`` (``fan_id`` plus numeric fan attributes, one row per fan) adds covariates every assigned
    fan has, active or not: the moments then come from every assigned fan's row (``experiment_units``), a
    fan without a value counting as 0.
    """
    needs_events = any(c in EVENT_COLUMNS for m in metrics.values() for c in m.columns)
    if attributes is not None:
        units = experiment_units(
            fd, experiment_id, window_days=window_days, pre_days=pre_days, with_events=needs_events, with_segments=False
        )
        attrs = attributes.rename(_attr_fan="fan_id")
        units = units.left_join(attrs, units.fan_id == attrs._attr_fan).drop("_attr_fan")
        return by_variant(variant_moments(fd, units, metrics, label=label))
    units = active_units(fd, experiment_id, window_days=window_days, pre_days=pre_days, with_events=needs_events)
    missing = sorted({c for m in metrics.values() for c in m.columns} - set(units.columns))
    if missing:
        raise ABInputError(
            f"columns {missing} are missing: the data source has no events table for them",
            table="events",
            column=missing[0],
            check="column present",
            code="no_events_for",
            fields={"columns": ", ".join(missing)},
        )
    active = by_variant(variant_moments(fd, units, metrics, label=label))
    n_of = {str(v): int(n) for v, n in zip(counts["variant"], counts["n"], strict=True)}
    out: dict = {}
    for name, metric in metrics.items():
        k = len(metric.columns)
        got = active.get(name, {})
        out[name] = {
            v: Moments(
                n,
                metric.columns,
                got[v].sums if v in got else np.zeros(k),
                got[v].cross if v in got else np.zeros((k, k)),
            )
            for v, n in sorted(n_of.items())
        }
    return out


def window_coverage(fd: FanData, experiment_id: str, window_days: int) -> dict:
    """How many assigned fans have a complete outcome window before the data end."""
    a = require_table(fd, "assignments")
    a = a.filter(a.experiment_id == experiment_id)
    ends = []
    for name, col in (("orders", "order_time"), ("events", "event_time")):
        if not hasattr(fd, "has") or fd.has(name):
            latest = fd.table(name)[col].max().name("end").as_table()
            ends.append(run_query(fd, latest, f"ab:{name}:end")["end"].iloc[0])
    end = max(pd.Timestamp(x) for x in ends if pd.notna(x)) if any(pd.notna(x) for x in ends) else None
    got = run_query(
        fd,
        a.aggregate(first=a.assigned_time.min(), last=a.assigned_time.max(), n=a.count()),
        f"ab:{experiment_id}:assigned-range",
    ).iloc[0]
    complete = 0
    if end is not None:
        cutoff = (end - pd.Timedelta(days=window_days)).to_pydatetime()
        complete = int(
            run_query(
                fd, a.filter(a.assigned_time <= cutoff).count().name("n").as_table(), f"ab:{experiment_id}:complete"
            )["n"].iloc[0]
        )
    return {
        "data_end": end,
        "first_assigned": got["first"],
        "last_assigned": got["last"],
        "n": int(got["n"]),
        "complete": complete,
    }


def variant_moments(
    fd: FanData, units: ir.Table, metrics: dict[str, Metric], *, by: Sequence[str] = (), label: str = "ab:moments"
) -> dict:
    """Per-variant (and per ``by`` group) moments of each metric's columns, aggregated in the engine.

    Returns {group key tuple (variant last): {metric name: Moments}}. Nulls in a metric column
    count as 0 for sums; fans without a value still count in n (the fan is the unit).
    """
    by = list(by)
    cols, pairs = [], set()
    for m in metrics.values():
        for c in m.columns:
            if c not in cols:
                cols.append(c)
        mc = m.columns
        for i, a in enumerate(mc):
            for b in mc[i:]:
                pairs.add(tuple(sorted((cols.index(a), cols.index(b)))))
    missing = [c for c in cols if c not in units.columns]
    if missing:
        raise ABInputError(
            f"columns {missing} are missing from the unit table",
            column=missing[0],
            check="column present",
            code="missing_columns",
            fields={"columns": ", ".join(missing)},
        )
    x = {c: units[c].cast("float64").fill_null(0.0) for c in cols}
    aggs = {"n": units.count()}
    for i, c in enumerate(cols):
        aggs[f"s{i}"] = x[c].sum()
    for i, j in sorted(pairs):
        aggs[f"c{i}_{j}"] = (x[cols[i]] * x[cols[j]]).sum()
    keys = [units[b].cast("string").fill_null("unknown").name(b) for b in by] + [
        units.variant.cast("string").name("variant")
    ]
    frame = run_query(fd, units.group_by(keys).aggregate(**aggs), label)
    out: dict = {}
    for row in frame.to_dict(orient="records"):
        key = tuple(str(row[b]) for b in by) + (str(row["variant"]),)
        n = int(row["n"])
        per_metric = {}
        for m in metrics.values():
            idx = [cols.index(c) for c in m.columns]
            sums = np.array([row[f"s{i}"] or 0.0 for i in idx], dtype=float)
            cross = np.empty((len(idx), len(idx)))
            for a, i in enumerate(idx):
                for b, j in enumerate(idx):
                    lo, hi = sorted((i, j))
                    cross[a, b] = row[f"c{lo}_{hi}"] or 0.0
            per_metric[m.name] = Moments(n, m.columns, sums, cross)
        out[key] = per_metric
    return out


def by_variant(moments: dict) -> dict[str, dict[str, Moments]]:
    """Re-key ungrouped moments as {metric: {variant: Moments}}."""
    out: dict = {}
    for key, per_metric in moments.items():
        for name, m in per_metric.items():
            out.setdefault(name, {})[key[-1]] = m
    return out
