"""The sentiment report's summary (``04_sentiment.summary.json``): headline figures, then the figures of
each section; the same on every run on the same data (the scoring time goes to the manifest)."""

from __future__ import annotations

from datetime import date
from typing import Any

from fanlib.present.i18n import Messages
from fanlib.present.notebook import Summary
from fanlib.sentiment.narrative import worst_open
from fanlib.sentiment.result import SentimentResult

REPORT = "04_sentiment"


def summary_sections(result: SentimentResult) -> dict[str, Any]:
    """The report-specific sections of the summary, for a result whose comments were scored (a part
    whose section failed is None)."""
    card, alerts_ok = result.card, result.params is not None
    return {
        "current": result.current,
        "alerts": [a.as_dict() for a in result.alerts] if alerts_ok else None,
        "open_alerts": (
            [
                {"level": a.level, "start": str(a.start), "channels": a.channels, "drivers": a.drivers}
                for a in result.open_alerts
            ]
            if alerts_ok
            else None
        ),
        "top_negative_drivers": (
            result.negative_drivers["term"].tolist() if result.negative_drivers is not None else []
        ),
        "emerging_terms": result.emerging["term"].tolist() if result.emerging is not None else [],
        "aspects": result.aspects if result.aspects is not None else [],
        "model_card": card.to_dict() if card is not None else None,
        "churn_link": result.churn_link.as_dict() if result.churn_link is not None else None,
        "detector": result.params.as_dict() if alerts_ok else None,
        "negative_threshold": result.scored.negative_threshold,
        "scoring": {"comments": result.scored.n_comments, "distinct_texts": result.scored.n_texts},
        "unavailable": result.unavailable,
    }


def build_summary(result: SentimentResult, T: Messages, as_of: date | None = None) -> Summary:
    """The summary of ``result``, partial and naming them when sections failed. ``as_of``: the analysis
    day asked for, written when the comments could not be scored (else the day they were scored up to)."""
    s = Summary(REPORT, as_of=result.as_of.date() if result.as_of is not None else as_of, lang=result.lang)
    result.sections.mark(s)
    card = result.card
    if result.scored is None:  # no comments to read: only the model card can be reported
        if card is not None:
            s["model_card"] = card.to_dict()
        return s
    cur = result.current
    if cur is not None:
        s.headline("sentiment_index", cur["index"], label=T("hl_index"), unit="number")
        s.headline("negative_share", cur["neg_share"], label=T("hl_neg_share"), unit="pct", higher_is_better=False)
    if result.params is not None:
        worst = worst_open(result.alerts)
        s.headline(
            "open_alerts",
            len(result.open_alerts),
            label=T("hl_open_alerts"),
            unit="count",
            good=not result.open_alerts,
            note=T("hl_highest", level=worst.level) if worst else None,
        )
        s.headline("alerts_in_period", len(result.alerts), label=T("hl_alerts"), unit="count")
    if card is not None:
        s.headline("model_accuracy", card.held_out["accuracy"], label=T("hl_accuracy"), unit="pct")
    s.update(summary_sections(result))
    s.timing("scoring_s", result.scored.seconds)
    return s
