"""What the A/B report shows, as ``analyse`` returns it: the result, one view per treatment's segments and
one per treatment's daily monitoring.

Charts are drawn when the notebook asks for them (``result.lifts_chart()``, ``view.chart()`` …), so each
shows where it belongs on the page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from fanlib.ab import did, plots
from fanlib.ab.comparison import Readout
from fanlib.ab.tables import Table
from fanlib.present.i18n import Messages
from fanlib.present.notebook import Sections, Summary


@dataclass
class SegmentView:
    """One treatment's segment analysis as the page shows it."""

    variant: str
    segments: pd.DataFrame  # the effect per segment, as computed
    tests: pd.DataFrame  # the heterogeneity test per dimension, as computed
    effects: Table
    interactions: Table
    sentence: str
    chart_title: str
    unit: str
    T: Messages

    def chart(self) -> Any:
        """Draw the forest chart of the segment effects (None when no segment has an interval)."""
        return plots.forest_segments(self.segments, T=self.T, unit=self.unit, title=self.chart_title)


@dataclass
class SequentialView:
    """One treatment's peeking-safe daily monitoring against control, as the page shows it."""

    variant: str
    table: pd.DataFrame  # one row per look: estimate, naive and always-valid intervals and p-values
    chart_title: str  # names the metric and the treatment shown
    percent: bool
    sentence: str
    T: Messages

    def chart(self) -> Any:
        """Draw the daily monitoring chart: cumulative estimate, naive and always-valid intervals."""
        return plots.sequential_chart(self.table, T=self.T, percent=self.percent, title=self.chart_title)


@dataclass
class ABResult:
    """Everything the A/B report shows, in the report's language, with its summary and section record."""

    T: Messages
    summary: Summary
    sections: Sections
    source_line: str | None = None  # where the data came from (Markdown)
    source_error: str | None = None  # the data source could not be used: why
    experiments: Table | None = None  # the split check of every experiment
    experiment_banners: list[str] = field(default_factory=list)  # one per failing experiment
    readout: Readout | None = None
    units: Any = None  # the readout's one-row-per-fan expression, in the engine
    readout_error: str | None = None  # the readout could not be computed: why, in the report's language
    readout_line: str = ""
    srm_banner: tuple[str, str] | None = None  # (text, level)
    verdict_banner: tuple[str, str] | None = None
    note_banners: list[str] = field(default_factory=list)
    variants: Table | None = None
    lifts: Table | None = None
    lift_sentences: str = ""
    cuped: Table | None = None
    guardrails: Table | None = None
    guardrail_banners: list[tuple[str, str]] = field(default_factory=list)
    guardrails_absent: str = ""  # guardrails were set but none could be read out: why (else: none were set)
    power: Table | None = None
    planner: Table | None = None
    segments: list[SegmentView] = field(default_factory=list)
    segment_notes: list[str] = field(default_factory=list)  # dimensions left out, and why
    sequential: list[SequentialView] = field(default_factory=list)  # one per treatment, in variant order
    did_setup: str = ""
    did_result: did.DiDResult | None = None
    did_trends: pd.DataFrame | None = None  # mean outcome per week of treated and comparison communities
    did_start: Any = None
    did_sentence: str = ""
    did_caveat: tuple[str, str] | None = None
    conclusion: str = ""
    failures: dict[str, tuple[str, str]] = field(default_factory=dict)  # section title -> (banner text, level)

    def failure(self, title: str) -> tuple[str, str] | None:
        """The banner (text, level) of the section ``title`` if it could not be produced."""
        return self.failures.get(title)

    def lifts_chart(self) -> Any:
        """Draw the forest chart of every relative lift (None when none has an interval)."""
        return plots.forest_lifts(self.readout.lifts, T=self.T)

    def did_trends_chart(self) -> Any:
        """Draw the weekly trends of treated and comparison communities, the start marked."""
        return plots.did_trends_chart(self.did_trends, self.did_start, T=self.T)

    def event_study_chart(self) -> Any:
        """Draw the event-study coefficients by week relative to the start."""
        return plots.event_study_chart(self.did_result.event_study, T=self.T)
