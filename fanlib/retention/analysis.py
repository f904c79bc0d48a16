"""The retention report in one call: every section computed inside the section guard, in the order of the
page, and the summary built from the sections that computed.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any

from fanlib.present.notebook import Sections, Summary

from .activity import RetentionDataWarning, analysis_date, effective_basis
from .churn_labels import check_horizon
from .errors import RetentionInputError
from .narrative import catalogue
from .result import SECTIONS, RetentionResult, mark_summary
from .summary import bullet_text, conclusions, retention_summary
from .views import COMPUTE, intro

__all__ = ["PARAMETERS", "analyse"]

#: The notebook's parameters (its parameters cell) that the analysis reads.
PARAMETERS = (
    "lang",
    "currency",
    "summary_path",
    "output_dir",
    "as_of",
    "churn_days",
    "churn_basis",
    "cohort_by",
    "cohort_period",
    "cohort_max_periods",
    "retention_days",
    "curve_days",
    "curve_segments",
    "churn_segments",
    "segment_bins",
    "top_communities",
    "lifecycle_period",
    "landmark_days",
    "horizon_days",
    "active_within_days",
    "churn_population",
    "churn_attributes",
    "train_cutoffs",
    "churn_max_train_rows",
    "at_risk_top",
    "clv_holdout_days",
    "clv_horizon_days",
    "annual_discount_rate",
    "margin",
)


def _parameters(params: Mapping[str, Any]) -> dict[str, Any]:
    missing = [name for name in PARAMETERS if name not in params]
    if missing:
        raise RetentionInputError(f"the retention report needs the parameters {', '.join(missing)}")
    return {name: params[name] for name in PARAMETERS}


def _run(result: RetentionResult, key: str, compute: Callable[[], dict[str, Any]]) -> None:
    """Compute one section inside the section guard; keep its view, or the banner of its failure for the
    place of the section on the page."""
    from IPython.utils.capture import capture_output

    title_key, makes = next((t, m) for k, t, m in SECTIONS if k == key)
    with capture_output(stdout=False, stderr=False, display=True) as shown:
        with result.sections.guard(result.T(title_key), makes=makes):
            result.views[key] = compute()
    result._banners[key] = list(shown.outputs)


def analyse(fd: Any, params: Mapping[str, Any]) -> RetentionResult:
    """The whole retention report for the data ``fd`` with the notebook's ``params``: retention, cohorts,
    lifecycle, survival, Cox drivers, churn prediction and the at-risk list, and lifetime value."""
    p = _parameters(params)
    check_horizon(p["horizon_days"])  # "churn within the next 0 days" would be no prediction at all
    p["churn_basis"] = effective_basis(fd, p["churn_basis"])  # a source without events has orders only
    T = catalogue(p["lang"], p["currency"])
    day = analysis_date(fd, p["as_of"])
    sections = Sections(T)
    result = RetentionResult(
        T, p, day.day, day.data_end, sections, Summary("03_retention", as_of=day.day, currency=T.currency)
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=RetentionDataWarning)  # shown once, in the reader's language
        intro(fd, result)
        for key, compute in COMPUTE.items():
            _run(result, key, lambda compute=compute: compute(fd, result))
    result.conclusions = bullet_text(conclusions(sections, T, p["clv_horizon_days"]) or [T("concl_none")])
    summary = retention_summary(
        sections,
        T,
        as_of=result.as_of,
        churn_days=p["churn_days"],
        churn_basis=p["churn_basis"],
        cohort_by=p["cohort_by"],
        landmark_days=p["landmark_days"],
        horizon_days=p["horizon_days"],
        clv_horizon_days=p["clv_horizon_days"],
        annual_discount_rate=p["annual_discount_rate"],
    )
    result.summary = mark_summary(summary, sections, T)
    return result
