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


def unit_metrics(table: ir.Table, outcomes: list[str], covariates: dict | None = None) -> dict[str, Metric]:
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
