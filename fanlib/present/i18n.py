"""Messages in Simplified Chinese and English, and locale-aware number and date formats.

Every generated text, heading, table header and chart label of a report comes
from a catalogue in ``fanlib/present/locales/<domain>.yaml``: one entry per key, with a
``zh`` and an ``en`` text (``str.format`` fields allowed). Reports take a
``lang`` parameter (``zh`` by default) and ask for their domain's messages:

    T = messages("overview", lang)
    T("title")                       # '数据概览'
    T("rows_in_table", n=fmt_number(1234567, "count", lang))

Money. The contract column ``orders.amount_cny`` keeps its name, but it holds amounts in the
report's ``currency`` (an ISO code, ``CNY`` by default; :data:`CURRENCIES` lists the known ones).
Reports pass it to their messages, and every amount is then written with its symbol:

    T = messages("fan_profiling", lang, currency="GBP")
    T.money(1234.5)                  # '£1,234.50'
    fmt_money(12345.6, "zh", "USD")  # 'US$1.23万'
    fmt_number(9.9, "cny", "en", currency="EUR")  # '€9.90' (the unit "cny" means "an amount")

Message texts may name the currency with the fields ``{currency}`` (the code), ``{currency_name}``
(元, 英镑 / CNY, GBP) and ``{currency_symbol}``; a catalogue fills them in without being asked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Currency:
    """How amounts in one currency are written: the symbol and the name in each language, and the
    number of decimals (none for the yen and the won)."""

    code: str
    symbol_zh: str
    symbol_en: str
    name_zh: str
    decimals: int = 2

    def symbol(self, lang: str) -> str:
        return self.symbol_zh if lang == "zh" else self.symbol_en

    def name(self, lang: str) -> str:
        return self.name_zh if lang == "zh" else self.code


DEFAULT_CURRENCY = "CNY"

#: The currencies a report can speak of, by ISO 4217 code. In Chinese a dollar is always qualified
#: (US$, HK$ …), as Chinese financial writing does; in English the US dollar is plain "$".
CURRENCIES: dict[str, Currency] = {
    c.code: c
    for c in (
        Currency("CNY", "¥", "¥", "元"),
        Currency("USD", "US$", "$", "美元"),
        Currency("GBP", "£", "£", "英镑"),
        Currency("EUR", "€", "€", "欧元"),
        Currency("HKD", "HK$", "HK$", "港元"),
        Currency("TWD", "NT$", "NT$", "新台币"),
        Currency("MOP", "MOP$", "MOP$", "澳门元"),
        Currency("SGD", "S$", "S$", "新加坡元"),
        Currency("AUD", "A$", "A$", "澳元"),
        Currency("CAD", "C$", "C$", "加元"),
        Currency("JPY", "JP¥", "JP¥", "日元", decimals=0),
        Currency("KRW", "₩", "₩", "韩元", decimals=0),
        Currency("CHF", "CHF ", "CHF ", "瑞士法郎"),
    )
}


def check_currency(code: str) -> str:
    """``code`` when it is a known currency (:data:`CURRENCIES`), else a ValueError listing the known ones."""
    if code not in CURRENCIES:
        raise ValueError(f"currency must be the ISO code of a known currency ({', '.join(CURRENCIES)}), not {code!r}")
    return code


def currency_of(code: str) -> Currency:
    return CURRENCIES[check_currency(code)]


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
    """A domain's messages in one language (and the report's currency); call it with a key and format fields."""

    def __init__(self, domain: str, lang: str = DEFAULT_LANG, currency: str = DEFAULT_CURRENCY):
        self.domain, self.lang, self.currency = domain, check_lang(lang), check_currency(currency)
        self._texts = {**catalogue("common"), **catalogue(domain)} if domain != "common" else catalogue("common")

    def __call__(self, key: str, **fields) -> str:
        try:
            text = self._texts[key][self.lang]
        except KeyError:
            raise MissingMessage(
                f"message {key!r} is missing from the {self.domain!r} catalogue "
                f"(fanlib/present/locales/{self.domain}.yaml) for {self.lang!r}"
            ) from None
        if "{currency" in text:
            fields = {**self.currency_fields(), **fields}
        return text.format(**fields) if fields else text

    def currency_fields(self) -> dict[str, str]:
        """The fields ``currency``, ``currency_name`` and ``currency_symbol`` every text may use."""
        c = CURRENCIES[self.currency]
        return {"currency": c.code, "currency_name": c.name(self.lang), "currency_symbol": c.symbol(self.lang)}

    def money(self, value: Any) -> str:
        """An amount in the report's currency and language: ¥1.23万, £12,345.60."""
        return fmt_money(value, self.lang, self.currency)

    def fmt(self, value: Any, unit: str = "number", digits: int = 1) -> str:
        """:func:`fmt_number` in this catalogue's language and currency."""
        return fmt_number(value, unit, self.lang, digits, currency=self.currency)

    def __contains__(self, key: str) -> bool:
        return key in self._texts

    def label(self, key: str, default: str | None = None) -> str:
        """A label for a code value (a channel, a segment …), falling back to the value itself."""
        return self(key) if key in self._texts else (default if default is not None else key)


def messages(domain: str, lang: str = DEFAULT_LANG, currency: str = DEFAULT_CURRENCY) -> Messages:
    return Messages(domain, lang, currency)


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


#: The unit of amounts of money, in the report's currency. It is named after the contract column
#: ``orders.amount_cny`` and means "an amount", whatever the currency.
MONEY_UNIT = "cny"


def fmt_money(value: Any, lang: str = DEFAULT_LANG, currency: str = DEFAULT_CURRENCY) -> str:
    """An amount: ¥1.23万 / ¥12,345.60 (CNY), US$1.23万 / $12,345.60 (USD), -£3.00. Chinese groups
    large amounts in 万 and 亿 whatever the currency; the symbol always follows the currency."""
    check_lang(lang)
    c = currency_of(currency)
    if not _finite(value):
        return "–"
    value = float(value)
    sign, a = ("-" if value < 0 else ""), abs(value)
    if lang == "zh" and a >= 1e4:
        return sign + c.symbol(lang) + _zh_big(a, 2)
    return f"{sign}{c.symbol(lang)}{a:,.{c.decimals}f}"


def fmt_number(
    value: Any, unit: str = "number", lang: str = DEFAULT_LANG, digits: int = 1, currency: str = DEFAULT_CURRENCY
) -> str:
    """Format a figure for a reader: 31.2%, ¥1.23万 / ¥12,345.00 (unit ``cny``: an amount in ``currency``),
    12.3万 / 123,456, 4.0 天 / 4.0 days."""
    check_lang(lang)
    if not _finite(value):
        return "–"
    value = float(value)
    if unit == "pct":
        return f"{value * 100:.{digits}f}%"
    if unit == "pp":
        return f"{value * 100:+.{digits}f} {'个百分点' if lang == 'zh' else 'pp'}"
    if unit == MONEY_UNIT:
        return fmt_money(value, lang, currency)
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
    "fmt_money",
    "MONEY_UNIT",
    "Currency",
    "CURRENCIES",
    "DEFAULT_CURRENCY",
    "check_currency",
    "currency_of",
    "fmt_date",
    "fmt_period",
    "check_lang",
]
