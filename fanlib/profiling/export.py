"""Export each fan's class, layer, RFM scores and segment for CRM teams: CSV and an Excel workbook.

The CSV is UTF-8 with a byte-order mark so Excel on Chinese Windows opens it correctly.
The workbook has one sheet per fan class, written by ``fanlib.present.xlsx`` (column-wise, a few seconds for a
million fans, where a cell-by-cell writer such as openpyxl takes about two minutes); read back with
openpyxl or ``pandas.read_excel`` it holds the same values as the CSV.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from fanlib.io import atomic_target
from fanlib.present.xlsx import MAX_ROWS, write_xlsx
from fanlib.profiling.errors import ProfilingDataError
from fanlib.profiling.profile import EXPORT_COLUMNS, FanProfile
from fanlib.profiling.tiers import TIERS

#: Excel's row limit per sheet, less the header.
EXCEL_MAX_ROWS = MAX_ROWS - 1


def fan_export_frame(
    fd: Any, profile: FanProfile, segments: pd.DataFrame | None = None, currency: str = "CNY"
) -> pd.DataFrame:
    """One row per fan (the export itself, so one row per fan is the intended size). The amounts
    (``spend``, ``spend_total``) are in ``currency``, which the column ``currency`` names on every row."""
    t = profile.table.select(*EXPORT_COLUMNS).order_by(["tier", "fan_id"])
    df = fd.execute(t, label="profiling:export")
    df["segment"] = pd.NA
    if segments is not None and len(segments):
        df = df.drop(columns="segment").merge(segments[["fan_id", "segment"]], on="fan_id", how="left")
    df["segment"] = df["segment"].astype("Int64")
    df["spend"] = df.spend.round(2)
    df["spend_total"] = df.spend_total.round(2)
    df.insert(df.columns.get_loc("spend_total") + 1, "currency", currency)
    df["days_since_order"] = df.days_since_order.round(1)
    return df


def _atomic(path: Path, write) -> Path:
    with atomic_target(path) as tmp:  # no partial file left behind
        write(tmp)
    return path


def export_fans(
    df: pd.DataFrame, output_dir: str | Path, stem: str = "01_fan_profiling_fans", T: Any = None, created: Any = None
) -> dict[str, Path]:
    """Write ``<stem>.csv`` and ``<stem>.xlsx`` (a sheet per fan class, named in the language of ``T``,
    Chinese when omitted) into ``output_dir``. Column names stay codes: CRM imports map them.
    ``created`` (the report's as-of date) dates the workbook, so reruns write identical files."""
    from fanlib.paths import resolve
    from fanlib.present.i18n import messages

    T = T or messages("fan_profiling")
    out = resolve(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    csv = _atomic(out / f"{stem}.csv", lambda p: df.to_csv(p, index=False, encoding="utf-8-sig"))

    if len(df) and df.tier.isna().all():  # orders-only data: no fan classes, one sheet of every fan
        sheets = [(T("sheet_all_fans"), "all fans", df)]
    else:
        sheets = [(T(f"tier_{tier}"), f"fan class {tier!r}", df[df.tier == tier]) for tier in TIERS]
    parts = []
    for name, what, part in sheets:
        if len(part) > EXCEL_MAX_ROWS:
            raise ProfilingDataError(
                f"{what} has {len(part):,} fans, more than an Excel sheet holds; use the CSV export"
            )
        parts.append((name[:31], part))
    xlsx = write_xlsx(out / f"{stem}.xlsx", parts, created=created)  # atomic itself
    return {"csv": csv, "xlsx": xlsx}
