"""The cohort matrix as readers take it away: labelled rows for the summary JSON, and the CSV and Excel
exports in the report's output folder (``03_retention_cohorts.csv`` / ``.xlsx``).

Every export shows what the heatmap shows: a rate is blank where the period is not over yet for every fan
of the cohort, or where the cohort is too small to give a rate; the counts behind each cell stay in the
CSV (and the Excel workbook's last sheet), so nothing is lost.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

import pandas as pd

from fanlib.io import write_atomic
from fanlib.present.i18n import Messages

from .cohorts import CohortTable
from .narrative import cohort_label

__all__ = ["EXPORT_NAME", "matrix_rows", "cells_frame", "wide_frame", "write_cohort_matrix"]

#: The exports' file name (without the extension) in the report's output folder.
EXPORT_NAME = "03_retention_cohorts"


def _labels(cohort: CohortTable, lang: str) -> dict[_dt.date, str]:
    return {day: cohort_label(day, cohort.cohort_period, lang) for day in cohort.sizes.index}


def matrix_rows(cohort: CohortTable, lang: str = "en") -> list[dict[str, Any]]:
    """One entry per cohort, oldest first: its label, first day, size and the rates per period 0 … max
    under both definitions (``on``, ``on_or_after``; None where the heatmap is blank)."""
    on, after = cohort.matrix("on"), cohort.matrix("on_or_after")
    labels, sizes = _labels(cohort, lang), cohort.sizes
    return [
        {
            "cohort": labels[day],
            "start": day,
            "size": int(sizes[day]),
            "on": [None if pd.isna(v) else float(v) for v in on.loc[day]],
            "on_or_after": [None if pd.isna(v) else float(v) for v in after.loc[day]],
        }
        for day in on.index
    ]


def cells_frame(cohort: CohortTable, T: Messages) -> pd.DataFrame:
    """One row per (cohort, period): the counts and both rates (blank where the heatmap is blank), with
    headers in the reader's language."""
    c = cohort.cells.copy()
    shown = c["complete"] & ~c["small"]
    out = pd.DataFrame(
        {
            "cohort": c["cohort"].map(_labels(cohort, T.lang)),
            "cohort_start": c["cohort"],
            "cohort_size": c["cohort_size"],
            "period": c["period"],
            "eligible": c["eligible"],
            "retained_on": c["retained_on"],
            "rate_on": c["rate_on"].where(shown),
            "retained_on_or_after": c["retained_on_or_after"],
            "rate_on_or_after": c["rate_on_or_after"].where(shown),
            "complete": c["complete"],
            "small": c["small"],
        }
    )
    return out.rename(columns={k: T(f"col_{k}") for k in out.columns})


def wide_frame(cohort: CohortTable, definition: str, T: Messages) -> pd.DataFrame:
    """Cohorts × periods of one definition (``on`` or ``on_or_after``), each row led by the cohort's label,
    first day and size; period headers say the kind of period (``week 3``, ``7-day period 3`` …)."""
    m = cohort.matrix(definition)
    sizes, labels = cohort.sizes, _labels(cohort, T.lang)
    lead = pd.DataFrame(
        {
            T("col_cohort"): [labels[d] for d in m.index],
            T("col_cohort_start"): list(m.index),
            T("col_cohort_size"): [int(sizes[d]) for d in m.index],
        }
    )
    rates = m.reset_index(drop=True)
    rates.columns = [T(f"period_n_{cohort.period}", n=int(k)) for k in m.columns]
    return pd.concat([lead, rates], axis=1)


def write_cohort_matrix(
    cohort: CohortTable, folder: str | Path, T: Messages, created: _dt.date | None = None
) -> dict[str, str]:
    """Write the matrix as CSV (UTF-8 with BOM so Excel shows Chinese; one row per cohort and period) and
    as .xlsx (one sheet per definition, then the cells), each replacing an older file only when complete."""
    from fanlib.present.xlsx import write_xlsx

    folder = Path(folder)
    csv_path, xlsx_path = folder / f"{EXPORT_NAME}.csv", folder / f"{EXPORT_NAME}.xlsx"
    cells = cells_frame(cohort, T)
    write_atomic(csv_path, "\ufeff" + cells.to_csv(index=False))
    sheets = [
        (T("cohort_sheet_on"), wide_frame(cohort, "on", T)),
        (T("cohort_sheet_after"), wide_frame(cohort, "on_or_after", T)),
        (T("cohort_sheet_cells"), cells),
    ]
    write_xlsx(xlsx_path, sheets, created=created)
    return {"csv": str(csv_path), "xlsx": str(xlsx_path)}
