"""The sentiment report's refusals: input it cannot read, each also the built-in error it replaced.

All derive from :class:`fanlib.errors.InputError` (a command-line run ends with exit code 2), so the
section guard shows their message as the plain sentence it is, and ``except ValueError`` /
``except LookupError`` handlers written before keep working.
"""

from __future__ import annotations

from fanlib.errors import InputError


class NoCommentsError(InputError, LookupError):
    """The data source has no comments (or none in the window): the sentiment sections are disabled."""


class CorpusError(InputError, ValueError):
    """A labelled data file cannot be used; the message says where and why."""


class ModelFormatError(InputError, ValueError):
    """A saved model folder cannot be read by this version of fanlib."""


class ChurnComparisonError(InputError, ValueError):
    """No commenter in one of the two groups (negative commenters, the others) whose churn to compare."""

    def __init__(self, negative: int, other: int, cutoff: str):
        self.fields = {"negative": negative, "other": other, "cutoff": cutoff}
        super().__init__(
            f"cannot compare churn: {negative} negative commenters and {other} other commenters before {cutoff}"
        )


__all__ = ["ChurnComparisonError", "CorpusError", "ModelFormatError", "NoCommentsError"]
