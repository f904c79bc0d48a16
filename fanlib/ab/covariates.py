"""The readout's own covariates and what the data can give: pre-period metrics and declared fan attributes
named as CUPED covariates (``covariates``), how many fans have no value of one (counted as 0, and said), and
the metrics, guardrails and covariates that need an ``events`` table the source does not have.

``resolve`` checks the names (a pre-period metric of ``fanlib.ab.metrics.PRE_PERIOD``, or a numeric column
of ``fanlib.data.attributes.declared_columns``) and says which are fan attributes; ``without_events``
leaves out what needs events, naming it, so the readout of the rest still stands.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fanlib.ab.errors import ABInputError
from fanlib.ab.metrics import EVENT_COLUMNS, PRE_PERIOD, Metric

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from fanlib.data.tables import FanData

#: Columns of the readout's per-fan rows a fan attribute may not shadow.
UNIT_COLUMNS = frozenset(
    {"fan_id", "variant", "assigned_time", "orders", "revenue", "converted", "events", "messages", "clicks"}
    | {"views", "active", "activity_tier", *PRE_PERIOD}
)


def declared_numeric(fd: FanData) -> list[str]:
    """The declared fan attributes that hold numbers."""
    from fanlib.data.attributes import NUMERIC, declared_columns

    return sorted(c for c, k in declared_columns(fd).items() if k == NUMERIC)


def resolve(fd: FanData, covariates: list[str]) -> list[str]:
    """The fan attributes among ``covariates`` (the rest are pre-period metrics); ABInputError for a name
    that is neither, or an attribute that does not hold numbers."""
    from fanlib.data.attributes import declared_columns

    if all(name in PRE_PERIOD for name in covariates):
        return []
    declared = declared_columns(fd)
    numeric = declared_numeric(fd)
    attributes = []
    for name in dict.fromkeys(covariates):
        if name in PRE_PERIOD:
            continue
        if name not in declared:
            raise ABInputError(
                f"covariate {name!r} is neither a pre-period metric ({', '.join(PRE_PERIOD)}) nor a declared "
                f"fan attribute (numeric: {', '.join(numeric) or 'none'})",
                column=name,
                check="covariate declared",
                code="unknown_covariate",
                fields={"name": name, "pre": ", ".join(PRE_PERIOD), "numeric": ", ".join(numeric) or "–"},
            )
        if name not in numeric:
            raise ABInputError(
                f"covariate {name!r} does not hold numbers; numeric fan attributes: {', '.join(numeric) or 'none'}",
                column=name,
                check="covariate numeric",
                code="covariate_not_numeric",
                fields={"name": name, "numeric": ", ".join(numeric) or "–"},
            )
        if name in UNIT_COLUMNS:
            raise ABInputError(
                f"fan attribute {name!r} has the name of a readout column; rename it in the mapping",
                column=name,
                check="covariate name",
                code="covariate_name_taken",
                fields={"name": name},
            )
        attributes.append(name)
    return attributes


def attribute_table(fd: FanData, attributes: list[str], as_of: Any) -> ir.Table:
    """``fan_id`` and the numeric fan attributes, as known at ``as_of`` (the experiment's first assignment)."""
    from fanlib.data.attributes import fan_attributes

    return fan_attributes(fd, attributes, as_of=as_of, numeric=True)


def missing_values(fd: FanData, rows: ir.Table, columns: list[str]) -> dict[str, int]:
    """How many of ``rows`` (one per fan) have no value of each covariate (only those with some missing)."""
    from fanlib.ab.queries import run_query

    if not columns:
        return {}
    aggs = {f"m{i}": rows[c].isnull().cast("int64").sum() for i, c in enumerate(columns)}
    got = run_query(fd, rows.aggregate(**aggs), "ab:covariates:missing").iloc[0]
    counts = {c: int(got[f"m{i}"] or 0) for i, c in enumerate(columns)}
    return {c: n for c, n in counts.items() if n}


def assigned_with(fd: FanData, experiment_id: str, attributes: ir.Table) -> ir.Table:
    """The experiment's assigned fans with their attribute values (NULL where a fan has none)."""
    from fanlib.ab.queries import require_table

    a = require_table(fd, "assignments")
    a = a.filter(a.experiment_id == experiment_id).select("fan_id")
    attrs = attributes.rename(_attr_fan="fan_id")
    return a.left_join(attrs, a.fan_id == attrs._attr_fan).drop("_attr_fan")


def without_events(
    fd: FanData, metrics: dict[str, Metric], covariates: list[str], primary: str | None, guardrails: dict
) -> tuple[dict[str, Metric], list[str], dict, list[tuple[str, dict]]]:
    """Without an ``events`` table: the metrics, covariates and guardrails that do not need it, and a caveat
    naming what was left out. ABInputError when the primary metric itself needs events."""
    if not hasattr(fd, "has") or fd.has("events"):
        return metrics, covariates, guardrails, []
    needs = {n for n, m in metrics.items() if {m.column, m.denominator} & EVENT_COLUMNS}
    if primary in needs:
        raise ABInputError(
            f"the primary metric {primary!r} is built from events, and the data source has no events table",
            table="events",
            check="table present",
            code="no_events_primary",
            fields={"metric": primary},
        )
    gone_covs = [c for c in covariates if c in EVENT_COLUMNS]
    kept = {
        n: m if not set(m.covariates) & EVENT_COLUMNS else _without(m, EVENT_COLUMNS)
        for n, m in metrics.items()
        if n not in needs
    }
    notes = []
    if needs:
        notes.append(("no_events_metrics", {"metrics": ", ".join(sorted(needs))}))
    if gone_covs:
        notes.append(("no_events_covariates", {"covariates": ", ".join(gone_covs)}))
    guards = {k: v for k, v in guardrails.items() if k not in needs}
    return kept, [c for c in covariates if c not in gone_covs], guards, notes


def _without(metric: Metric, columns: frozenset) -> Metric:
    from dataclasses import replace

    return replace(metric, covariates=tuple(c for c in metric.covariates if c not in columns))
