"""Notebook-side report helpers: the summary JSON, banners and tables.

Every report writes ``<name>.summary.json`` beside its HTML: the headline
figures for dashboards, alerting and the index pages. ``Summary`` builds it.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

from fanlib.escape import html_text, md_guard

#: Units a headline value may have; the index pages format values by unit.
UNITS = ("pct", "cny", "count", "number", "days", "ratio", "text")


def to_jsonable(value: Any) -> Any:
    """Convert numpy/pandas/datetime values into plain JSON types; NaN and inf become None."""
    try:
        import numpy as np
        import pandas as pd
    except ImportError:  # pragma: no cover - both are dependencies
        np = pd = None
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [to_jsonable(v) for v in value]
    if np is not None:
        if isinstance(value, np.bool_):
            return bool(value)
        if isinstance(value, np.integer):
            return int(value)
        if isinstance(value, np.floating):
            return to_jsonable(float(value))
        if isinstance(value, np.ndarray):
            return [to_jsonable(v) for v in value.tolist()]
        if isinstance(value, pd.Timestamp):
            return None if pd.isna(value) else value.isoformat()
        if isinstance(value, pd.DataFrame):
            return [to_jsonable(r) for r in value.to_dict(orient="records")]
        if isinstance(value, pd.Series):
            return {str(k): to_jsonable(v) for k, v in value.items()}
        if value is pd.NaT or (not isinstance(value, (list, dict)) and pd.api.types.is_scalar(value)
                               and pd.isna(value)):
            return None
    if hasattr(value, "to_dict"):
        return to_jsonable(value.to_dict())
    if hasattr(value, "__dataclass_fields__"):
        import dataclasses

        return to_jsonable(dataclasses.asdict(value))
    return str(value)


def write_json_atomic(path: str | os.PathLike, payload: Any) -> Path:
    """Write JSON atomically: a temp file in the same folder, fsync, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(to_jsonable(payload), ensure_ascii=False, indent=2, allow_nan=False)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; reports are meant to be shared
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


class Summary(dict):
    """A report's machine-readable summary: headline figures plus free-form sections.

    >>> s = Summary("01_fan_profiling", as_of="2025-12-31")
    >>> s.headline("dau_rate", 0.31, label="日活跃率 Daily active rate", unit="pct", target=0.55)
    >>> s["tiers"] = {"core": 0.15}
    >>> s.write("reports/latest/01_fan_profiling.summary.json")
    """

    def __init__(self, report: str, as_of: Any = None, status: str = "ok", **sections: Any):
        super().__init__(report=report, generated_at=_dt.datetime.now().astimezone().isoformat(timespec="seconds"),
                         as_of=to_jsonable(as_of), status=status, headline=[])
        self.update(sections)

    def headline(self, key: str, value: Any, *, label: str | None = None, unit: str = "number",
                 target: float | None = None, good: bool | None = None, higher_is_better: bool = True,
                 note: str | None = None) -> "Summary":
        """Add one headline figure. ``good`` defaults to value-vs-target when a target is given."""
        if unit not in UNITS:
            raise ValueError(f"headline {key!r}: unit {unit!r} is not one of {', '.join(UNITS)}")
        value = to_jsonable(value)
        if good is None and target is not None and isinstance(value, (int, float)):
            good = value >= target if higher_is_better else value <= target
        entry = {"key": key, "label": label or key, "value": value, "unit": unit,
                 "target": to_jsonable(target), "good": None if good is None else bool(good)}
        if note:
            entry["note"] = note
        self["headline"] = [h for h in self["headline"] if h["key"] != key] + [entry]
        return self

    def write(self, path: str | os.PathLike) -> Path:
        from fanlib.paths import resolve

        return write_json_atomic(resolve(path), self)


# --- display helpers (for notebooks) -------------------------------------------------------

_BANNER_COLOURS = {
    "danger": ("#fdecea", "#b3261e"),
    "warning": ("#fff4e5", "#8a5300"),
    "info": ("#e8f1fb", "#0b4f8a"),
    "success": ("#e6f4ea", "#1e6b34"),
}


def banner_html(text: str, level: str = "info") -> str:
    """A banner's HTML; ``text`` is plain text (data in it is shown as written)."""
    if level not in _BANNER_COLOURS:
        level = "info"
    bg, fg = _BANNER_COLOURS[level]
    return (f'<div class="fanlib-banner fanlib-{level}" style="background:{bg};color:{fg};'
            f'border-left:6px solid {fg};padding:10px 14px;margin:8px 0;border-radius:4px;font-weight:600">'
            f"{html_text(text)}</div>")


def banner(text: str, level: str = "info") -> None:
    """Show a coloured banner (danger, warning, info, success) in the report."""
    from IPython.display import HTML, display

    display(HTML(banner_html(text, level)))


def _ipython_markdown():
    from IPython.display import Markdown as _Markdown

    return _Markdown


class Markdown:
    """IPython's ``Markdown`` with raw HTML disabled, for every Markdown a report displays.

    Sentences are built from data (ids, channels, keywords, file names); whatever reaches
    them unescaped is still shown as text, never run as markup. Escape each data value with
    :func:`fanlib.escape.md_text` too, so Markdown syntax in data shows as written.
    """

    def __new__(cls, data: str | None = None, *args: Any, **kwargs: Any):
        return _ipython_markdown()(md_guard(data) if isinstance(data, str) else data, *args, **kwargs)


def section_unavailable(reason: str) -> None:
    """Say plainly that a section is skipped, and why (e.g. the source has no comments table)."""
    banner(f"本节未生成 Section not available: {reason}", "warning")


def format_value(value: Any, unit: str = "number", digits: int = 1, lang: str = "en") -> str:
    """Format a figure for people: 31.2%, ¥1,234.50, 12,345 (``lang="zh"``: 万 and 亿 for large numbers)."""
    from fanlib.i18n import fmt_number

    if unit == "text":
        return "–" if value is None else str(value)
    return fmt_number(value, unit, lang, digits)


def table(df, caption: str | None = None, formats: dict[str, str] | None = None, max_rows: int = 60,
          index: bool = False, lang: str = "en"):
    """Display a DataFrame as a clean HTML table; ``formats`` maps columns to units (pct, cny, count …)."""
    from IPython.display import HTML, display

    display(HTML(table_html(df, caption, formats, max_rows, index, lang)))
    if len(df) > max_rows:
        more = f"另有 {len(df) - max_rows:,} 行未显示。" if lang == "zh" else f"{len(df) - max_rows:,} more rows not shown."
        display(HTML(f"<p><em>{more}</em></p>"))


def table_html(df, caption: str | None = None, formats: dict[str, str] | None = None, max_rows: int = 60,
               index: bool = False, lang: str = "en") -> str:
    """The HTML of :func:`table`: every cell, index and column label and the caption escaped."""
    shown = df.head(max_rows).copy()
    for col, unit in (formats or {}).items():
        if col in shown.columns:
            shown[col] = [format_value(v, unit, lang=lang) for v in shown[col]]
    # Labels are data too (pivots put ids and channels into the header); escape names of
    # the index and columns as well, which format_index does not reach.
    shown.index = shown.index.set_names([None if n is None else html_text(n) for n in shown.index.names])
    shown.columns = shown.columns.set_names([None if n is None else html_text(n) for n in shown.columns.names])
    styler = (shown.style.format(escape="html")
              .format_index(escape="html", axis=0)
              .format_index(escape="html", axis=1))
    if not index:
        styler = styler.hide(axis="index")
    if caption:
        styler = styler.set_caption(html_text(caption))
    styler = styler.set_table_attributes('class="fanlib-table"')
    return styler.to_html()


def localized_table(df, messages, caption: str | None = None, formats: dict[str, str] | None = None,
                    max_rows: int = 60, index: bool = False):
    """``table`` with column headers from a message catalogue (key ``col_<column>``) and numbers
    formatted for the catalogue's language."""
    renamed = {c: messages(f"col_{c}") for c in df.columns if f"col_{c}" in messages}
    shown_formats = {renamed.get(c, c): unit for c, unit in (formats or {}).items()}
    table(df.rename(columns=renamed), caption, shown_formats, max_rows, index, lang=messages.lang)
