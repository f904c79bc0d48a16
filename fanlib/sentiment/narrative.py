"""The sentiment report's sentences, in the reader's language.

Every function takes the report's ``Messages`` (``fanlib.present.i18n.messages("sentiment", lang)``)
and returns text; the notebook only displays it. Numbers and dates go through
``fmt_number``/``fmt_date``, so Chinese reports read 万 and 年月日. The Markdown
sentences escape every value from data (channels, communities, words) with ``md_text``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pandas as pd

from fanlib.present.escape import md_text
from fanlib.present.i18n import Messages, fmt_date, fmt_number, fmt_period
from fanlib.sentiment.crisis import LEVELS, Alert, CrisisParams

if TYPE_CHECKING:
    from fanlib.sentiment.card import ModelCard
    from fanlib.sentiment.result import SentimentResult
    from fanlib.sentiment.stats import TwoRates

DOMAIN = "sentiment"
ACTION_KEYS = {
    "I": ["action_I_1", "action_I_2", "action_I_3", "action_I_4"],
    "II": ["action_II_1", "action_II_2", "action_II_3"],
    "III": ["action_III_1", "action_III_2"],
}


def _num(T: Messages, value, unit: str = "number", digits: int = 1) -> str:
    return fmt_number(value, unit, T.lang, digits)


def when(T: Messages, ts: Any) -> str:
    """A bin's start for reading: the date, and the hour when the bin is shorter than a day."""
    ts = pd.Timestamp(ts)
    # Hourly alerts need the hour; daily ones read better as a date.
    return fmt_date(ts, T.lang) + (f" {ts:%H:%M}" if (ts.hour or ts.minute) else "")


def join_items(T: Messages, items: Iterable[Any]) -> str:
    """Items joined with the language's list separator."""
    return T("list_sep").join(str(i) for i in items)


def _md_join(T: Messages, items) -> str:
    return T("list_sep").join(md_text(i) for i in items)


def channel_name(T: Messages, channel: object) -> str:
    return T.label(str(channel))


def status(report: SentimentResult, T: Messages, index_window: int) -> str:
    cur = report.current
    text = T(
        "status_scored",
        as_of=fmt_date(report.as_of, T.lang),
        n=_num(T, report.scored.n_comments, "count"),
        texts=_num(T, report.scored.n_texts, "count"),
        seconds=f"{report.scored.seconds:.1f}",
    )
    if not cur["n"]:
        return text + "\n\n" + T("status_no_recent", days=cur["days"])
    base = report.daily["baseline"].iloc[-1]
    return (
        text
        + "\n\n"
        + T(
            "status_current",
            days=cur["days"],
            period=fmt_period(cur["from"], cur["to"], T.lang),
            n=_num(T, cur["n"], "count"),
            index=f"{cur['index']:.1f}",
            window=index_window,
            baseline="–" if pd.isna(base) else f"{base:.1f}",
            share=_num(T, cur["neg_share"], "pct"),
            low=_num(T, cur["neg_low"], "pct"),
            high=_num(T, cur["neg_high"], "pct"),
        )
    )


def worst_open(alerts: Iterable[Alert]) -> Alert | None:
    open_alerts = [a for a in alerts if a.open]
    return min(open_alerts, key=lambda a: LEVELS.index(a.level)) if open_alerts else None


def status_banner(report: SentimentResult, T: Messages) -> tuple[str, str]:
    """(text, banner level) for the state of alerts."""
    worst = worst_open(report.alerts)
    if worst is not None:
        return (
            T("banner_open", n=len(report.open_alerts), level=worst.level, start=when(T, worst.start)),
            "danger" if worst.level in ("I", "II") else "warning",
        )
    if report.alerts:
        return T("banner_closed", n=len(report.alerts)), "info"
    return T("banner_none"), "success"


def what_to_do(alerts: Iterable[Alert], T: Messages) -> list[str]:
    """Recommended actions for the most severe open alert (empty when none is open)."""
    worst = worst_open(alerts)
    if worst is None:
        return []
    channels = _md_join(T, [channel_name(T, c) for c in worst.channels]) or T("all_channels")
    head = T(
        "actions_head",
        level=worst.level,
        start=when(T, worst.start),
        channels=channels,
        drivers=_md_join(T, worst.drivers[:5]) or T("none"),
    )
    return [head] + [T(k) for k in ACTION_KEYS[worst.level]]


def index_note(daily: pd.DataFrame, T: Messages) -> str:
    outside = daily[daily["outside"] & daily["n"].gt(0)]
    low = outside[outside["index"] < outside["band_low"]]
    return T("index_outside", n=len(outside), low=len(low))


def thresholds(params: CrisisParams, T: Messages) -> str:
    p = params
    return T(
        "thresholds",
        z_volume=f"{p.z_volume:g}",
        z_share=f"{p.z_share:g}",
        jump=_num(T, p.min_share_jump, "pct", 0),
        min_neg=p.min_negatives,
        cooldown=p.cooldown_bins,
        z2=f"{p.level_II_z:g}",
        c2=p.level_II_channels,
        z1=f"{p.level_I_z:g}",
        c1=p.level_I_channels,
    )


def alert_heading(alert: Alert, T: Messages) -> str:
    return T(
        "alert_heading",
        level=alert.level,
        start=when(T, alert.start),
        end=when(T, alert.end),
        open=T("alert_open") if alert.open else "",
    )


def alert_body(alert: Alert, T: Messages) -> str:
    channels = _md_join(T, [channel_name(T, c) for c in alert.channels]) or T("no_channel")
    communities = _md_join(T, [c["community_id"] for c in alert.communities]) or T("no_community")
    return T(
        "alert_body",
        negatives=_num(T, alert.negatives, "count"),
        expected=f"{alert.expected_negatives:.0f}",
        share=_num(T, alert.share, "pct"),
        baseline=_num(T, alert.baseline_share, "pct"),
        z=f"{alert.evidence_z:.1f}",
        channels=channels,
        communities=communities,
        drivers=_md_join(T, alert.drivers) or T("none"),
    )


def channel_note(by_channel: pd.DataFrame, T: Messages) -> str:
    top = by_channel.sort_values("neg_share", ascending=False).iloc[0]
    return T(
        "channel_note",
        channel=md_text(channel_name(T, top["channel"])),
        share=_num(T, top["neg_share"], "pct"),
        low=_num(T, top["neg_low"], "pct"),
        high=_num(T, top["neg_high"], "pct"),
    )


def aspect_label(T: Messages, aspect: str) -> str:
    return T.label(f"aspect_{aspect}", aspect)


def aspect_note(aspects: pd.DataFrame, T: Messages) -> str:
    a0 = aspects.iloc[0]
    return T(
        "aspect_note",
        aspect=md_text(aspect_label(T, a0["aspect"])),
        share=_num(T, a0["share_of_negative"], "pct"),
        rate=_num(T, a0["negative_rate"], "pct"),
    )


def emerging_note(emerging: pd.DataFrame, T: Messages) -> str:
    rising = emerging[emerging["z"] >= 1.96]["term"].tolist()
    return T("emerging_note", terms=_md_join(T, rising[:10])) if rising else T("emerging_none")


def churn_table(link: TwoRates, T: Messages) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"group": T("group_negative"), "fans": link.n_a, "churned": link.k_a, "churn_rate": link.rate_a},
            {"group": T("group_other"), "fans": link.n_b, "churned": link.k_b, "churn_rate": link.rate_b},
        ]
    )


def churn_text(link: TwoRates, T: Messages) -> str:
    low, high = link.difference_ci
    rlow, rhigh = link.ratio_ci
    verdict = T("verdict_higher") if low > 0 else T("verdict_lower") if high < 0 else T("verdict_same")
    return T(
        "churn_text",
        rate_a=_num(T, link.rate_a, "pct"),
        rate_b=_num(T, link.rate_b, "pct"),
        diff=_num(T, link.difference, "pp"),
        low=_num(T, low, "pp"),
        high=_num(T, high, "pp"),
        ratio=f"{link.ratio:.2f}",
        rlow=f"{rlow:.2f}",
        rhigh=f"{rhigh:.2f}",
        verdict=verdict,
    )


def metrics_display(df: pd.DataFrame) -> pd.DataFrame:
    """Model metrics with three decimals (accuracy stays a share, formatted as a percentage)."""
    df = df.copy()
    for col in ("macro_f1", "auc", "ece", "brier"):
        if col in df.columns:
            df[col] = df[col].map(lambda v: "–" if pd.isna(v) else f"{v:.3f}")
    return df


def card_table(card: ModelCard, T: Messages) -> pd.DataFrame:
    df = card.table()
    df["texts"] = df["texts"].map(
        {
            "held-out split": T("texts_held_out"),
            "shared subsample": T("texts_shared"),
            "fan comments": T("texts_fan_comments"),
        }
    )
    return metrics_display(df)


def card_text(card: ModelCard, T: Messages) -> str:
    m = card.held_out
    text = T(
        "card_text",
        n=_num(T, m["n"], "count"),
        accuracy=_num(T, m["accuracy"], "pct"),
        f1=f"{m['macro_f1']:.3f}",
        auc=f"{m['auc']:.3f}",
        ece=f"{m['ece']:.3f}",
    )
    diff = card.comparison.get("accuracy_diff")
    if diff:
        text += T(
            "card_compare",
            n=_num(T, card.comparison["n"], "count"),
            diff=_num(T, diff["estimate"], "pp"),
            low=_num(T, diff["low"], "pp"),
            high=_num(T, diff["high"], "pp"),
            ece=f"{card.comparison['snownlp']['ece']:.3f}",
        )
    fan = card.fan_comments
    if fan.get("accuracy_diff"):
        d = fan["accuracy_diff"]
        text += T(
            "card_fan_compare",
            n=_num(T, fan["n"], "count"),
            ours=_num(T, fan["fanlib"]["accuracy"], "pct"),
            theirs=_num(T, fan["snownlp"]["accuracy"], "pct"),
            diff=_num(T, d["estimate"], "pp"),
            low=_num(T, d["low"], "pp"),
            high=_num(T, d["high"], "pp"),
            ece=f"{fan['fanlib']['ece']:.3f}",
        )
        if fan["fanlib"]["ece"] > 2 * m["ece"]:
            text += T("card_fan_miscalibrated", ece_fan=f"{fan['fanlib']['ece']:.3f}", ece_held=f"{m['ece']:.3f}")
    notes = ["card_note_split", "card_note_calibration"] + (["card_note_snownlp"] if diff else [])
    notes += ["card_note_fan"] if fan.get("accuracy_diff") else []
    return text + "\n\n" + "\n".join(f"- {T(k)}" for k in notes)
