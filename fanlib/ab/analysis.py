"""The A/B report in one call: ``analyse(fd, params)`` runs every section and returns what the page shows.

Sections that may fail on their own data (the planner, the segments, the daily monitoring and the
difference-in-differences) run inside the report's one section guard: a failure is recorded in
``result.sections`` and ``result.failures`` (its banner text and level, shown by the notebook where the
section stands), and the summary is marked partial. The sections themselves are in ``fanlib.ab.sections``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from fanlib.ab import narrative, sections
from fanlib.ab.result import ABResult
from fanlib.ab.summary import fill_summary
from fanlib.present.escape import md_code, md_text
from fanlib.present.i18n import fmt_date, messages
from fanlib.present.notebook import Sections, Summary

REPORT = "02_ab_campaign"


@contextlib.contextmanager
def _section(result: ABResult, title: str) -> Iterator[None]:
    """The report's section guard, its banner held back for the notebook to show where the section stands."""
    from IPython.utils.capture import capture_output

    with capture_output(stdout=False, stderr=False, display=True), result.sections.guard(title):
        yield
    if title in result.sections.failed:
        text = result.sections.failed[title]
        level = "danger" if text == result.sections.common("section_error", section=title) else "warning"
        result.failures[title] = (text, level)


def analyse(fd: Any, params: Mapping[str, Any], *, source_error: BaseException | None = None) -> ABResult:
    """Run the A/B report on ``fd`` (None when the source could not be opened: ``source_error`` says why).

    ``params`` holds the parameters of ``notebooks/02_ab_campaign.ipynb`` by name.
    """
    p = dict(params)
    T = messages("ab_campaign", p["lang"])
    result = ABResult(T, Summary(REPORT, lang=p["lang"]), Sections(T))
    summary = result.summary
    if fd is not None:
        try:
            result.source_line = T("source_line", source=md_code(fd.describe_source()), fingerprint=fd.fingerprint())
            # the last activity timestamp, as written before fanlib.data.asof (which gives the day only)
            last = _last_activity(fd, unit_only=bool(p["unit_table"]))
            summary["as_of"] = None if last is None else str(last)
        except Exception as err:  # a broken source is shown, not a traceback
            source_error = err
    if source_error is not None:
        result.source_error = str(source_error)
        summary["status"] = "failed"
        summary["error"] = str(source_error)
    if fd is not None:
        sections.experiments(result, fd, p)
        sections.readout(result, fd, p)
    ro = result.readout
    if ro is not None:
        sections.readout_views(result, p)
        with _section(result, T("h_power")):
            sections.planner(result, p)
    if ro is not None and p["segments"]:
        with _section(result, T("h_segments")):
            sections.segments(result, fd, p)
    if ro is not None and p["sequential"] and (not p["unit_table"] or p["unit_time_column"]):
        with _section(result, T("h_sequential")):
            sections.sequential(result, fd, p)
    if fd is not None and p["did_start"] is not None and p["did_communities"]:
        result.did_setup = T(
            "did_setup",
            start=fmt_date(p["did_start"], T.lang),
            n=len(p["did_communities"]),
            communities=", ".join(md_text(c) for c in p["did_communities"]),
            pre=p["did_pre_weeks"],
            post=p["did_post_weeks"],
        )
        with _section(result, T("h_did")):
            sections.difference_in_differences(result, fd, p)
    if ro is not None:
        result.conclusion = (
            T(
                "concl_verdict",
                decision=narrative.decision_label(ro.verdict.decision, T),
                reason=md_text(narrative.verdict_reason(ro.verdict, T, ro.srm)),
            )
            + "\n\n"
            + md_text(narrative.verdict_sentence(ro.verdict, T, ro.srm))
        )
    fill_summary(summary, T, ro, segments=result.segments, sequential=result.sequential, did_res=result.did_result)
    result.sections.mark(summary)  # a section that could not be produced makes the report partial, naming it
    return result


def _last_activity(fd: Any, *, unit_only: bool) -> Any:
    """The data's last activity time; a source holding only a unit table may have none (None)."""
    try:
        return fd.date_range()[1]
    except Exception:
        if unit_only:
            return None
        raise
