"""The data overview in words: contract problems and data warnings as rows, and the closing conclusions.

Every function takes ``T``, the ``data_overview`` :class:`fanlib.present.i18n.Messages` of the report's language.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from fanlib.present.i18n import fmt_number, fmt_period


def problem_table(problems: list, T: Any) -> pd.DataFrame:
    """The contract problems as rows for the report: table, column, the check in the report's language,
    failing rows (blank for structural problems, where rows do not apply), what was found, examples."""
    rows = [
        {
            "table": p.table,
            "column": p.column or "",
            "check": T.label(f"check_{p.check}", p.check),
            "failing_rows": p.failing_rows,
            "detail": p.detail,
            "examples": "; ".join(map(str, p.examples[:3])),
        }
        for p in problems
    ]
    return pd.DataFrame(rows, columns=["table", "column", "check", "failing_rows", "detail", "examples"])


def warning_table(warnings: list, T: Any) -> pd.DataFrame:
    """Data warnings (``fanlib.data.freshness``) as rows in the report's language."""
    rows = [
        {
            "table": w.table,
            "column": w.column,
            "check": T.label(f"check_{w.check}", w.check),
            "detail": T(f"warn_{w.check}", **w.fields),
        }
        for w in warnings
    ]
    return pd.DataFrame(rows, columns=["table", "column", "check", "detail"])


def conclusions(tables: pd.DataFrame, problems: list, warnings: list, T: Any) -> list[str]:
    """What the overview means, one sentence a line: the source's size and period, whether the contract
    holds, the data warnings and the optional tables the source lacks."""
    lang = T.lang
    n = row_counts(tables)
    present = tables[tables.present]
    missing_optional = list(tables[~tables.present].table)
    have = set(present.table)
    key = (
        "concl_size"
        if {"events", "orders"} <= have
        else "concl_size_no_events"
        if "orders" in have
        else ("concl_size_no_orders" if "events" in have else "concl_size_fans")
    )
    lines = [
        T(
            key,
            fans=fmt_number(n.get("fans", 0), "count", lang),
            events=fmt_number(n.get("events", 0), "count", lang),
            orders=fmt_number(n.get("orders", 0), "count", lang),
            period=fmt_period(present["first"].min(), present["last"].max(), lang),
        ),
        T("concl_broken", n=len(problems)) if problems else T("concl_ok"),
    ]
    if warnings:
        lines.append(T("concl_warnings", n=len(warnings)))
    if missing_optional:
        lines.append(T("concl_optional", tables=", ".join(missing_optional)))
    return lines


def shape_notes(shape: dict, T: Any, currency: str = "CNY") -> list[str]:
    """What the engine made of the source (``queries.source_shape``), one sentence each."""
    lang = T.lang
    notes = []
    if "fans_derived_from" in shape:
        notes.append(
            T(
                "note_fans_derived",
                n=fmt_number(shape["fans"], "count", lang),
                tables=", ".join(shape["fans_derived_from"]),
            )
        )
    if shape.get("join_times_filled"):
        notes.append(T("note_join_filled", n=fmt_number(shape["join_times_filled"], "count", lang)))
    o = shape.get("orders")
    if o:
        rows, orders = fmt_number(o["rows"], "count", lang), fmt_number(o["orders"], "count", lang)
        notes.append(T("note_order_lines", rows=rows, orders=orders) if o["lines"] else T("note_orders", orders=orders))
        if o["left_out_rows"]:
            notes.append(
                T(
                    "note_left_out",
                    n=fmt_number(o["left_out_rows"], "count", lang),
                    negative=fmt_number(o["negative_rows"], "count", lang),
                    status=fmt_number(o["status_rows"], "count", lang),
                    value=_money(o["left_out_value"], lang, currency),
                )
            )
    return notes


def _money(value: float, lang: str, currency: str) -> str:
    """An amount in the report's currency: ``fanlib.present.i18n.fmt_money`` where it exists."""
    from fanlib.present import i18n

    fmt_money = getattr(i18n, "fmt_money", None)
    if fmt_money is not None:
        return fmt_money(value, lang, currency)
    return fmt_number(value, "cny", lang) if currency == "CNY" else f"{currency} {value:,.2f}"


def row_counts(tables: pd.DataFrame) -> dict[str, int]:
    """Rows per table name, as the table summary counts them."""
    return dict(zip(tables.table, tables.rows, strict=True))
