"""The whole sentiment report in one call: score, aggregate, detect and explain, section by section.

Each section runs inside the one section guard (:class:`fanlib.present.notebook.Sections`): a section
that fails is said in a plain banner and named in the summary, which becomes "partial"; the sections
that need its results say so. A part of a section that the data cannot give (no city tier, no events,
too little history) is not a failure: the result carries its reason, shown where the part would be.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from fanlib.present.i18n import messages
from fanlib.present.notebook import Sections
from fanlib.sentiment import alerts as alerts_mod
from fanlib.sentiment import crisis, drivers, monitor, queries
from fanlib.sentiment.card import Metrics, ModelCard
from fanlib.sentiment.errors import ChurnComparisonError
from fanlib.sentiment.result import SentimentResult
from fanlib.sentiment.summary import build_summary

if TYPE_CHECKING:
    from fanlib.data.tables import FanData
    from fanlib.sentiment.model import SentimentModel

#: The notebook parameters the analysis reads, with the values it takes when one is not given.
DEFAULTS: dict[str, Any] = {
    "lang": "zh",
    "as_of": None,
    "start": None,
    "model_dir": None,
    "negative_threshold": 0.2,
    "freq": "day",
    "baseline_days": 28,
    "alert_thresholds": None,
    "index_window": 28,
    "current_days": 7,
    "churn_days": 30,
    "top_terms": 15,
}


def needs_training(model_dir: str | None) -> bool:
    """Whether the default model must be trained first (about 10 s) before the report can score."""
    from fanlib.sentiment.store import default_model_dir

    return model_dir is None and not (default_model_dir() / "model.json").exists()


def analyse(
    fd: FanData, params: Mapping[str, Any], *, model: SentimentModel | None = None, card: ModelCard | None = None
) -> SentimentResult:
    """The sentiment report for ``fd`` with the notebook's ``params`` (missing ones take ``DEFAULTS``).

    ``as_of`` (default: the last comment's day) closes the analysis window, ``start`` opens it (default:
    the first comment). ``model`` and ``card`` default to the ones in ``model_dir`` (or the default model,
    trained on first use)."""
    from fanlib.sentiment.store import load_card, load_model

    p = {**DEFAULTS, **params}
    if p["freq"] not in ("day", "hour"):
        raise ValueError(f"freq must be 'day' or 'hour' (got {p['freq']!r})")
    model = model or load_model(p["model_dir"])
    card = card if card is not None else load_card(p["model_dir"])
    T = messages("sentiment", p["lang"])
    result = SentimentResult(lang=p["lang"], sections=Sections(T), card=card)
    sections = result.sections

    with sections.guard(T("h_status"), makes=["scored"]):
        _score(fd, model, p, result)
        sections["scored"] = result.scored
    with sections.guard(T("h_index")):
        sections.need("scored")  # the index is drawn from the daily figures the status section made
    with sections.guard(T("h_alerts")):
        _detect(fd, sections.need("scored"), p, result)
    with sections.guard(T("h_breakdown")):
        _break_down(fd, sections.need("scored"), result)
    with sections.guard(T("h_drivers")):
        _explain(fd, sections.need("scored"), p, result)
    with sections.guard(T("h_churn")):
        _link_churn(fd, sections.need("scored"), p, result)
    with sections.guard(T("h_card")):
        if result.scored is not None:
            result.labelled = labelled_check(fd, result.scored)
            if result.labelled is None:
                result.reasons["labelled"] = ("why_no_labels", {})
    if "churn_link" in result.reasons and not fd.has("events"):
        # Orders-only data: the churn comparison needs the fans' activity; the section is named as not given.
        sections.failed.setdefault(T("h_churn"), result.reason("churn_link", T))
    result.summary = build_summary(result, T, as_of=p["as_of"])
    return result


def _score(fd: FanData, model: SentimentModel, p: dict[str, Any], result: SentimentResult) -> None:
    """Score the comments of the window, and the daily and hourly figures every later section reads."""
    scored = queries.score_comments(
        fd, model, negative_threshold=p["negative_threshold"], start=p["start"], end=p["as_of"]
    )
    as_of = pd.Timestamp(p["as_of"]).normalize() if p["as_of"] is not None else scored.last.normalize()
    first = pd.Timestamp(p["start"]).normalize() if p["start"] is not None else scored.first.normalize()
    end_bin = as_of + pd.Timedelta(days=1) - pd.Timedelta(hours=1)
    daily = queries.aggregate(fd, scored, "day", start=first, end=as_of)
    result.daily = monitor.add_baseline_band(daily, "index", window=p["index_window"])
    result.hourly = queries.aggregate(fd, scored, "hour", start=first, end=end_bin)
    result.current = monitor.current_figures(result.daily, p["current_days"])
    result.scored, result.as_of = scored, as_of


def _detect(fd: FanData, scored: queries.ScoredComments, p: dict[str, Any], result: SentimentResult) -> None:
    """Crisis alerts: the detector on the per-channel counts, each alert with its details."""
    freq = p["freq"]
    thresholds = dict(p["alert_thresholds"] or {})
    thresholds.setdefault("season", 24 if freq == "hour" else 1)
    thresholds.setdefault("baseline_bins", p["baseline_days"])
    params = crisis.CrisisParams.from_dict(thresholds)
    counts = queries.channel_counts(fd, scored, freq=freq)
    bins = pd.DatetimeIndex(result.daily["bin"] if freq == "day" else result.hourly["bin"])
    found, detector_bins = crisis.detect(counts, params, bins=bins)
    if found:
        alerts_mod.enrich(fd, scored, found, params, freq=freq, n_drivers=8)
    days = len(result.daily)
    if days < params.min_baseline_bins * params.season // max(params.season, 1) + 1:
        result.reasons["alerts"] = ("why_short_history", {"days": days, "needed": params.min_baseline_bins})
    result.alerts, result.detector_bins, result.params = found, detector_bins, params


def _break_down(fd: FanData, scored: queries.ScoredComments, result: SentimentResult) -> None:
    """Volume, negative share and index by channel, community, content, city tier and fan layer."""
    by_channel = queries.breakdown(fd, scored, "channel")
    by_community = queries.breakdown(fd, scored, "community_id", top=30)
    by_content = queries.breakdown(fd, scored, "content_id", top=30)
    by_tier = by_layer = None
    try:
        by_tier = queries.breakdown(fd, scored, "city_tier")
    except Exception as exc:  # noqa: BLE001 - the fans table or its city_tier may be missing
        result.reasons["by_tier"] = ("why_no_tier", {"error": f"{exc.__class__.__name__}: {exc}"})
    if fd.has("events"):
        by_layer = queries.breakdown(fd, scored, "fan_layer", as_of=result.as_of)
    else:
        result.reasons["by_layer"] = ("why_no_layer_events", {})
    result.by_channel, result.by_community, result.by_content = by_channel, by_community, by_content
    result.by_tier, result.by_layer = by_tier, by_layer


def _explain(fd: FanData, scored: queries.ScoredComments, p: dict[str, Any], result: SentimentResult) -> None:
    """The words behind dissatisfaction: driver terms, example comments, emerging terms, aspects."""
    top = p["top_terms"]
    try:
        negative_drivers = drivers.negative_drivers(fd, scored, top=top)
        examples = drivers.example_comments(fd, scored)
        emerging = drivers.emerging_terms(fd, scored, result.as_of, days=7, top=top)
        aspects = drivers.aspects(fd, scored)
    except Exception as exc:  # noqa: BLE001 - jieba missing or no texts: the section says why
        result.reasons["drivers"] = ("why_no_drivers", {"error": f"{exc.__class__.__name__}: {exc}"})
        return
    result.negative_drivers, result.examples = negative_drivers, examples
    result.emerging, result.aspects = emerging, aspects


def _link_churn(fd: FanData, scored: queries.ScoredComments, p: dict[str, Any], result: SentimentResult) -> None:
    """Whether fans who write negative comments churn more than the other commenters."""
    if not fd.has("events"):
        result.reasons["churn_link"] = ("why_no_churn_events", {})
        return
    try:
        result.churn_link = queries.negative_commenter_churn(fd, scored, result.as_of, churn_days=p["churn_days"])
    except ChurnComparisonError as exc:
        result.reasons["churn_link"] = ("why_churn_compare", exc.fields)


def labelled_check(fd: FanData, scored: queries.ScoredComments) -> pd.DataFrame | None:
    """Accuracy of the model on comments that carry a human label (positive or negative), if any."""
    df = queries.labelled_scores(fd, scored)
    if df.empty or df["label"].nunique() < 2:
        return None
    y = (df["label"] == "positive").astype(int).to_numpy()
    return pd.DataFrame([{"model": "fanlib", **Metrics.of(y, df["p_pos"].to_numpy()).__dict__}])
