"""The retention report's own exceptions.

Input problems (a parameter out of range, data that cannot answer a question) are
:class:`fanlib.errors.InputError` and, as before, ``ValueError``: the section guard shows their
message to readers as written, and the command line ends with the input exit code.
"""

from __future__ import annotations

from fanlib.data.asof import AnalysisDateError
from fanlib.errors import FanlibError, InputError

__all__ = ["RetentionInputError", "RetentionDateError", "SurvivalInputError", "CLVInputError"]


class RetentionInputError(InputError, ValueError):
    """Input the retention analyses cannot use; the message says what and how to fix it."""


class RetentionDateError(RetentionInputError, AnalysisDateError):
    """There is no analysis date for the retention report: no activity at all, or the date asked for is
    after the data ends (the shared :class:`fanlib.data.asof.AnalysisDateError`, in this report's words)."""


class SurvivalInputError(InputError, ValueError):
    """Durations/events that a survival model cannot use, with the reason."""


class CLVInputError(InputError, ValueError):
    """Purchase histories that the lifetime-value models cannot use, with the reason."""


class SectionNotComputed(FanlibError):
    """Ends a section's display quietly: the section was not computed, and its banner is already shown."""
