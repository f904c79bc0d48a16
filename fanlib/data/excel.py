"""Excel workbooks: one sheet per table, read with openpyxl and made loadable (dates, numbers, text)."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fanlib.data.errors import SourceError

if TYPE_CHECKING:
    import pandas as pd


def excel_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Make an Excel sheet loadable: dates stay dates, numbers numbers, anything mixed becomes text."""
    import pandas as pd

    out = {}
    for col in frame.columns:
        s = frame[col]
        values = s.dropna()
        name = str(col).strip()
        if values.empty:
            out[name] = s.astype("string")
        elif values.map(lambda v: isinstance(v, (_dt.datetime, _dt.date, pd.Timestamp))).all():
            out[name] = pd.to_datetime(s)
        elif values.map(lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)).all():
            out[name] = pd.to_numeric(s)
        else:
            out[name] = s.map(_excel_text, na_action="ignore").astype("string")
    return pd.DataFrame(out)


def _excel_text(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def read_excel(path: Path, sheet: int | str | None = None) -> Any:
    """One sheet of the workbook as a frame of objects, or (``sheet=None``) every sheet by name."""
    import pandas as pd

    try:
        return pd.read_excel(path, sheet_name=sheet, dtype=object, engine="openpyxl")
    except Exception as e:  # openpyxl raises many kinds for broken workbooks
        raise SourceError(f"{path}: cannot read the Excel workbook ({e})") from e
