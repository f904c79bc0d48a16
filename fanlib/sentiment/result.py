"""What the sentiment report shows, as one value: :class:`SentimentResult`.

``fanlib.sentiment.analyse`` fills it section by section; a section that could not be computed leaves
its fields empty (None) and is named in ``sections.failed``, and a part of a section that the data
cannot give (no city tier, no events, too little history) carries its reason in ``reasons``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from fanlib.present.i18n import Messages, messages
from fanlib.present.notebook import Sections, Summary
from fanlib.sentiment.card import ModelCard
from fanlib.sentiment.crisis import Alert, CrisisParams
from fanlib.sentiment.queries import ScoredComments
from fanlib.sentiment.stats import TwoRates

#: The parts a report can lack, in the order the summary's ``unavailable`` lists them.
UNAVAILABLE_ORDER = ("by_tier", "by_layer", "alerts", "drivers", "churn_link", "labelled")


@dataclass
class SentimentResult:
    """Everything the sentiment report shows, plus its section record and its built summary."""

    lang: str
    sections: Sections
    card: ModelCard | None = None
    as_of: pd.Timestamp | None = None
    scored: ScoredComments | None = None
    daily: pd.DataFrame | None = None
    hourly: pd.DataFrame | None = None
    current: dict | None = None
    by_channel: pd.DataFrame | None = None
    by_community: pd.DataFrame | None = None
    by_content: pd.DataFrame | None = None
    by_tier: pd.DataFrame | None = None
    by_layer: pd.DataFrame | None = None
    alerts: list[Alert] = field(default_factory=list)
    detector_bins: pd.DataFrame | None = None
    params: CrisisParams | None = None
    negative_drivers: pd.DataFrame | None = None
    emerging: pd.DataFrame | None = None
    aspects: pd.DataFrame | None = None
    examples: pd.DataFrame | None = None  # the most repeated negative comments, masked
    churn_link: TwoRates | None = None
    labelled: pd.DataFrame | None = None
    #: part -> (message key, its fields): why that part of a section is not shown
    reasons: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    summary: Summary | None = None

    @property
    def scored_ok(self) -> bool:
        """Whether the comments could be scored (every section but the model card needs them)."""
        return self.scored is not None

    @property
    def open_alerts(self) -> list[Alert]:
        return [a for a in self.alerts if a.open]

    def reason(self, part: str, T: Messages) -> str:
        """Why ``part`` (a key of ``reasons``) is not shown, in the language of ``T``."""
        key, fields = self.reasons[part]
        return T(key, **fields)

    @property
    def unavailable(self) -> dict[str, str]:
        """The summary's record of the missing parts, in English whatever the report's language."""
        en = messages("sentiment", "en")
        return {part: self.reason(part, en) for part in UNAVAILABLE_ORDER if part in self.reasons}
