"""The metrics an experiment readout can report: what each is computed from, and how.

``METRICS`` are the metrics built from the contract tables (assignments, orders, events); a user's own
one-row-per-fan table gets its metrics from its column names (``unit_metrics``). A metric's label for
readers is its catalogue entry ``metric_<name>`` of ``fanlib/present/locales/ab_campaign.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from fanlib.ab.errors import ABInputError
from fanlib.ab.stats import METRIC_KINDS
from fanlib.present.i18n import messages

if TYPE_CHECKING:
    import ibis.expr.types as ir

DOMAIN = "ab_campaign"


def catalogue_label(name: str) -> str:
    """A built-in metric's label in both languages, "转化率 conversion", from the A/B catalogue."""
    key = f"metric_{name}"
    return f"{messages(DOMAIN, 'zh')(key)} {messages(DOMAIN, 'en')(key)}"


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

    def __post_init__(self) -> None:
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


_DEFINITIONS = (
    Metric("conversion", "proportion", "converted", covariates=("pre_converted", "pre_revenue"), unit="pct"),
    Metric("revenue_per_fan", "mean", "revenue", covariates=("pre_revenue", "pre_orders"), unit="cny"),
    Metric("orders_per_fan", "mean", "orders", covariates=("pre_orders",)),
    Metric("revenue_per_order", "ratio", "revenue", denominator="orders", unit="cny"),
    Metric("active", "proportion", "active", covariates=("pre_active", "pre_events"), unit="pct"),
    Metric("events_per_fan", "mean", "events", covariates=("pre_events",)),
    Metric("messages_per_fan", "mean", "messages", covariates=("pre_messages",)),
    Metric("click_through", "ratio", "clicks", denominator="views", unit="pct"),
)
#: The metrics built from assignments + orders + events, labelled from the catalogue (a user's table
#: metrics keep their column names).
METRICS: dict[str, Metric] = {m.name: replace(m, label=catalogue_label(m.name)) for m in _DEFINITIONS}

#: Segment dimensions available on experiment units (all fixed before assignment).
SEGMENTS = ("activity_tier", "channel", "tenure", "city_tier")


#: unit-level columns built from ``events``; metrics that use none of them skip the events table
EVENT_COLUMNS = frozenset(
    {"events", "messages", "clicks", "views", "active", "pre_events", "pre_messages", "pre_active"}
)

#: The pre-period metrics a covariate list (parameter ``covariates``) may name, each per fan over the
#: ``pre_days`` before its assignment: orders, revenue, whether the fan bought (0/1), and from ``events``
#: (unavailable without it) events, messages and whether the fan was active (0/1). Any declared numeric
#: fan attribute (``fanlib.data.attributes.declared_columns``) may be named too.
PRE_PERIOD = ("pre_orders", "pre_revenue", "pre_converted", "pre_events", "pre_messages", "pre_active")


def with_covariates(metrics: dict[str, Metric], covariates: list[str] | tuple[str, ...]) -> dict[str, Metric]:
    """The metrics adjusted for ``covariates`` instead of their own pre-period covariates (none: unchanged).

    Ratio metrics are never adjusted, so they keep no covariates.
    """
    if not covariates:
        return dict(metrics)
    chosen = tuple(dict.fromkeys(covariates))
    return {n: m if m.kind == "ratio" else replace(m, covariates=chosen) for n, m in metrics.items()}


def unit_metrics(
    table: ir.Table,
    outcomes: list[str],
    covariates: dict[str, list[str] | str] | None = None,
    common: list[str] | tuple[str, ...] = (),
) -> dict[str, Metric]:
    """Metrics for a user's unit table: ``a/b`` is a ratio, a 0/1 column a proportion, else a mean.

    Each outcome (not a ratio) is adjusted for the ``common`` covariates and then its own ones
    (``covariates[outcome]``: a column or a list of columns), every one a numeric column of the table.
    """
    covariates = dict(covariates or {})
    if not outcomes:
        raise ABInputError(
            "no outcome columns named (parameter unit_outcomes)", check="outcome columns", code="no_outcome_columns"
        )
    stray = [k for k in covariates if k not in outcomes]
    if stray:
        raise ABInputError(
            f"unit_covariates names {stray}, which are not outcomes; outcomes: {outcomes}",
            check="covariates of outcomes",
            code="covariates_not_outcomes",
            fields={"names": ", ".join(stray), "outcomes": ", ".join(outcomes)},
        )
    bad = [k for k, v in covariates.items() if not _column_names(v)]
    if bad:
        raise ABInputError(
            f"unit_covariates: the covariates of {bad} must be a column name or a list of column names",
            check="covariates of outcomes",
            code="covariates_shape",
            fields={"names": ", ".join(map(str, bad))},
        )
    out = {}
    for spec in outcomes:
        parts = [s.strip() for s in spec.split("/")]
        own = covariates.get(spec) or []
        covs = tuple(dict.fromkeys([*common, *([own] if isinstance(own, str) else own)]))
        for c in [*parts, *covs]:
            _numeric_column(table, c)
        if len(parts) == 2:
            out[spec] = Metric(spec, "ratio", parts[0], denominator=parts[1])
        else:
            out[spec] = Metric(spec, "mean", parts[0], covariates=covs)
    return out


def _column_names(value: object) -> bool:
    """A column name or a list of them."""
    return isinstance(value, str) or (isinstance(value, list) and all(isinstance(c, str) for c in value))


def _numeric_column(table: ir.Table, column: str) -> None:
    cols = list(table.columns)
    try:
        where = table.get_name()
    except AttributeError:  # a renamed or filtered table has no name of its own
        where = None
    if column not in cols:
        raise ABInputError(
            f"no column {column!r}; columns are {sorted(cols)}",
            table=where,
            column=column,
            check="column present",
            code="no_column",
            fields={"column": column, "columns": ", ".join(sorted(cols))},
        )
    dtype = table[column].type()
    if not (dtype.is_numeric() or dtype.is_boolean()):
        numeric = [c for c in cols if table[c].type().is_numeric() or table[c].type().is_boolean()]
        raise ABInputError(
            f"column {column!r} holds {dtype}, not numbers; numeric columns: {numeric}",
            table=where,
            column=column,
            check="numeric column",
            code="not_numeric_column",
            fields={"column": column, "columns": ", ".join(numeric)},
        )
