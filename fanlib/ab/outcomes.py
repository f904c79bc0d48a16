"""Per-fan outcomes and per-variant sufficient statistics, computed in the engine.

Two inputs give the same unit-level shape (one row per fan: variant, outcome and
covariate columns, segment columns):

* ``experiment_units(fd, ...)``: from the contract's ``assignments`` with ``orders`` and
  ``events`` in a window after each fan's assignment, and a pre-period window before it;
* ``unit_table(fd, name, ...)``: a table the user exported from another tool.

``variant_moments`` then aggregates counts, sums and cross-product sums per variant
(and per segment) in the engine, so only a handful of numbers per variant reach Python.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass

import ibis
import numpy as np
import pandas as pd

from fanlib.ab.errors import ABInputError
from fanlib.ab.stats import METRIC_KINDS, Moments


@dataclass(frozen=True)
class Metric:
    """A metric of the readout: which unit-level columns it is computed from, and how."""

    name: str
    kind: str  # proportion | mean | ratio
    column: str  # the outcome (numerator for a ratio)
    denominator: str | None = None
    covariates: tuple[str, ...] = ()  # pre-period columns for CUPED
    label: str = ""
    unit: str = "number"  # pct | cny | count | number: how lifts are written
    higher_is_better: bool = True

    def __post_init__(self):
        if self.kind not in METRIC_KINDS:
            raise ValueError(f"metric {self.name!r}: kind {self.kind!r} is not one of {', '.join(METRIC_KINDS)}")
        if (self.kind == "ratio") != (self.denominator is not None):
            raise ValueError(f"metric {self.name!r}: a ratio metric needs a denominator, and only a ratio has one")

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.column,) + ((self.denominator,) if self.denominator else ()) + tuple(self.covariates)

    @property
    def display(self) -> str:
        return self.label or self.name


#: The metrics built from assignments + orders + events.
METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric(
            "conversion",
            "proportion",
            "converted",
            covariates=("pre_converted", "pre_revenue"),
            label="转化率 conversion",
            unit="pct",
        ),
        Metric(
            "revenue_per_fan",
            "mean",
            "revenue",
            covariates=("pre_revenue", "pre_orders"),
            label="人均消费 revenue per fan",
            unit="cny",
        ),
        Metric("orders_per_fan", "mean", "orders", covariates=("pre_orders",), label="人均订单 orders per fan"),
        Metric(
            "revenue_per_order", "ratio", "revenue", denominator="orders", label="客单价 revenue per order", unit="cny"
        ),
        Metric(
            "active",
            "proportion",
            "active",
            covariates=("pre_active", "pre_events"),
            label="活跃率 active in window",
            unit="pct",
        ),
        Metric("events_per_fan", "mean", "events", covariates=("pre_events",), label="人均互动 events per fan"),
        Metric("messages_per_fan", "mean", "messages", covariates=("pre_messages",), label="人均私信 messages per fan"),
        Metric("click_through", "ratio", "clicks", denominator="views", label="点击率 click-through", unit="pct"),
    )
}

#: Segment dimensions available on experiment units (all fixed before assignment).
SEGMENTS = ("activity_tier", "channel", "tenure", "city_tier")


def _execute(fd, expr, label: str) -> pd.DataFrame:
    try:
        return fd.execute(expr, label=label)
    except TypeError:
        return fd.execute(expr)


def _table(fd, name: str):
    if hasattr(fd, "has") and not fd.has(name):
        raise ABInputError(
            f"the data source has no {name!r} table; the experiment readout needs it",
            table=name,
            check="table present",
            code="missing_table",
            fields={"table": name},
        )
    return fd.table(name)


#: DuckDB's memory cap while the readout's queries run. They only aggregate (a few numbers per
#: variant come back), so DuckDB spills its hash tables to disk beyond the cap at little cost;
#: with Python's own share the readout of 10 M assignments stays under 1 GB.
READOUT_MEMORY_LIMIT = "512MB"
_SIZE_UNITS = {
    "bytes": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "pb": 10**15,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
    "pib": 2**50,
}  # no limit shows in PiB


def _size_bytes(text: str) -> int:
    """``'2.3 GiB'``, ``'512MB'`` -> bytes. DuckDB shows its setting cut to one decimal, so half a
    step is added back to the shown value, else re-setting it would lower the cap each time."""
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]+)?\s*", str(text))
    unit = (m.group(2) or "b").lower() if m else ""
    if not m or unit not in _SIZE_UNITS:
        raise ValueError(f"cannot read the memory size {text!r}; write it like '512MB' or '2GB'")
    number = m.group(1)
    step = 10 ** -len(number.split(".")[1]) / 2 if "." in number else 0
    return int((float(number) + step) * _SIZE_UNITS[unit])


@contextmanager
def memory_cap(fd, limit: str | None = READOUT_MEMORY_LIMIT):
    """Lower a DuckDB connection's memory cap to ``limit`` while the block runs, then restore it.

    Only ever lowers it (a smaller cap the user set stays), and only on DuckDB: warehouses
    (PostgreSQL, Spark) run the queries on their own servers. ``None`` leaves the cap alone.
    """
    con = getattr(fd, "con", None)
    if limit is None or con is None or getattr(con, "name", None) != "duckdb":
        yield
        return
    current = con.raw_sql("SELECT current_setting('memory_limit')").fetchall()[0][0]
    if _size_bytes(current) <= _size_bytes(limit):
        yield
        return
    con.raw_sql(f"SET memory_limit = '{_size_bytes(limit)}B'")
    try:
        yield
    finally:
        con.raw_sql(f"SET memory_limit = '{_size_bytes(current)}B'")


# --- checks on the assignments -------------------------------------------------------------


def check_assignments(fd, experiment_id: str, planned_split: dict | None = None) -> pd.DataFrame:
    """Validate one experiment's assignments in the engine; returns counts per variant.

    Clear errors for: an unknown experiment, fans assigned more than once, variants not in the
    planned split, and fewer than two variants.
    """
    a = _table(fd, "assignments")
    exp = a.filter(a.experiment_id == experiment_id)
    counts = _execute(fd, exp.group_by("variant").aggregate(n=exp.count()), f"ab:{experiment_id}:counts")
    if counts.empty:
        known = _execute(fd, a.select("experiment_id").distinct().limit(20), "ab:experiments")
        raise ABInputError(
            f"experiment {experiment_id!r} has no assignments; known experiments: "
            f"{sorted(known['experiment_id'].astype(str))}",
            table="assignments",
            column="experiment_id",
            check="experiment present",
            code="unknown_experiment",
            fields={"experiment": experiment_id, "known": ", ".join(sorted(known["experiment_id"].astype(str)))},
        )
    dup = exp.group_by("fan_id").aggregate(rows=exp.count())
    dup = dup.filter(dup.rows > 1)
    n_dup = int(_execute(fd, dup.count(), f"ab:{experiment_id}:dups"))
    if n_dup:
        ex = exp.join(dup.select("fan_id"), "fan_id").select("fan_id", "variant", "assigned_time")
        examples = _execute(fd, ex.order_by(["fan_id", "assigned_time"]).limit(10), f"ab:{experiment_id}:dup-rows")
        raise ABInputError(
            f"{n_dup:,} fans are assigned more than once in experiment {experiment_id!r} "
            f"(a fan must see exactly one variant); fix the assignment log or exclude them",
            table="assignments",
            column="fan_id",
            check="one assignment per fan",
            examples=examples,
            code="duplicate_assignment",
            fields={"n": n_dup, "experiment": experiment_id},
        )
    return _check_variants(counts, planned_split, "assignments", "variant", f"experiment {experiment_id!r}")


def _check_variants(
    counts: pd.DataFrame, planned_split: dict | None, table: str, column: str, what: str
) -> pd.DataFrame:
    """Variant labels must be planned, and there must be at least two of them."""
    counts = counts.copy()
    counts["variant"] = counts["variant"].astype(str)
    counts = counts.sort_values("variant").reset_index(drop=True)
    if planned_split:
        unknown = counts[~counts["variant"].isin(list(planned_split))]
        if len(unknown):
            raise ABInputError(
                f"variant labels {list(unknown['variant'])} (n = {list(unknown['n'])}) are not in "
                f"the planned split {sorted(planned_split)}; correct planned_split or the labels",
                table=table,
                column=column,
                check="variant in planned split",
                examples=unknown,
                code="unknown_variants",
                fields={"labels": ", ".join(unknown["variant"]), "planned": ", ".join(sorted(planned_split))},
            )
    if len(counts) < 2:
        raise ABInputError(
            f"{what} has only one variant ({counts['variant'].iloc[0]!r}, "
            f"n = {int(counts['n'].iloc[0]):,}); a comparison needs at least two",
            table=table,
            column=column,
            check="at least two variants",
            code="one_variant",
            fields={"variant": counts["variant"].iloc[0], "n": int(counts["n"].iloc[0])},
        )
    return counts


# --- unit-level outcomes from the contract tables -------------------------------------------

#: unit-level columns built from ``events``; metrics that use none of them skip the events table
EVENT_COLUMNS = frozenset(
    {"events", "messages", "clicks", "views", "active", "pre_events", "pre_messages", "pre_active"}
)
_ORDER_COUNTS = ("orders", "revenue", "pre_orders", "pre_revenue")
_EVENT_COUNTS = ("events", "messages", "clicks", "views", "pre_events", "pre_messages")


def _assigned(fd, experiment_id: str):
    a = _table(fd, "assignments")
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
    fd,
    experiment_id: str,
    *,
    window_days: int = 28,
    pre_days: int = 28,
    tenure_days: int = 90,
    with_events: bool = True,
    with_segments: bool = True,
):
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
    keep = [c for c in ("channel", "city_tier", "join_time") if c in fans.columns]
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


def _check_windows(window_days: int, pre_days: int) -> None:
    if window_days < 1 or pre_days < 0:
        raise ABInputError(
            f"window_days must be >= 1 and pre_days >= 0 (got {window_days}, {pre_days})",
            check="window lengths",
            code="bad_windows",
            fields={"window": window_days, "pre": pre_days},
        )


def active_units(fd, experiment_id: str, *, window_days: int = 28, pre_days: int = 28, with_events: bool = True):
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
    fd,
    experiment_id: str,
    metrics: dict[str, Metric],
    counts: pd.DataFrame,
    *,
    window_days: int = 28,
    pre_days: int = 28,
    label: str = "ab:moments",
) -> dict:
    """Per-variant moments of the metrics from the contract tables, as ``{metric: {variant: Moments}}``.

    The same numbers as ``variant_moments`` over ``experiment_units`` (n, sums and cross products per
    variant), computed from the fans with any outcome (``active_units``) and the assignment counts
    per variant (``counts``: columns variant, n, as ``check_assignments`` returns them).
    """
    needs_events = any(c in EVENT_COLUMNS for m in metrics.values() for c in m.columns)
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
    n_of = {str(v): int(n) for v, n in zip(counts["variant"], counts["n"])}
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


def window_coverage(fd, experiment_id: str, window_days: int) -> dict:
    """How many assigned fans have a complete outcome window before the data end."""
    a = _table(fd, "assignments")
    a = a.filter(a.experiment_id == experiment_id)
    ends = []
    for name, col in (("orders", "order_time"), ("events", "event_time")):
        if not hasattr(fd, "has") or fd.has(name):
            ends.append(_execute(fd, fd.table(name)[col].max().name("end").as_table(), f"ab:{name}:end")["end"].iloc[0])
    end = max(pd.Timestamp(x) for x in ends if pd.notna(x)) if any(pd.notna(x) for x in ends) else None
    got = _execute(
        fd,
        a.aggregate(first=a.assigned_time.min(), last=a.assigned_time.max(), n=a.count()),
        f"ab:{experiment_id}:assigned-range",
    ).iloc[0]
    complete = 0
    if end is not None:
        cutoff = (end - pd.Timedelta(days=window_days)).to_pydatetime()
        complete = int(
            _execute(
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


# --- a unit-level table named by the user -----------------------------------------------------


def unit_table(
    fd, name: str, *, variant: str = "variant", fan_id: str | None = None, planned_split: dict | None = None
):
    """A user's one-row-per-fan table (variant, outcomes, covariates), renamed to ``variant``.

    ``fan_id`` names the fan id column (None: ``fan_id`` if the table has one).

    Checked in the engine: not empty, one row per fan (when it has a fan id column), variant
    labels in ``planned_split`` and at least two variants.
    """
    try:
        t = fd.table(name)
    except Exception:
        try:
            t = fd.con.table(name)
        except Exception as err:
            raise ABInputError(
                f"the data source has no table {name!r} ({err})",
                table=name,
                check="table present",
                code="no_unit_table",
                fields={"table": name},
            ) from None
    if variant not in t.columns:
        raise ABInputError(
            f"no variant column {variant!r}; columns are {list(t.columns)}",
            table=name,
            column=variant,
            check="column present",
            code="no_column",
            fields={"column": variant, "columns": ", ".join(t.columns)},
        )
    if variant != "variant":
        t = t.rename(variant=variant)
    if fan_id and fan_id not in t.columns:
        raise ABInputError(
            f"no fan id column {fan_id!r}; columns are {list(t.columns)}",
            table=name,
            column=fan_id,
            check="column present",
            code="no_column",
            fields={"column": fan_id, "columns": ", ".join(t.columns)},
        )
    if fan_id and fan_id != "fan_id":
        t = t.rename(fan_id=fan_id)
    counts = _execute(fd, t.group_by("variant").aggregate(n=t.count()), f"ab:{name}:counts")
    if counts.empty:
        raise ABInputError(
            "the table is empty: no fans to compare",
            table=name,
            check="non-empty table",
            code="empty_table",
            fields={"table": name},
        )
    if "fan_id" in t.columns:
        dup = t.group_by("fan_id").aggregate(rows=t.count())
        dup = dup.filter(dup.rows > 1)
        n_dup = int(_execute(fd, dup.count().name("n").as_table(), f"ab:{name}:dups")["n"].iloc[0])
        if n_dup:
            ex = t.join(dup.select("fan_id"), "fan_id").select("fan_id", "variant").order_by(["fan_id", "variant"])
            raise ABInputError(
                f"{n_dup:,} fans appear in more than one row (a fan must be in exactly one variant); "
                f"remove the duplicates from the export",
                table=name,
                column=fan_id or "fan_id",
                check="one row per fan",
                examples=_execute(fd, ex.limit(10), f"ab:{name}:dup-rows"),
                code="duplicate_rows",
                fields={"n": n_dup, "table": name},
            )
    _check_variants(counts, planned_split, name, variant, f"table {name!r}")
    return t


def unit_metrics(table, outcomes: list[str], covariates: dict | None = None) -> dict[str, Metric]:
    """Metrics for a user's unit table: ``a/b`` is a ratio, a 0/1 column a proportion, else a mean."""
    covariates = covariates or {}
    if not outcomes:
        raise ABInputError(
            "no outcome columns named (parameter unit_outcomes)", check="outcome columns", code="no_outcome_columns"
        )
    cols = set(table.columns)
    out = {}
    for spec in outcomes:
        parts = [s.strip() for s in spec.split("/")]
        for c in parts + [covariates.get(spec)] * bool(covariates.get(spec)):
            if c not in cols:
                raise ABInputError(
                    f"no column {c!r}; columns are {sorted(cols)}",
                    table=table.get_name() if hasattr(table, "get_name") else None,
                    column=c,
                    check="column present",
                    code="no_column",
                    fields={"column": c, "columns": ", ".join(sorted(cols))},
                )
        if len(parts) == 2:
            out[spec] = Metric(spec, "ratio", parts[0], denominator=parts[1])
        else:
            out[spec] = Metric(spec, "mean", parts[0], covariates=tuple(filter(None, [covariates.get(spec)])))
    return out


def infer_proportions(fd, table, metrics: dict[str, Metric]) -> dict[str, Metric]:
    """Mark mean metrics whose column only holds 0 and 1 as proportions (one engine query)."""
    means = [m for m in metrics.values() if m.kind == "mean"]
    if not means:
        return metrics
    aggs = {}
    for m in means:
        c = table[m.column].cast("float64")
        aggs[f"{m.name}__bin"] = ((c == 0) | (c == 1) | c.isnull()).ifelse(0, 1).sum()
    got = _execute(fd, table.aggregate(**aggs), "ab:unit:binary").iloc[0]
    out = dict(metrics)
    for m in means:
        if int(got[f"{m.name}__bin"]) == 0:
            out[m.name] = Metric(
                m.name,
                "proportion",
                m.column,
                covariates=m.covariates,
                label=m.label,
                unit="pct",
                higher_is_better=m.higher_is_better,
            )
    return out


# --- sufficient statistics in the engine -----------------------------------------------------


def variant_moments(fd, units, metrics: dict[str, Metric], *, by=(), label: str = "ab:moments") -> dict:
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
    frame = _execute(fd, units.group_by(keys).aggregate(**aggs), label)
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


# --- daily looks for the peeking-safe mode ----------------------------------------------------


def cumulative_looks(fd, experiment_id: str, metric: Metric, looks, *, window_days: int = 28):
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
    a = _table(fd, "assignments")
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
    frame = _execute(fd, agg, f"ab:{experiment_id}:looks")
    return frame.sort_values(["look", "variant"]).reset_index(drop=True)
