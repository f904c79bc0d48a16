"""The profiling report's exception classes: data that cannot support a section, rules that cannot be used."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fanlib.errors import InputError


class ProfilingDataError(InputError, ValueError):
    """The data cannot support a profiling section (empty window, no members, no spend …).

    The message says which table, column and check failed. ``key`` and ``fields`` let a report say
    the same in its own language (message ``err_<key>`` of the ``fan_profiling`` catalogue).
    """

    def __init__(self, message: str, key: str | None = None, **fields: Any):
        super().__init__(message)
        self.key, self.fields = key, fields

    def text(self, T: Any) -> str:
        """The message in the language of ``T`` (a :class:`fanlib.present.i18n.Messages`)."""
        if self.key and f"err_{self.key}" in T:
            return T(f"err_{self.key}", **formatted(self.fields, T.lang))
        return str(self)


class ProfilingRulesError(InputError, ValueError):
    """A rule of the fan classes or layers (a share, a window length) is outside what it can be."""


def formatted(fields: dict, lang: str) -> dict:
    """Message fields as the report shows them: periods, dates, counts and shares in ``lang``'s format."""
    from fanlib.present.i18n import fmt_date, fmt_number, fmt_period

    out = {}
    for name, v in fields.items():
        if isinstance(v, tuple) and len(v) == 2:
            out[name] = fmt_period(*v, lang=lang)
        elif isinstance(v, (dt.date, dt.datetime)):
            out[name] = fmt_date(v, lang)
        elif isinstance(v, bool) or isinstance(v, str):
            out[name] = v
        elif isinstance(v, int):
            out[name] = fmt_number(v, "count", lang)
        elif isinstance(v, float):
            out[name] = fmt_number(v, "pct", lang)
        else:
            out[name] = str(v)
    return out
