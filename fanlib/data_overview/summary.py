"""The report's summary JSON (``00_data_overview.summary.json``): the source's size, its contract problems
and data warnings. The page renders on data that fails the contract, but its status says the data is not
usable (``failed``)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from fanlib.data_overview.narrative import row_counts
from fanlib.present.notebook import Summary


def overview_summary(
    fd: Any, tables: pd.DataFrame, problems: list, warnings: list, T: Any, lang: str, shape: dict | None = None
) -> Summary:
    """The summary: headline counts of fans, events, orders, problems and warnings, and the tables.

    ``shape`` (``queries.source_shape``): when the fans were derived, join times filled, or the orders came
    as lines or with cancellations, it goes under ``"source_shape"``, and the orders headline counts paid
    orders rather than rows."""
    n = row_counts(tables)
    shape = shape or {}
    if "orders" in shape:
        n["orders"] = shape["orders"]["orders"]
    present = tables[tables.present]
    summary = Summary("00_data_overview", as_of=present["last"].max(), status="failed" if problems else "ok", lang=lang)
    summary.headline("fans", n.get("fans", 0), label=T("hl_fans"), unit="count")
    summary.headline("events", n.get("events", 0), label=T("hl_events"), unit="count")
    summary.headline("orders", n.get("orders", 0), label=T("hl_orders"), unit="count")
    summary.headline("contract_problems", len(problems), label=T("hl_problems"), unit="count", good=not problems)
    summary.headline("data_warnings", len(warnings), label=T("hl_warnings"), unit="count", good=not warnings)
    summary["source"] = fd.describe_source()
    summary["fingerprint"] = fd.fingerprint()
    summary["tables"] = tables
    summary["problems"] = [
        {"table": p.table, "column": p.column, "check": p.check, "failing_rows": p.failing_rows} for p in problems
    ]
    if shape:
        summary["source_shape"] = shape
    summary["warnings"] = [
        {"table": w.table, "column": w.column, "check": w.check, "detail": w.detail} for w in warnings
    ]
    return summary
