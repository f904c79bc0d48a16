"""Messages in Simplified Chinese and English, and locale-aware number and date formats.

Every generated text, heading, table header and chart label of a report comes
from a catalogue in ``fanlib/present/locales/<domain>.yaml``: one entry per key, with a
``zh`` and an ``en`` text (``str.format`` fields allowed). Reports take a
``lang`` parameter (``zh`` by default) and ask for their domain's messages:

    T = messages("overview", lang)
    T("title")                       # '数据概览'
    T("rows_in_table", n=fmt_number(1234567, "count", lang))
"""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from fanlib.errors import FanlibError

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"
_LOCALES = Path(__file__).resolve().parent / "locales"


class MissingMessage(FanlibError, KeyError):
    """A report asked for a message key that its catalogue lacks."""

    def __str__(self) -> str:
        return str(self.args[0])


def check_lang(lang: str) -> str:
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {', '.join(LANGS)}, not {lang!r}")
    return lang


def domains() -> list[str]:
    return sorted(p.stem for p in _LOCALES.glob("*.yaml"))


@cache
def catalogue(domain: str) -> dict[str, dict[str, str]]:
    path = _LOCALES / f"{domain}.yaml"
    if not path.exists():
        raise FileNotFoundError(f"no message catalogue {path.name} in {_LOCALES}; known: {', '.join(domains())}")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a catalogue maps keys to {{zh: …, en: …}}")
    return data


def missing_translations(domain: str) -> list[tuple[str, str]]:
    """(key, lang) pairs whose text is absent or empty."""
    return [
        (key, lang)
        for key, texts in catalogue(domain).items()
        for lang in LANGS
        if not isinstance(texts, dict) or not str(texts.get(lang) or "").strip()
    ]


class Messages:
    """A domain's messages in one language; call it with a key and format fields."""

    def __init__(self, domain: str, lang: str = DEFAULT_LANG):
        self.domain, self.lang = domain, check_lang(lang)
        self._texts = {**catalogue("common"), **catalogue(domain)} if domain != "common" else catalogue("common")

    def __call__(self, key: str, **fields) -> str:
        try:
            text = self._texts[key][self.lang]
        except KeyError:
            raise MissingMessage(
                f"message {key!r} is missing from the {self.domain!r} catalogue "
                f"(fanlib/present/locales/{self.domain}.yaml) for {self.lang!r}"
            ) from None
        return text.format(**fields) if fields else text

    def __contains__(self, key: str) -> bool:
        return key in self._texts

    def label(self, key: str, default: str | None = None) -> str:
        """A label for a code value (a channel, a segment …), falling back to the value itself."""
        return self(key) if key in self._texts else (default if default is not None else key)


def messages(domain: str, lang: str = DEFAULT_LANG) -> Messages:
    return Messages(domain, lang)


def _finite(value) -> bool:
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _zh_big(value: float, digits: int) -> str:
    a = abs(value)
    if a >= 1e8:
        return f"{value / 1e8:,.{digits}f}亿"
    if a >= 1e4:
        return f"{value / 1e4:,.{digits}f}万"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.{digits}f}"


def fmt_number(value: Any, unit: str = "number", lang: str = DEFAULT_LANG, digits: int = 1) -> str:
    """Format a figure for a reader: 31.2%, ¥1.23万 / ¥12,345.00, 12.3万 / 123,456, 4.0 天 / 4.0 days."""
    check_lang(lang)
    if not _finite(value):
        return "–"
    value = float(value)
    if unit == "pct":
        return f"{value * 100:.{digits}f}%"
    if unit == "pp":
        return f"{value * 100:+.{digits}f} {'个百分点' if lang == 'zh' else 'pp'}"
    if unit == "cny":
        if lang == "zh" and abs(value) >= 1e4:
            return "¥" + _zh_big(value, 2)
        return f"¥{value:,.2f}"
    if unit == "count":
        return _zh_big(round(value), digits) if lang == "zh" else f"{value:,.0f}"
    if unit == "days":
        return f"{value:,.{digits}f} {'天' if lang == 'zh' else 'days'}"
    if unit == "ratio":
        return f"{value:.2f}×"
    if lang == "zh" and abs(value) >= 1e4:
        return _zh_big(value, digits)
    if 0 < abs(value) < 1:
        return f"{value:.3g}"  # an AUC of 0.573 or an ECE of 0.0127 must not read as 0.6 or 0.0
    return f"{value:,.{digits}f}" if not value.is_integer() else f"{value:,.0f}"


def fmt_date(value: Any, lang: str = DEFAULT_LANG) -> str:
    """2025年12月31日 / 31 Dec 2025."""
    check_lang(lang)
    if value is None:
        return "–"
    import pandas as pd

    ts = pd.Timestamp(value)
    if pd.isna(ts):
        return "–"
    return f"{ts.year}年{ts.month}月{ts.day}日" if lang == "zh" else ts.strftime("%-d %b %Y")


def fmt_period(start: Any, end: Any, lang: str = DEFAULT_LANG) -> str:
    sep = " 至 " if lang == "zh" else " to "
    return fmt_date(start, lang) + sep + fmt_date(end, lang)


__all__ = [
    "LANGS",
    "DEFAULT_LANG",
    "Messages",
    "MissingMessage",
    "messages",
    "catalogue",
    "domains",
    "missing_translations",
    "fmt_number",
    "fmt_date",
    "fmt_period",
    "check_lang",
]
