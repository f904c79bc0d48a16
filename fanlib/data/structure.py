"""The structure of a contract table: column presence and types, checked by pandera without a data scan.

``FanData.table`` refuses a table whose structure is broken, so this check runs whenever a table is
first handed out; the value checks (``fanlib.data.checks``) run on top of it.
"""

from __future__ import annotations

import datetime as _dt
from typing import TYPE_CHECKING, Any

from fanlib.data import contract
from fanlib.data.clock import as_naive
from fanlib.data.columns import IBIS_TYPES
from fanlib.data.errors import Problem
from fanlib.data.examples import Execute, count_and_examples

if TYPE_CHECKING:
    import pandera.ibis as pa

    from fanlib.data.columns import TablePlan


def pandera_schema(name: str, now: Any = None) -> pa.DataFrameSchema:
    """The pandera (ibis) schema of contract table ``name``: types, nullability and value checks.

    ``now`` bounds the timestamps that must not lie in the future (default:
    now in China Standard Time). Optional columns are listed too, because
    ``FanData`` adds them as typed NULL columns when the source lacks them.
    """
    import pandera.ibis as pa

    bound = as_naive(now)
    table = contract.table(name)
    columns = {}
    for c in table.columns:
        checks = []
        if c.allowed:
            checks.append(pa.Check.isin(list(c.allowed), name="allowed_values"))
        if c.min_value is not None:
            checks.append(pa.Check.ge(c.min_value, name="min_value"))
        if c.max_value is not None:
            checks.append(pa.Check.le(c.max_value, name="max_value"))
        if c.not_in_future:
            checks.append(pa.Check.le(bound, name="not_in_future"))
        columns[c.name] = pa.Column(IBIS_TYPES[c.dtype], checks=checks, nullable=c.nullable, description=c.description)
    unique = list(table.primary_key) or None
    return pa.DataFrameSchema(columns, unique=unique, name=name, strict=False)


def structure_problems(plan: TablePlan, name: str, now: _dt.datetime, execute: Execute) -> list[Problem]:
    """Mapping mistakes, missing required columns and uncastable types of one table (no data scan
    unless a problem is found). ``now`` is the data's validation time, ``execute`` ``FanData.execute``."""
    import pandera.errors as pe
    from pandera.config import ValidationDepth, config_context

    problems = list(plan.mapping_problems) + _amount_problems(plan, name, execute)
    schema = pandera_schema(name, now)
    try:
        with config_context(validation_depth=ValidationDepth.SCHEMA_ONLY):
            schema.validate(plan.typed, lazy=True)
        return problems
    except pe.SchemaErrors as e:
        errors = e.schema_errors
    for err in errors:
        reason = err.reason_code
        if reason == pe.SchemaErrorReason.COLUMN_NOT_IN_DATAFRAME:
            column = str(err.failure_cases)
            if any(p.column == column and p.check == "mapping" for p in problems):
                continue  # the mapping problem already explains it
            problems.append(
                Problem(
                    name,
                    column,
                    "missing_column",
                    None,
                    [],
                    f"the required column {column!r} is missing; the source has "
                    f"{', '.join(plan.raw.columns) or 'no columns'}",
                )
            )
        elif reason == pe.SchemaErrorReason.WRONG_DATATYPE:
            column = err.schema.name
            col = plan.raw[column]
            failing, examples = count_and_examples(execute, plan.raw, col.notnull(), [column], name, "dtype")
            want = contract.table(name).column(column).dtype
            problems.append(
                Problem(
                    name,
                    column,
                    "dtype",
                    failing,
                    examples,
                    f"expected {want}, found {col.type()}, which cannot be converted",
                )
            )
        else:  # pragma: no cover - schema-only validation reports only the two above
            problems.append(Problem(name, getattr(err.schema, "name", None), str(reason), None, [], str(err)))
    return problems


def _amount_problems(plan: TablePlan, name: str, execute: Execute) -> list[Problem]:
    """``orders`` needs ``amount_cny``, or ``quantity`` and ``unit_price`` (holding values) to compute it from."""
    from fanlib.data.orders import used_columns

    if name != "orders" or "amount_cny" in plan.present:
        return []
    if {"quantity", "unit_price"} <= set(used_columns(plan, execute)):
        return []
    if any(p.column == "amount_cny" and p.check == "mapping" for p in plan.mapping_problems):
        return []  # the mapping problem already explains it
    return [
        Problem(
            name,
            "amount_cny",
            "missing_column",
            None,
            [],
            "the amount is missing: give 'amount_cny', or 'quantity' and 'unit_price' (amount = quantity × "
            f"unit_price); the source has {', '.join(plan.raw.columns) or 'no columns'}",
        )
    ]
