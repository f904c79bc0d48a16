"""The executive overview's exception classes."""

from __future__ import annotations

from fanlib.errors import InputError


class TargetsError(InputError, ValueError):
    """The targets file (``params/targets.yaml``) lacks a field or names a KPI it does not declare."""


class EarlyWarningError(InputError, ValueError):
    """A KPI series is too short or too small for its daily moves to be judged."""
