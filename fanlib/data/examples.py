"""The example rows a contract problem shows: a few identifying columns of at most five failing rows.

Only counts and these few rows leave the engine, so a check on tens of millions of events pulls
almost nothing into pandas.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Callable
from typing import Any

import ibis.expr.types as ir

from fanlib.data import contract

#: Examples kept per problem.
MAX_EXAMPLES = 5
#: Example text values are cut to this many characters.
MAX_TEXT = 60

#: ``FanData.execute``: runs an expression in the engine and records what it pulled.
Execute = Callable[..., Any]


def example_columns(name: str, present: list[str], *extra: str) -> list[str]:
    """The columns that identify a row of table ``name`` in an example, plus ``extra``, as far as present."""
    table = contract.table(name)
    # Tables without a primary key (events) are identified by all their required columns.
    keys = list(table.primary_key) or list(table.required_columns)
    if table.time_column:
        keys.append(table.time_column)
    keys += [fk.column for fk in table.foreign_keys]
    cols = []
    for c in [*keys, *extra]:
        if c in present and c not in cols:
            cols.append(c)
    return cols


def plain(value: Any) -> Any:
    """A value fit for a readable example dict."""
    import pandas as pd

    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            value = value.item()
        except (ValueError, AttributeError):
            pass
    if isinstance(value, (pd.Timestamp, _dt.datetime)):
        return None if pd.isna(value) else pd.Timestamp(value).isoformat(sep=" ")
    if value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, str) and len(value) > MAX_TEXT:
        return value[: MAX_TEXT - 1] + "…"
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def example_rows(execute: Execute, q: ir.Table, label: str) -> list[dict]:
    """The rows of the (already limited) query ``q`` as readable dicts."""
    df = execute(q, label=label)
    return [{k: plain(v) for k, v in row.items()} for row in df.to_dict("records")]


def examples(execute: Execute, t: ir.Table, cond: ir.BooleanValue, columns: list[str], label: str) -> list[dict]:
    """At most ``MAX_EXAMPLES`` rows of ``t`` where ``cond`` holds, ordered, in ``columns``."""
    return example_rows(execute, t.filter(cond).select(columns).order_by(columns).limit(MAX_EXAMPLES), label)


def count_and_examples(
    execute: Execute, t: ir.Table, cond: ir.BooleanValue, columns: list[str], name: str, check: str
) -> tuple[int, list[dict]]:
    """How many rows of ``t`` fail (``cond``), and examples of them when there are any."""
    n = int(execute(t.filter(cond).count(), label=f"validate:{name}:{check}:count"))
    return n, examples(execute, t, cond, columns, f"validate:{name}:{check}:examples") if n else []
