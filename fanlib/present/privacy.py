"""Masking of personal details in free text: mainland mobile numbers, QQ numbers, WeChat ids,
e-mail addresses and Chinese resident identity card numbers.

Every comment a report displays and every export goes through ``mask_pii`` (or
``mask_frame`` for a DataFrame), as PIPL expects of a community team's tools.
``find_pii`` lists what is left, so tests can scan rendered reports.

Fans dodge platform filters by writing details loosely: full-width digits and dashes
(``139－4567－8901``), dots or spaces between digit groups (``139.5678.9012``,
``110101 19900307 1237``), nicknames for WeChat and QQ (``薇：``, ``扣扣：``) and spelled-out
e-mails (``name at 163 dot com``). Matching runs on a same-length normalised copy of the
text, so everything that is not a detail is shown exactly as the fan wrote it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import pandas as pd

#: What each kind of detail is replaced with.
MASKS = {
    "id_card": "[身份证号已隐藏]",
    "email": "[邮箱已隐藏]",
    "wechat": "[微信号已隐藏]",
    "qq": "[QQ号已隐藏]",
    "phone": "[手机号已隐藏]",
}
#: Any mask placeholder, ours or one a platform's export already put in ("[已屏蔽]", "[电话已脱敏]"):
#: keyword counts leave them out, as they say nothing about what fans think.
PLACEHOLDER = re.compile(
    "|".join(re.escape(m) for m in MASKS.values()) + r"|[\[【][^\[\]【】]{0,10}(?:已隐藏|已屏蔽|已脱敏|已打码)[\]】]"
)

# Full-width ASCII (U+FF01-FF5E) to ASCII, dashes and dot-like marks to "-" and ".", ideographic
# space to a space: one character for one, so positions in the copy are positions in the text.
_NORMALISE = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_NORMALISE.update({ord(c): "-" for c in "‐‑‒–—―−﹣﹘"})
_NORMALISE.update({ord(c): "." for c in "。·・•﹒"})
_NORMALISE[0x3000] = " "
_HIDDEN = "\x00"  # fills a found detail in the copy, so later patterns do not see it again

# Digit groups: a detail may be split by up to three spaces, dashes, dots, slashes or underscores.
_GROUP = re.compile(r"\d+(?:[Xx](?![A-Za-z0-9]))?")
_SEP = re.compile(r"[ \t\-./_]{1,3}")
_PHONE = re.compile(r"(?:(?:00|\+)?86)?1[3-9]\d{9}")
_PHONE_PREFIX = re.compile(r"\+$")  # "+86 138…": the plus belongs to the number
# 18-digit resident ID: 6-digit area, birth date 18xx-20xx, 3-digit order, check digit;
# old 15-digit IDs: area, yymmdd, 3-digit order.
_ID_CARD = re.compile(
    r"[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[0-9Xx]"
    r"|[1-9]\d{5}\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}"
)
_MAX_GROUPS = {"id_card": 6, "phone": 4}  # a phone: +86, then 3-4-4 at most

_AT = r"(?:\s*(?:@|\(at\)|\[at\]|\{at\}|<at>|艾特)\s*|\s+at\s+)"
_DOT = r"(?:\.|\s*(?:\(dot\)|\[dot\]|\{dot\}|<dot>|点)\s*|\s+dot\s+)"
_EMAIL = re.compile(
    rf"[A-Za-z0-9._%+\-]+{_AT}[A-Za-z0-9\-]+(?:{_DOT}[A-Za-z0-9\-]+)*{_DOT}[A-Za-z]{{2,}}(?![A-Za-z])", re.IGNORECASE
)

# A WeChat or QQ id only counts as one next to a word that announces it. Single-character
# nicknames (薇, v, 威, q …) only with a colon after them or 加 before them.
_WX_WORDS = r"微信号?|威信|薇信|魏信|维信|徽信|卫星号|v信|vx号?|wx号?|weixin|wechat|绿泡泡"
_WX_CUE = (
    rf"(?:(?:{_WX_WORDS})\s*(?:号|id)?\s*(?:[:=是为]\s*)?"
    rf"|加\s*(?:[vw薇威微维]|{_WX_WORDS})\s*(?:[:=]\s*)?|[vw薇威微维]\s*[:=]\s*)"
)
# WeChat ids are 6-20 characters starting with a letter; after a colon a number is taken as an id too.
_WECHAT = re.compile(
    rf"(?<![A-Za-z0-9_])(?P<cue>{_WX_CUE})(?P<id>[A-Za-z][A-Za-z0-9_\-]{{5,19}}|[1-9]\d{{4,11}})"
    r"(?![A-Za-z0-9_\-])",
    re.IGNORECASE,
)
_QQ = re.compile(
    r"(?<![A-Za-z0-9_])(?P<cue>(?:q\s?q|扣扣|企鹅|球球|加\s*q)\s*(?:号码?|群)?\s*(?:[:=是为]\s*)?"
    r"|q\s*(?:号码?\s*)?[:=]\s*|q号\s*)(?P<id>[1-9](?:[ \-.]?\d){4,11})(?![0-9])",
    re.IGNORECASE,
)
_ANNOUNCED = re.compile(r"[:=是为]\s*$")


def _normalise(text: str) -> str:
    return text.translate(_NORMALISE)


def _digit_details(norm: str) -> list[tuple[int, int, str]]:
    """Phones and ID numbers written as one run of digits or as a few groups with separators."""
    groups = list(_GROUP.finditer(norm))
    found: list[tuple[int, int, str]] = []
    i = 0
    while i < len(groups):
        hit = None
        for kind in ("id_card", "phone"):
            digits, seps = "", []
            for j in range(i, min(i + _MAX_GROUPS[kind], len(groups))):
                if j > i:
                    seps.append(norm[groups[j - 1].end() : groups[j].start()])
                    if not _SEP.fullmatch(seps[-1]):
                        break
                digits += groups[j].group(0)
                pattern = _ID_CARD if kind == "id_card" else _PHONE
                # One dot between two runs of digits is a decimal number (99.3837331210744), and digits
                # followed by ".<digit>" are its integer part: neither is a detail.
                decimal = seps == ["."] or re.match(r"\.\d", norm[groups[j].end() : groups[j].end() + 2])
                if pattern.fullmatch(digits) and not (kind == "phone" and digits[-1] in "Xx") and not decimal:
                    hit = (j, kind)
                    break
            if hit:
                break
        start = groups[i].start()
        # Digits right after "<digit>." are a decimal fraction (0.13812345678), not a detail.
        if hit and not re.search(r"\d\.$", norm[:start]):
            j, kind = hit
            if kind == "phone" and _PHONE_PREFIX.search(norm[:start]):
                start -= 1
            found.append((start, groups[j].end(), kind))
            i = j + 1
        else:
            i += 1
    return found


def _spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, kind) of every personal detail in ``text``, not overlapping, in text order."""
    norm = _normalise(text)
    spans: list[tuple[int, int, str]] = []

    def take(start: int, end: int, kind: str) -> None:
        nonlocal norm
        spans.append((start, end, kind))
        norm = norm[:start] + _HIDDEN * (end - start) + norm[end:]

    # Order matters: an e-mail may hold a WeChat-like or QQ-like part, an ID a phone-like run.
    for m in _EMAIL.finditer(norm):
        take(*m.span(), "email")
    for start, end, kind in _digit_details(norm):
        take(start, end, kind)
    for m in _WECHAT.finditer(norm):
        if m.group("id")[0].isdigit() and not _ANNOUNCED.search(m.group("cue")):
            continue  # "微信 20251111": a date, not an id
        take(*m.span("id"), "wechat")
    for m in _QQ.finditer(norm):
        take(*m.span("id"), "qq")
    return sorted(spans)


def mask_pii(text: Any) -> Any:
    """Return ``text`` with phone numbers, QQ numbers, WeChat ids, e-mails and ID-card numbers masked.

    Non-strings (None, NaN) are returned unchanged, so the function can be mapped over
    any column.

    >>> mask_pii("加微信 abc_12345 或打 138－1234－5678")
    '加微信 [微信号已隐藏] 或打 [手机号已隐藏]'
    """
    if not isinstance(text, str) or not text:
        return text
    out, last = [], 0
    for start, end, kind in _spans(text):
        out += [text[last:start], MASKS[kind]]
        last = end
    return "".join(out) + text[last:]


def find_pii(text: str) -> list[tuple[str, str]]:
    """List the personal details still present in ``text`` as (kind, matched text) pairs."""
    if not isinstance(text, str) or not text:
        return []
    return [(kind, text[start:end]) for start, end, kind in _spans(text)]


def mask_frame(df: pd.DataFrame, columns: Iterable[str] | None = None) -> pd.DataFrame:
    """A copy of ``df`` with ``mask_pii`` applied to the given text columns
    (default: every column of string or object dtype)."""
    out = df.copy()
    if columns is None:
        columns = [
            c for c in out.columns if pd.api.types.is_string_dtype(out[c]) or pd.api.types.is_object_dtype(out[c])
        ]
    for col in columns:
        if col not in out.columns:
            raise KeyError(f"mask_frame: column {col!r} is not in the frame; columns are {list(out.columns)}")
        out[col] = out[col].map(mask_pii)
    return out
