"""The data's clock: "now" as a naive timestamp in the data's time zone, like the contract's timestamps.

Contract timestamps are naive wall-clock times in one declared zone (Asia/Shanghai by default), so the
moment a check compares them with ("not in the future") is made naive in the same zone.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any
from zoneinfo import ZoneInfo

from fanlib.data import contract


def local_now(timezone: str = contract.TIMEZONE) -> _dt.datetime:
    """The current time as a naive timestamp in ``timezone``, like the contract's."""
    return _dt.datetime.now(ZoneInfo(timezone)).replace(tzinfo=None, microsecond=0)


def shanghai_now() -> _dt.datetime:
    """The current time as a naive China Standard Time timestamp."""
    return local_now(contract.TIMEZONE)


def as_naive(value: Any, timezone: str = contract.TIMEZONE) -> _dt.datetime:
    """``value`` (None: now) as a naive timestamp in ``timezone``; aware values are converted to it."""
    if value is None:
        return local_now(timezone)
    if isinstance(value, str):
        try:
            value = _dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"now {value!r} is not a date or time like 2025-06-30 or 2025-06-30 12:00:00") from None
    if isinstance(value, _dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(ZoneInfo(timezone)).replace(tzinfo=None)
        return value
    if isinstance(value, _dt.date):
        return _dt.datetime.combine(value, _dt.time())
    if hasattr(value, "to_pydatetime"):
        return as_naive(value.to_pydatetime(), timezone)
    raise TypeError(f"now must be a datetime, date or ISO string, not {type(value).__name__}")
