"""Notebook-side report helpers: the summary JSON, banners and tables.

Every report writes ``<name>.summary.json`` beside its HTML: the headline
figures for dashboards, alerting and the index pages. ``Summary`` builds it.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fanlib.errors import FanlibError
from fanlib.io import json_text, to_jsonable, write_json_atomic
from fanlib.present.escape import html_text, md_guard

if TYPE_CHECKING:
    import pandas as pd

    from fanlib.present.i18n import Messages

#: Units a headline value may have; the index pages format values by unit. ``cny`` is an amount in the
#: summary's ``currency`` (CNY unless the report says otherwise); ``pp`` a difference of rates.
UNITS = ("pct", "pp", "cny", "count", "number", "days", "ratio", "text")


class Summary(dict):
    """A report's machine-readable summary: headline figures plus free-form sections.

    >>> s = Summary("01_fan_profiling", as_of="2025-12-31")
    >>> s.headline("dau_rate", 0.31, label="日活跃率 Daily active rate", unit="pct", target=0.55)
    >>> s["tiers"] = {"core": 0.15}
    >>> s.write("reports/latest/01_fan_profiling.summary.json")

    A report that shows amounts passes ``currency="GBP"`` (an ISO code, checked): its amounts (unit
    ``cny``) are in that currency, and whoever reads the summary writes them with its symbol.
    """

    def __init__(self, report: str, as_of: Any = None, status: str = "ok", **sections: Any):
        if "currency" in sections:
            from fanlib.present.i18n import check_currency

            check_currency(sections["currency"])
        super().__init__(
            report=report,
            generated_at=_dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            as_of=to_jsonable(as_of),
            status=status,
            headline=[],
        )
        self.update(sections)

    def headline(
        self,
        key: str,
        value: Any,
        *,
        label: str | None = None,
        unit: str = "number",
        target: float | None = None,
        good: bool | None = None,
        higher_is_better: bool = True,
        note: str | None = None,
    ) -> Summary:
        """Add one headline figure. ``good`` defaults to value-vs-target when a target is given."""
        if unit not in UNITS:
            raise ValueError(f"headline {key!r}: unit {unit!r} is not one of {', '.join(UNITS)}")
        value = to_jsonable(value)
        if good is None and target is not None and isinstance(value, (int, float)):
            good = value >= target if higher_is_better else value <= target
        entry = {
            "key": key,
            "label": label or key,
            "value": value,
            "unit": unit,
            "target": to_jsonable(target),
            "good": None if good is None else bool(good),
        }
        if note:
            entry["note"] = note
        self["headline"] = [h for h in self["headline"] if h["key"] != key] + [entry]
        return self

    def sections_failed(self, titles: list[str]) -> Summary:
        """Record the sections that could not be produced: the report is then ``partial``, naming them."""
        if titles:
            if self["status"] == "ok":
                self["status"] = "partial"
            self["sections_failed"] = list(dict.fromkeys([*self.get("sections_failed", []), *titles]))
        return self

    def timing(self, key: str, seconds: float) -> Summary:
        """Record how long a step took. Timings are not figures: the runner moves them into the
        report's manifest, so two runs on the same data write the same summary."""
        self.setdefault(TIMINGS, {})[key] = round(float(seconds), 3)
        return self

    def write(self, path: str | os.PathLike) -> Path:
        from fanlib.paths import resolve

        return write_json_atomic(resolve(path), stable_floats(to_jsonable(self)), trailing_newline=False)


#: Significant digits of the floats in a summary: engines that sum in parallel add in a varying order,
#: which changes the last bits of a double from one run to the next, never a digit anyone reads.
SUMMARY_DIGITS = 10


def stable_floats(value: Any, digits: int = SUMMARY_DIGITS) -> Any:
    """``value`` (plain JSON types) with every float rounded to ``digits`` significant digits."""
    if isinstance(value, float):
        return float(f"{value:.{digits}g}") if math.isfinite(value) else value
    if isinstance(value, dict):
        return {k: stable_floats(v, digits) for k, v in value.items()}
    if isinstance(value, list):
        return [stable_floats(v, digits) for v in value]
    return value


#: The summary field that holds timings until the runner lifts them into the manifest.
TIMINGS = "timings"


def lift_timings(raw: bytes) -> tuple[bytes, dict]:
    """A summary file's bytes without its timings, and the timings (empty when there are none)."""
    data = json.loads(raw.decode("utf-8"))
    if not isinstance(data, dict) or TIMINGS not in data:
        return raw, {}
    timings = data.pop(TIMINGS)
    text = json_text(data, trailing_newline=False)  # as Summary.write writes it
    return text.encode("utf-8"), timings if isinstance(timings, dict) else {TIMINGS: timings}


# --- the section guard (for notebooks) -------------------------------------------------------


class NeedsEarlierSection(FanlibError, LookupError):
    """A section asked for a result that an earlier section did not produce."""

    def __init__(self, keys: tuple[str, ...]):
        super().__init__(", ".join(keys))
        self.keys = keys


def _is_data_problem(exc: BaseException) -> bool:
    """Whether fanlib itself raised ``exc`` to say what is wrong with the input: its input errors carry
    sentences written for people. Anything else (a KeyError, numpy's "cannot convert float NaN to
    integer") is an internal fault, and its text means nothing to a stakeholder."""
    import traceback

    if not isinstance(exc, (ValueError, LookupError)) or isinstance(exc, (KeyError, IndexError)):
        return False
    if type(exc).__module__.startswith("fanlib"):
        return True
    frames = traceback.extract_tb(exc.__traceback__)
    package = str(Path(__file__).resolve().parent.parent)
    return bool(frames) and str(Path(frames[-1].filename).resolve()).startswith(package)


class Sections(dict):
    """What a report's sections computed, by key, and which sections could not be produced.

    Each section runs inside ``guard``. A data problem shows as a plain banner, an unexpected error as
    a plain banner too (its details go to the executed notebook's error stream, never to the page), and
    a section that needs the result of one that failed says so instead of failing on its own::

        sections = Sections(T)
        with sections.guard(T("sec_survival"), makes=("surv",)):
            sections["surv"] = fan_durations(fd, ...)
        with sections.guard("Kaplan–Meier"):
            surv = sections.need("surv")
        sections.mark(summary)  # status "partial", naming the failed sections
    """

    def __init__(self, T=None, lang: str | None = None):
        super().__init__()
        from fanlib.present.i18n import messages

        self.T = T  # the report's own catalogue: fanlib errors with ``text(T)`` speak its language
        self.common = messages("common", lang or getattr(T, "lang", None) or "zh")
        self.failed: dict[str, str] = {}  # section title -> what went wrong, in plain words
        self._makers: dict[str, str] = {}  # result key -> the title of the section that makes it

    def need(self, *keys: str) -> Any:
        """The results ``keys`` (one value for one key, else a tuple); a missing one ends the section with a
        note naming the section that should have made it."""
        missing = tuple(k for k in keys if k not in self)
        if missing:
            raise NeedsEarlierSection(missing)
        return self[keys[0]] if len(keys) == 1 else tuple(self[k] for k in keys)

    @contextlib.contextmanager
    def guard(self, title: str, makes: tuple[str, ...] | list[str] = ()) -> Iterator[Sections]:
        """Run one section; whatever goes wrong is said plainly and recorded, and the report goes on."""
        import sys
        import traceback

        for key in makes:
            self._makers[key] = title
        C = self.common
        try:
            yield self
        except NeedsEarlierSection as exc:
            needed = [self._makers.get(k, k) for k in exc.keys]
            text = C("section_needs", section=title, needed=C("list_sep").join(dict.fromkeys(needed)))
            level = "warning"
        except Exception as exc:  # noqa: BLE001 - one section's fault must not hide the rest of the report
            if _is_data_problem(exc):
                reason = exc.text(self.T) if hasattr(exc, "text") and self.T is not None else str(exc)
                text = C("section_data", section=title, reason=reason)
                level = "warning"
            else:
                print(f"section {title!r} failed:", file=sys.stderr)
                traceback.print_exception(exc, file=sys.stderr)
                text = C("section_error", section=title)
                level = "danger"
        else:
            return
        self.failed[title] = text
        banner(text, level)

    def mark(self, summary: Summary) -> Summary:
        """Make ``summary`` partial, naming the sections that could not be produced (if any)."""
        return summary.sections_failed(list(self.failed))


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
    return (
        f'<div class="fanlib-banner fanlib-{level}" style="background:{bg};color:{fg};'
        f'border-left:6px solid {fg};padding:10px 14px;margin:8px 0;border-radius:4px;font-weight:600">'
        f"{html_text(text)}</div>"
    )


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
    :func:`fanlib.present.escape.md_text` too, so Markdown syntax in data shows as written.
    """

    def __new__(cls, data: str | None = None, *args: Any, **kwargs: Any):
        return _ipython_markdown()(md_guard(data) if isinstance(data, str) else data, *args, **kwargs)


def format_value(value: Any, unit: str = "number", digits: int = 1, lang: str = "en", currency: str = "CNY") -> str:
    """Format a figure for people: 31.2%, ¥1,234.50 / £1,234.50 (unit ``cny``: an amount in ``currency``),
    12,345 (``lang="zh"``: 万 and 亿 for large numbers)."""
    from fanlib.present.i18n import fmt_number

    if unit == "text":
        return "–" if value is None else str(value)
    return fmt_number(value, unit, lang, digits, currency=currency)


def table(
    df: pd.DataFrame,
    caption: str | None = None,
    formats: dict[str, str] | None = None,
    max_rows: int = 60,
    index: bool = False,
    lang: str = "en",
    currency: str = "CNY",
) -> None:
    """Display a DataFrame as a clean HTML table; ``formats`` maps columns to units (pct, cny, count …);
    amounts (``cny``) are written in ``currency``."""
    from IPython.display import HTML, display

    display(HTML(table_html(df, caption, formats, max_rows, index, lang, currency)))
    if len(df) > max_rows:
        from fanlib.present.i18n import messages

        more = messages("common", lang)("rows_not_shown", n=f"{len(df) - max_rows:,}")
        display(HTML(f"<p><em>{more}</em></p>"))


def table_html(
    df: pd.DataFrame,
    caption: str | None = None,
    formats: dict[str, str] | None = None,
    max_rows: int = 60,
    index: bool = False,
    lang: str = "en",
    currency: str = "CNY",
) -> str:
    """The HTML of :func:`table`: every cell, index and column label and the caption escaped."""
    shown = df.head(max_rows).copy()
    for col, unit in (formats or {}).items():
        if col in shown.columns:
            shown[col] = [format_value(v, unit, lang=lang, currency=currency) for v in shown[col]]
    # Labels are data too (pivots put ids and channels into the header); escape names of
    # the index and columns as well, which format_index does not reach.
    shown.index = shown.index.set_names([None if n is None else html_text(n) for n in shown.index.names])
    shown.columns = shown.columns.set_names([None if n is None else html_text(n) for n in shown.columns.names])
    styler = shown.style.format(escape="html").format_index(escape="html", axis=0).format_index(escape="html", axis=1)
    if not index:
        styler = styler.hide(axis="index")
    if caption:
        styler = styler.set_caption(html_text(caption))
    styler = styler.set_table_attributes('class="fanlib-table"')
    return styler.to_html()


def localized_table(
    df: pd.DataFrame,
    messages: Messages,
    caption: str | None = None,
    formats: dict[str, str] | None = None,
    max_rows: int = 60,
    index: bool = False,
) -> None:
    """``table`` with column headers from a message catalogue (key ``col_<column>``) and numbers
    formatted for the catalogue's language and currency."""
    renamed = {c: messages(f"col_{c}") for c in df.columns if f"col_{c}" in messages}
    shown_formats = {renamed.get(c, c): unit for c, unit in (formats or {}).items()}
    currency = getattr(messages, "currency", "CNY")
    table(df.rename(columns=renamed), caption, shown_formats, max_rows, index, lang=messages.lang, currency=currency)
