"""Caveats attached to a result, as message codes rendered in the report's language.

A caveat is ``(code, fields)``; its text is the catalogue entry ``note_<code>`` of
``fanlib/present/locales/ab_campaign.yaml``. English renderings are kept on the results
(``note`` fields, the summary JSON) so logs and files read the same in every report.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fanlib.present.i18n import Messages

DOMAIN = "ab_campaign"


def describe(codes: Iterable[tuple[str, dict]], messages: Messages | None = None) -> str:
    """'; '-joined texts of ``codes`` in the language of ``messages`` (English if None)."""
    from fanlib.present.i18n import messages as _messages

    T = messages or _messages(DOMAIN, "en")
    return "; ".join(T(f"note_{code}", **dict(fields)) for code, fields in codes)


def note(code: str, **fields: Any) -> tuple[str, dict]:
    return code, fields
