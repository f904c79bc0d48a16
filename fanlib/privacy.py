"""Masking of personal details in free text: mainland mobile numbers, WeChat ids,
e-mail addresses and Chinese resident identity card numbers.

Every comment a report displays and every export goes through ``mask_pii`` (or
``mask_frame`` for a DataFrame), as PIPL expects of a community team's tools.
``find_pii`` lists what is left, so tests can scan rendered reports.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import pandas as pd

#: What each kind of detail is replaced with.
MASKS = {
    "id_card": "[身份证号已隐藏]",
    "email": "[邮箱已隐藏]",
    "wechat": "[微信号已隐藏]",
    "phone": "[手机号已隐藏]",
}

# 18-digit resident ID: 6-digit area, birth date 18xx-20xx, 3-digit order, check digit.
# ``(?<!\d\.)``: digits after a decimal point are a fraction (0.2014093809…), not an ID.
_ID_CARD = re.compile(
    r"(?<![0-9A-Za-z])(?<!\d\.)[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[0-9Xx](?![0-9A-Za-z])"
)
# Old 15-digit IDs: area, yymmdd, 3-digit order.
_ID_CARD_15 = re.compile(
    r"(?<![0-9A-Za-z])(?<!\d\.)[1-9]\d{5}\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}(?![0-9A-Za-z])"
)
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+\s*(?:@|＠)\s*[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
# Mobile numbers: optional +86/0086, 11 digits starting 13-19, with optional spaces or dashes
# in the usual 3-4-4 grouping; full-width digits are normalised before matching.
_PHONE = re.compile(
    r"(?<![0-9])(?<!\d\.)(?:(?:\+|00)?86[\s\-]?)?1[3-9]\d[\s\-]?\d{4}[\s\-]?\d{4}(?![0-9])"
)
# A WeChat id only counts as one next to a word that announces it ("微信", "wx", "加v", …):
# ids are 6-20 characters, start with a letter, then letters, digits, "_" or "-".
_WECHAT = re.compile(
    r"(?P<cue>(?:微信号?|威信|薇信|魏信|维信|V信|v信|vx|VX|Vx|vX|wx|WX|Wx|weixin|WeChat|wechat|Wechat|WECHAT|"
    r"加[vVＶｖ]|\+[vV]|[vV]x号?)\s*(?:号|id|ID)?\s*[:：是为]?\s*)"
    r"(?P<id>[A-Za-z][A-Za-z0-9_\-]{5,19})(?![A-Za-z0-9_\-])"
)
_FULLWIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")


def _normalise(text: str) -> str:
    return text.translate(_FULLWIDTH_DIGITS)


def mask_pii(text):
    """Return ``text`` with phone numbers, WeChat ids, e-mails and ID-card numbers masked.

    Non-strings (None, NaN) are returned unchanged, so the function can be mapped over
    any column.

    >>> mask_pii("加微信 abc_12345 或打 138-1234-5678")
    '加微信 [微信号已隐藏] 或打 [手机号已隐藏]'
    """
    if not isinstance(text, str) or not text:
        return text
    out = _normalise(text)
    # Order matters: an ID number contains phone-like digit runs, an e-mail may hold a WeChat-like id.
    out = _ID_CARD.sub(MASKS["id_card"], out)
    out = _ID_CARD_15.sub(MASKS["id_card"], out)
    out = _EMAIL.sub(MASKS["email"], out)
    out = _WECHAT.sub(lambda m: m.group("cue") + MASKS["wechat"], out)
    out = _PHONE.sub(MASKS["phone"], out)
    return out


def find_pii(text: str) -> list[tuple[str, str]]:
    """List the personal details still present in ``text`` as (kind, matched text) pairs."""
    if not isinstance(text, str) or not text:
        return []
    text = _normalise(text)
    found: list[tuple[str, str]] = []
    for kind, pattern in (("id_card", _ID_CARD), ("id_card", _ID_CARD_15), ("email", _EMAIL), ("phone", _PHONE)):
        found += [(kind, m.group(0)) for m in pattern.finditer(text)]
    found += [("wechat", m.group("id")) for m in _WECHAT.finditer(text)]
    return found


def mask_frame(df: pd.DataFrame, columns: Iterable[str] | None = None) -> pd.DataFrame:
    """A copy of ``df`` with ``mask_pii`` applied to the given text columns
    (default: every column of string or object dtype)."""
    out = df.copy()
    if columns is None:
        columns = [c for c in out.columns
                   if pd.api.types.is_string_dtype(out[c]) or pd.api.types.is_object_dtype(out[c])]
    for col in columns:
        if col not in out.columns:
            raise KeyError(f"mask_frame: column {col!r} is not in the frame; columns are {list(out.columns)}")
        out[col] = out[col].map(mask_pii)
    return out
