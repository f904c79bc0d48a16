"""The sentiment report's tables as a reader sees them: values named in the reader's language, comment
words masked, and the number formats of each column; plus the exported files.

Every table a page shows or a file exports is masked here (phone numbers, WeChat ids, e-mails, ID-card
numbers), so the notebook only displays.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from fanlib.present.i18n import Messages
from fanlib.present.privacy import mask_frame
from fanlib.sentiment.crisis import Alert
from fanlib.sentiment.narrative import aspect_label, channel_name, join_items, when
from fanlib.sentiment.result import SentimentResult

#: Number formats of the shown tables, by column.
ALERT_FORMATS = {
    "share": "pct",
    "baseline_share": "pct",
    "negatives": "count",
    "expected": "number",
    "evidence_z": "number",
}
BREAKDOWN_FORMATS = {
    "n": "count",
    "n_neg": "count",
    "neg_share": "pct",
    "neg_low": "pct",
    "neg_high": "pct",
    "index": "number",
}
DRIVER_FORMATS = {"in_negative": "count", "in_rest": "count", "delta": "number", "z": "number"}
EXAMPLE_FORMATS = {"comments": "count"}
ASPECT_FORMATS = {
    "share_of_negative": "pct",
    "negative_rate": "pct",
    "negative_rate_low": "pct",
    "negative_rate_high": "pct",
    "mentions": "count",
    "negative_mentions": "count",
}
EMERGING_FORMATS = {"this_period": "count", "baseline": "count", "delta": "number", "z": "number"}
CHURN_FORMATS = {"fans": "count", "churned": "count", "churn_rate": "pct"}
METRIC_FORMATS = {"n": "count", "accuracy": "pct"}

_BREAKDOWN_COLUMNS = list(BREAKDOWN_FORMATS)
_ALERT_COLUMNS = [
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


def alerts_table(result: SentimentResult, sep: str = "、") -> pd.DataFrame:
    """One row per alert with its details, masked: ready to show or export (lists joined by ``sep``)."""
    rows = [
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
        for a in result.alerts
    ]
    return mask_frame(pd.DataFrame(rows, columns=_ALERT_COLUMNS), ["drivers", "examples"])


def alerts_display(result: SentimentResult, T: Messages) -> pd.DataFrame:
    """The alerts table for reading: dates in the reader's format, channels by name, no examples."""
    df = alerts_table(result, sep=T("list_sep")).drop(columns=["examples"])
    df["start"] = [when(T, a.start) for a in result.alerts]
    df["end"] = [when(T, a.end) for a in result.alerts]
    df["open"] = [T("open_yes") if a.open else T("open_no") for a in result.alerts]
    df["channels"] = [join_items(T, [channel_name(T, c) for c in a.channels]) for a in result.alerts]
    return df


def alert_examples(alert: Alert) -> pd.DataFrame:
    """An alert's example comments (masked when the alert was enriched), one per row."""
    return pd.DataFrame({"example": alert.examples})


def by_channel(result: SentimentResult, T: Messages) -> pd.DataFrame:
    """Volume, negative share and index per channel, channels by name."""
    df = result.by_channel.assign(channel=lambda d: d["channel"].map(lambda c: channel_name(T, c)))
    return df[["channel", *_BREAKDOWN_COLUMNS]]


def most_negative(frame: pd.DataFrame, key: str, top: int = 10) -> pd.DataFrame:
    """The ``top`` rows of a breakdown with the highest negative share."""
    return frame.sort_values("neg_share", ascending=False)[[key, *_BREAKDOWN_COLUMNS]].head(top)


def by_tier(result: SentimentResult) -> pd.DataFrame:
    return result.by_tier.sort_values("city_tier")[["city_tier", *_BREAKDOWN_COLUMNS]]


def by_layer(result: SentimentResult, T: Messages) -> pd.DataFrame:
    layers = result.by_layer.assign(fan_layer=lambda d: d["fan_layer"].map(lambda v: T.label(str(v))))
    return layers[["fan_layer", *_BREAKDOWN_COLUMNS]]


def by_hour_of_day(result: SentimentResult) -> pd.Series:
    """Comments per hour of the day over the whole window."""
    hourly = result.hourly
    return hourly.assign(hour=hourly["bin"].dt.hour).groupby("hour")["n"].sum()


def negative_drivers(result: SentimentResult) -> pd.DataFrame:
    return mask_frame(result.negative_drivers, ["term"])


def emerging(result: SentimentResult) -> pd.DataFrame:
    return mask_frame(result.emerging, ["term"])


def aspects(result: SentimentResult, T: Messages) -> pd.DataFrame:
    """The aspect breakdown with each aspect named in the reader's language."""
    df = result.aspects.drop(columns=["aspect_zh"])
    return df.assign(aspect=lambda d: d["aspect"].map(lambda a: aspect_label(T, a)))


def write_exports(result: SentimentResult, output_dir: str | Path) -> tuple[Path, Path]:
    """Write the masked alert list and the daily index as CSV files (UTF-8 with a BOM, for Excel)."""
    from fanlib.paths import resolve

    out = resolve(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    alerts_path, daily_path = out / "04_sentiment_alerts.csv", out / "04_sentiment_daily.csv"
    alerts_table(result).to_csv(alerts_path, index=False, encoding="utf-8-sig")
    result.daily.to_csv(daily_path, index=False, encoding="utf-8-sig")
    return alerts_path, daily_path
