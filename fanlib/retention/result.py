"""What the retention report shows, as :func:`fanlib.retention.analyse` returns it: each section's view
(tables, chart inputs, sentences), the sections' record and the summary.

A section that could not be computed has no view; its banner (the section guard's plain-language note) is
kept and shown where the section stands on the page (:meth:`RetentionResult.section`).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fanlib.present.i18n import Messages
from fanlib.present.notebook import Sections, Summary
from fanlib.retention.errors import SectionNotComputed

__all__ = ["SECTIONS", "MAIN_ANSWER", "RetentionResult", "mark_summary"]

#: Each section of the page: its key, the catalogue key of its title, and the results it makes for later
#: sections (and the summary).
SECTIONS = (
    ("day_n", "sec_day_n", ("day_n",)),
    ("cohorts", "sec_cohorts", ("cohort",)),
    ("curves", "sec_curves", ()),
    ("lifecycle", "sec_lifecycle", ()),
    ("survival", "sec_survival_data", ("surv",)),
    ("km", "sec_km", ()),
    ("cox", "sec_cox", ("cox",)),
    ("churn", "sec_churn", ("churn",)),
    ("at_risk", "sec_at_risk", ("at_risk",)),
    ("clv", "sec_clv", ("clv",)),
)

#: The report's main answer: how long fans stay (the survival data) and who is about to leave (the churn
#: models). Without either the report failed; any other section missing makes it partial.
MAIN_ANSWER = ("survival", "churn")


def mark_summary(summary: Summary, sections: Sections, T: Messages) -> Summary:
    """``summary`` partial, naming the sections that could not be produced, or failed when one of them is
    part of the main answer (its reason in the report's words, for the run's manifest and index)."""
    sections.mark(summary)
    titles = dict((k, t) for k, t, _ in SECTIONS)
    missing = [T(titles[key]) for key in MAIN_ANSWER if T(titles[key]) in sections.failed]
    if missing:
        summary["status"] = "failed"
        summary["reason"] = T("main_answer_missing", sections=T("list_sep").join(missing))
    return summary


@dataclass
class RetentionResult:
    """What the retention report shows, section by section, with the sections' record and the summary.

    ``views[<section>]`` holds what one section shows (tables, chart inputs, sentences, banners in
    ``notes``); ``headings`` the sections' headings; ``sections`` the guard's record (its dict holds the
    results later sections and the summary use: day_n, cohort, cohort_files, curves, lifecycle, surv, logrank, cox, ph,
    references, churn, at_risk, at_risk_files, clv); ``summary`` the report's summary, partial when a
    section failed.
    """

    T: Messages
    params: dict[str, Any]
    as_of: _dt.date
    data_end: _dt.date
    sections: Sections
    summary: Summary
    intro: str = ""
    notes: list[tuple[str, str]] = field(default_factory=list)
    headings: dict[str, str] = field(default_factory=dict)
    views: dict[str, dict[str, Any]] = field(default_factory=dict)
    conclusions: str = ""
    _banners: dict[str, list[Any]] = field(default_factory=dict, repr=False)

    @property
    def failed(self) -> dict[str, str]:
        """Section title → what went wrong, in plain words (the sections that could not be produced)."""
        return self.sections.failed

    def title(self, key: str) -> str:
        """The title of section ``key`` in the reader's language."""
        return self.T(dict((k, t) for k, t, _ in SECTIONS)[key])

    def need(self, key: str) -> dict[str, Any]:
        """What section ``key`` shows; inside :meth:`section`, a section that was not computed ends here."""
        if key not in self.views:
            raise SectionNotComputed(key)
        return self.views[key]

    @contextlib.contextmanager
    def section(self, key: str) -> Iterator[RetentionResult]:
        """Show section ``key``: first the banner of its failure, if it failed, then the body (which starts
        with :meth:`need`) inside the section guard, so a fault while drawing is recorded too."""
        for output in self._banners.get(key, ()):
            output.display()
        with self.sections.guard(self.title(key)):
            try:
                yield self
            except SectionNotComputed:
                pass

    def write_summary(self) -> Path:
        """Write the summary JSON (partial, naming them, when sections failed, also while being shown;
        failed when the main answer could not be given)."""
        mark_summary(self.summary, self.sections, self.T)
        return self.summary.write(self.params["summary_path"])
