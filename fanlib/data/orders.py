"""Orders as the reports count them: paid orders, one row per order, cancellations and returns left out.

A source's ``orders`` table holds either one row per order, or order lines: when it has ``quantity`` or
``unit_price``, several rows may share an ``order_id`` and the order is their sum. A line's amount is
``amount_cny`` where given, else ``quantity × unit_price``. Rows are left out of every order count and
amount when

* ``status`` is given and is not ``paid`` (cancelled or refunded; rows without a status count as paid), or
* lines are in use and the line's quantity or amount is negative (a cancellation or return).

Without lines, a negative amount is a contract violation (``min_value``) unless the row's status says it
was cancelled or refunded: a plain one-row-per-order export has no other way to mark a return, so a
negative amount there is more likely an error than a refund.

``clean_orders`` is what ``FanData.orders`` hands out: ``order_id, fan_id, order_time`` (its first line's),
``amount_cny`` (the sum), ``campaign_id`` and ``source`` (the first line's), ``quantity`` (the sum),
``unit_price`` (empty) and ``status`` (``paid`` when the source has statuses), then the source's extra
columns (the first line's). ``order_cleaning`` counts what was left out, for the data overview.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir

from fanlib.data import contract

if TYPE_CHECKING:
    from fanlib.data.columns import TablePlan

#: The columns that make the rows of ``orders`` order lines.
LINE_COLUMNS = ("quantity", "unit_price")
PAID = "paid"


def uses_lines(present: list[str]) -> bool:
    """Whether the orders are given as lines (several rows per order allowed)."""
    return any(c in present for c in LINE_COLUMNS)


def uses_status(present: list[str]) -> bool:
    return "status" in present


def line_amount(cols: Mapping[str, Any] | ir.Table) -> ir.FloatingValue:
    """A line's amount: ``amount_cny`` where given, else ``quantity × unit_price``."""
    product = cols["quantity"].cast("float64") * cols["unit_price"]
    return ibis.coalesce(cols["amount_cny"], product)


def _no_rows(cols: Mapping[str, Any] | ir.Table) -> ir.BooleanValue:
    """False on every row: a column, not a scalar, so that it can be counted and summed like the others."""
    first = cols[next(iter(cols.columns if isinstance(cols, ir.Table) else cols))]
    return first.isnull() & ibis.literal(False)


def status_left_out(cols: Mapping[str, Any] | ir.Table, present: list[str]) -> ir.BooleanValue:
    """Rows whose status says cancelled or refunded (False when the source has no status)."""
    if not uses_status(present):
        return _no_rows(cols)
    return (cols["status"].notnull() & (cols["status"] != PAID)).fill_null(False)


def negative_left_out(cols: Mapping[str, Any] | ir.Table, present: list[str]) -> ir.BooleanValue:
    """Lines with a negative quantity or amount: cancellations and returns (False without lines)."""
    if not uses_lines(present):
        return _no_rows(cols)
    return ((cols["quantity"] < 0).fill_null(False)) | ((line_amount(cols) < 0).fill_null(False))


def left_out(cols: Mapping[str, Any] | ir.Table, present: list[str]) -> ir.BooleanValue:
    """Rows left out of every order count and amount."""
    return status_left_out(cols, present) | negative_left_out(cols, present)


#: The optional columns that change how rows are counted: they count as given only when they hold a value.
SHAPE_COLUMNS = (*LINE_COLUMNS, "status")


def used_columns(plan: TablePlan, execute: Any) -> list[str]:
    """The columns of ``plan`` that are given, with ``quantity``, ``unit_price`` and ``status`` only when
    they hold at least one value (an all-empty column, as a copy of a plain orders table may carry, changes
    nothing). One engine query, only when the source has any of the three."""
    shape = [c for c in SHAPE_COLUMNS if c in plan.present and plan.castable.get(c)]
    if not shape:
        return [c for c in plan.present if c not in SHAPE_COLUMNS]
    row = execute(plan.raw.aggregate(**{c: plan.exprs[c].count() for c in shape}), label="data:orders:shape").iloc[0]
    given = [c for c in shape if row[c] == row[c] and int(row[c] or 0) > 0]
    return [c for c in plan.present if c not in SHAPE_COLUMNS or c in given]


def shape_columns_present(plan: TablePlan) -> bool:
    return any(c in plan.present for c in SHAPE_COLUMNS)


def clean_orders(plan: TablePlan, present: list[str]) -> ir.Table:
    """Paid orders, one row per order (see the module's docstring); the typed table itself when the source
    has neither lines nor statuses. ``present``: ``used_columns``."""
    t = plan.typed
    if not uses_lines(present) and not uses_status(present):
        return t
    t = t.filter(~left_out(t, present))
    if not uses_lines(present):
        return t
    t = t.mutate(amount_cny=line_amount(t))
    names = contract.table("orders").column_names
    extras = [c for c in t.columns if c not in names]
    first = {c: t[c].argmin(t.order_time) for c in ("campaign_id", "source", *extras)}
    per_order = t.group_by("order_id").aggregate(
        fan_id=t.fan_id.min(),
        order_time=t.order_time.min(),
        amount_cny=t.amount_cny.sum(),
        quantity=t.quantity.sum(),
        **first,
    )
    status = ibis.literal(PAID) if uses_status(present) else ibis.null("string")
    columns = {c: per_order[c] for c in ("order_id", "fan_id", "order_time", "amount_cny", "campaign_id", "source")}
    columns.update(quantity=per_order.quantity, unit_price=ibis.null("float64"), status=status)
    columns.update({c: per_order[c] for c in extras})
    return per_order.select(**columns)


@dataclass(frozen=True)
class OrderCleaning:
    """What the source's orders hold and what was left out of the order counts and amounts."""

    rows: int  # rows of the source's orders table
    orders: int  # paid orders counted (distinct order ids of the rows kept)
    lines: bool  # whether the rows are order lines
    left_out_rows: int  # rows left out (cancelled, refunded, returned)
    negative_rows: int  # of which: negative quantity or amount (cancellations and returns)
    status_rows: int  # of which: a status other than paid
    left_out_value: float  # the absolute amount of the rows left out, in the report's currency

    def as_dict(self) -> dict:
        return asdict(self)


def order_cleaning(plan: TablePlan, present: list[str], execute: Any) -> OrderCleaning:
    """Count, in one engine query, the rows and orders of ``plan`` and what is left out of them."""
    t = plan.typed
    if not uses_lines(present) and not uses_status(present):
        n = int(execute(t.count(), label="data:orders:rows"))
        return OrderCleaning(n, n, False, 0, 0, 0, 0.0)
    status, negative = status_left_out(t, present), negative_left_out(t, present)
    out = status | negative
    amount = line_amount(t) if uses_lines(present) else t.amount_cny
    row = execute(
        t.aggregate(
            rows=t.count(),
            orders=t.order_id.nunique(where=~out),
            left_out_rows=out.ifelse(1, 0).sum(),
            negative_rows=(negative & ~status).ifelse(1, 0).sum(),
            status_rows=status.ifelse(1, 0).sum(),
            left_out_value=out.ifelse(amount.abs(), 0.0).sum(),
        ),
        label="data:orders:cleaning",
    ).iloc[0]

    def whole(v: Any) -> int:
        return 0 if v is None or v != v else int(v)

    value = row["left_out_value"]
    return OrderCleaning(
        rows=whole(row["rows"]),
        orders=whole(row["orders"]),
        lines=uses_lines(present),
        left_out_rows=whole(row["left_out_rows"]),
        negative_rows=whole(row["negative_rows"]),
        status_rows=whole(row["status_rows"]),
        left_out_value=0.0 if value is None or value != value else float(value),
    )
