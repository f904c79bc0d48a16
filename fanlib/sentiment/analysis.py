"""The whole sentiment report in one call: ``analyse(fd, …) -> SentimentReport``.

The notebook shows what this returns; each section that cannot be computed (no comments,
no events for the churn link, too little history) carries the reason instead of a result.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from fanlib.present.privacy import mask_frame
from fanlib.sentiment import alerts as alerts_mod
from fanlib.sentiment import churn, crisis, drivers, monitor
from fanlib.sentiment.card import ModelCard
from fanlib.sentiment.stats import TwoRates


@dataclass
class SentimentReport:
    """Everything the sentiment report shows. Missing sections hold None and a reason in ``unavailable``."""

    as_of: pd.Timestamp
    scored: monitor.ScoredComments
    card: ModelCard | None
    daily: pd.DataFrame
    hourly: pd.DataFrame
    by_channel: pd.DataFrame
    by_community: pd.DataFrame
    by_content: pd.DataFrame
    by_tier: pd.DataFrame | None
    by_layer: pd.DataFrame | None
    alerts: list
    detector_bins: pd.DataFrame
    params: crisis.CrisisParams
    current: dict
    negative_drivers: pd.DataFrame | None
    emerging: pd.DataFrame | None
    aspects: pd.DataFrame | None
    churn_link: TwoRates | None
    labelled: pd.DataFrame | None = None
    examples: pd.DataFrame | None = None  # the most repeated negative comments, masked
    unavailable: dict = field(default_factory=dict)

    @property
    def open_alerts(self) -> list:
        return [a for a in self.alerts if a.open]

    def actions(self, messages) -> list[str]:
        """What to do now, for the most severe open alert (empty when none is open)."""
        from fanlib.sentiment.narrative import what_to_do

        return what_to_do(self.alerts, messages)


def analyse(
    fd,
    as_of=None,
    model=None,
    card: ModelCard | None = None,
    negative_threshold: float = 0.2,
    freq: str = "day",
    baseline_days: int = 28,
    alert_thresholds: dict | None = None,
    index_window: int = 28,
    churn_days: int = 30,
    current_days: int = 7,
    top_terms: int = 15,
    start=None,
) -> SentimentReport:
    """Score, aggregate, detect and explain. ``as_of`` (default: the last comment's day) closes
    the analysis window; ``start`` opens it (default: the first comment)."""
    from fanlib.sentiment.store import load_model

    model = model or load_model()
    if freq not in ("day", "hour"):
        raise ValueError(f"freq must be 'day' or 'hour' (got {freq!r})")
    scored = monitor.score_comments(fd, model, negative_threshold=negative_threshold, start=start, end=as_of)
    as_of = pd.Timestamp(as_of).normalize() if as_of is not None else scored.last.normalize()
    first = pd.Timestamp(start).normalize() if start is not None else scored.first.normalize()
    end_bin = as_of + pd.Timedelta(days=1) - pd.Timedelta(hours=1)
    unavailable: dict[str, str] = {}

    daily = monitor.aggregate(fd, scored, "day", start=first, end=as_of)
    daily = monitor.add_baseline_band(daily, "index", window=index_window)
    hourly = monitor.aggregate(fd, scored, "hour", start=first, end=end_bin)
    by_channel = monitor.breakdown(fd, scored, "channel")
    by_community = monitor.breakdown(fd, scored, "community_id", top=30)
    by_content = monitor.breakdown(fd, scored, "content_id", top=30)
    by_tier = None
    try:
        by_tier = monitor.breakdown(fd, scored, "city_tier")
    except Exception as exc:  # the fans table or its city_tier may be missing
        unavailable["by_tier"] = f"no fan city tier to split by ({exc.__class__.__name__}: {exc})"
    by_layer = None
    if fd.has("events"):
        by_layer = monitor.breakdown(fd, scored, "fan_layer", as_of=as_of)
    else:
        unavailable["by_layer"] = "no events table: fan layers cannot be assigned"

    thresholds = dict(alert_thresholds or {})
    season = 24 if freq == "hour" else 1
    thresholds.setdefault("season", season)
    thresholds.setdefault("baseline_bins", baseline_days)
    params = crisis.CrisisParams.from_dict(thresholds)
    counts = monitor.channel_counts(fd, scored, freq=freq)
    bins = pd.DatetimeIndex(daily["bin"] if freq == "day" else hourly["bin"])
    found, detector_bins = crisis.detect(counts, params, bins=bins)
    if found:
        alerts_mod.enrich(fd, scored, found, params, freq=freq, n_drivers=8)
    if len(daily) < params.min_baseline_bins * params.season // max(params.season, 1) + 1:
        unavailable["alerts"] = (
            f"only {len(daily)} days of comments: the detector needs at least "
            f"{params.min_baseline_bins} days of baseline"
        )

    neg_drivers = emerging = aspects = examples = None
    try:
        neg_drivers = drivers.negative_drivers(fd, scored, top=top_terms)
        examples = drivers.example_comments(fd, scored)
        emerging = drivers.emerging_terms(fd, scored, as_of, days=7, top=top_terms)
        aspects = drivers.aspects(fd, scored)
    except Exception as exc:  # jieba missing or no texts
        unavailable["drivers"] = f"driver terms could not be computed ({exc.__class__.__name__}: {exc})"

    churn_link = None
    if fd.has("events"):
        try:
            churn_link = churn.negative_commenter_churn(fd, scored, as_of, churn_days=churn_days)
        except ValueError as exc:
            unavailable["churn_link"] = str(exc)
    else:
        unavailable["churn_link"] = "no events table: churn cannot be observed"

    labelled = labelled_check(fd, scored, model)
    if labelled is None:
        unavailable["labelled"] = "no comment carries a human label (comments.label)"
    return SentimentReport(
        as_of=as_of,
        scored=scored,
        card=card,
        daily=daily,
        hourly=hourly,
        by_channel=by_channel,
        by_community=by_community,
        by_content=by_content,
        by_tier=by_tier,
        by_layer=by_layer,
        alerts=found,
        detector_bins=detector_bins,
        params=params,
        current=monitor.current_figures(daily, current_days),
        negative_drivers=neg_drivers,
        emerging=emerging,
        aspects=aspects,
        churn_link=churn_link,
        labelled=labelled,
        examples=examples,
        unavailable=unavailable,
    )


def labelled_check(fd, scored, model, compare_snownlp: int = 0) -> pd.DataFrame | None:
    """Accuracy of the model on comments that carry a human label (positive or negative), if any."""
    from fanlib.sentiment.card import Metrics, snownlp_proba

    t = scored.table
    lab = t.filter(t.label.isin(["positive", "negative"]) & (t.has_text == 1))
    df = fd.execute(lab.group_by(["text", "label"]).aggregate(p_pos=lab.p_pos.max()), label="sentiment:labelled")
    if df.empty or df["label"].nunique() < 2:
        return None
    y = (df["label"] == "positive").astype(int).to_numpy()
    rows = [{"model": "fanlib", **Metrics.of(y, df["p_pos"].to_numpy()).__dict__}]
    if compare_snownlp:
        sub = df.sample(min(compare_snownlp, len(df)), random_state=0)
        ys = (sub["label"] == "positive").astype(int).to_numpy()
        rows.append({"model": "fanlib (same subsample)", **Metrics.of(ys, sub["p_pos"].to_numpy()).__dict__})
        rows.append(
            {"model": "snownlp (same subsample)", **Metrics.of(ys, snownlp_proba(sub["text"].tolist())).__dict__}
        )
    return pd.DataFrame(rows)


def alerts_table(report: SentimentReport, sep: str = "、") -> pd.DataFrame:
    """One row per alert with its details, masked: ready to show or export (lists joined by ``sep``)."""
    rows = []
    for a in report.alerts:
        rows.append(
            {
                "level": a.level,
                "start": a.start,
                "end": a.end,
                "open": a.open,
                "negatives": a.negatives,
                "expected": round(a.expected_negatives, 1),
                "share": a.share,
                "baseline_share": a.baseline_share,
                "evidence_z": a.evidence_z,
                "channels": sep.join(a.channels),
                "communities": sep.join(c["community_id"] for c in a.communities),
                "drivers": sep.join(a.drivers),
                "examples": " | ".join(a.examples),
            }
        )
    cols = [
        "level",
        "start",
        "end",
        "open",
        "negatives",
        "expected",
        "share",
        "baseline_share",
        "evidence_z",
        "channels",
        "communities",
        "drivers",
        "examples",
    ]
    return mask_frame(pd.DataFrame(rows, columns=cols), ["drivers", "examples"])


def summary_sections(report: SentimentReport) -> dict:
    """The report-specific sections of ``04_sentiment.summary.json``: figures only, the same on every run
    on the same data (the scoring time goes to the manifest through ``Summary.timing``)."""
    card = report.card
    return {
        "current": report.current,
        "alerts": [a.as_dict() for a in report.alerts],
        "open_alerts": [
            {"level": a.level, "start": str(a.start), "channels": a.channels, "drivers": a.drivers}
            for a in report.open_alerts
        ],
        "top_negative_drivers": (
            report.negative_drivers["term"].tolist() if report.negative_drivers is not None else []
        ),
        "emerging_terms": report.emerging["term"].tolist() if report.emerging is not None else [],
        "aspects": report.aspects if report.aspects is not None else [],
        "model_card": card.to_dict() if card is not None else None,
        "churn_link": report.churn_link.as_dict() if report.churn_link is not None else None,
        "detector": report.params.as_dict(),
        "negative_threshold": report.scored.negative_threshold,
        "scoring": {"comments": report.scored.n_comments, "distinct_texts": report.scored.n_texts},
        "unavailable": report.unavailable,
    }
