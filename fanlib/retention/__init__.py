"""The retention report (``03_retention``): how well do we keep fans, which fans are leaving, why, and
what each fan is worth.

``analyse(fd, params)`` answers it in one call and returns a :class:`RetentionResult` (what each
section shows, the sections' record and the summary); the notebook only shows it.

Inside, the flow reads from the data to the page:

* queries (engine side): ``activity`` (activity days, start days, the analysis date), ``queries_cohorts``
  (calendar and fixed-length periods), ``segments`` (declared fan columns as segments), ``durations``
  (time to churn and its drivers), ``queries_churn`` and ``churn_features`` (features and labels per
  cut-off; ``churn_encoding`` turns them into model columns), and the purchase histories of ``clv``;
* models and statistics: ``cohorts`` (retention rates), ``survival`` (Kaplan–Meier, log-rank), ``cox``,
  ``churn_models`` and ``churn`` (the out-of-time workflow and the at-risk list), ``clv_models``
  (BG/NBD, Gamma-Gamma) and ``clv``; calibration and gains come from :mod:`fanlib.stats.classification`;
* ``narrative`` (sentences from the figures, words from ``fanlib/present/locales/retention.yaml``),
  ``plots`` (charts), ``summary`` (the summary JSON), ``cohort_matrix`` (the cohort matrix for the summary
  and as CSV/Excel exports), ``views`` (what each section shows), ``result``
  (:class:`RetentionResult`), ``analysis`` (:func:`analyse`: the sections in order) and ``errors``.
"""

from __future__ import annotations

from typing import Any

from .activity import RetentionDataWarning
from .errors import CLVInputError, RetentionDateError, RetentionInputError, SurvivalInputError

#: The public face's names that load the analysis (and scikit-learn, matplotlib) only when first used, so
#: that reading a constant of a query module (the runner's parameter check does) stays light.
_LAZY = {
    "analyse": "analysis",
    "RetentionResult": "result",
    "PARAMETERS": "analysis",
    "SECTIONS": "result",
    "plots": None,
}

__all__ = [
    "analyse",
    "RetentionResult",
    "PARAMETERS",
    "SECTIONS",
    "plots",
    "RetentionInputError",
    "RetentionDateError",
    "SurvivalInputError",
    "CLVInputError",
    "RetentionDataWarning",
]


def __getattr__(name: str) -> Any:
    import importlib

    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(f"{__name__}.{_LAZY[name] or name}")
    return module if _LAZY[name] is None else getattr(module, name)
