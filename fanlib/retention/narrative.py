"""Plain-language conclusions generated from the retention figures.

Every sentence is built from the numbers passed in, so the report never states
a claim its data do not support. Words come from the ``retention`` message
catalogue (``fanlib/present/locales/retention.yaml``) in the reader's language: each
function takes the catalogue's :class:`fanlib.present.i18n.Messages` as ``T``.
"""

from __future__ import annotations

import datetime as _dt

import numpy as np
import pandas as pd

from fanlib.present.i18n import Messages, fmt_date, fmt_number, messages

from .churn_encoding import ATTRIBUTE_PREFIX

__all__ = [
    "retention_findings",
    "cox_findings",
    "churn_findings",
    "churn_sample_note",
    "clv_findings",
    "pct",
    "driver_label",
    "churn_text",
    "activity_words",
    "population_text",
    "unscored_text",
    "catalogue",
    "model_label",
    "curves_line",
    "km_groups",
    "km_medians_text",
    "feature_label",
    "reason_text",
    "churn_event_messages",
    "cohort_label",
    "cohort_axes",
]


def catalogue(lang: str = "zh", currency: str = "CNY") -> Messages:
    """The retention report's messages in ``lang`` (zh or en), amounts in ``currency`` (an ISO code)."""
    return messages("retention", lang, currency=currency)


def _T(T: Messages | None) -> Messages:
    return T if T is not None else catalogue()


def pct(x: float | None, digits: int = 1) -> str:
    """A share as a percentage (``–`` when missing)."""
    return "–" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:.{digits}%}"


def activity_words(basis: str, T: Messages | None = None) -> str:
    """What counts as activity, in words: any event or order, or an order."""
    return _T(T)("churn_activity" if basis == "activity" else "churn_order")


def churn_text(churn_days: int, basis: str, T: Messages | None = None) -> str:
    """The churn definition in words, for the report."""
    T = _T(T)
    return T("churn_text", days=churn_days, what=activity_words(basis, T))


def population_text(population: str, active_within_days: int, basis: str, T: Messages | None = None) -> str:
    """Who the churn models score at a cut-off, in words (``active`` or ``ever_bought``)."""
    T = _T(T)
    return T(f"churn_pop_{population}", active=active_within_days, what=activity_words(basis, T))


def unscored_text(population: str, active_within_days: int, churn_days: int, basis: str, T: Messages) -> str:
    """Which fans the at-risk list leaves out (recently quiet ones) or that every buyer is in it."""
    return T(
        f"at_risk_unscored_{population}", active=active_within_days, days=churn_days, what=activity_words(basis, T)
    )


def driver_label(name: str, T: Messages | None = None, references: dict | None = None) -> str:
    """A Cox design column (``checkin``, ``channel[douyin]``, ``city_tier[3]`` …) in words."""
    T = _T(T)
    refs = {"channel": "wechat", "city_tier": "1", **(references or {})}
    if f"drv_{name}" in T:
        return T(f"drv_{name}")
    for var in ("channel", "city_tier"):
        if name.startswith(f"{var}[") and name.endswith("]"):
            level = name[len(var) + 1 : -1]
            return T(f"drv_{var}", level=T.label(level), ref=T.label(refs[var]))
    return name


def retention_findings(day_n: pd.DataFrame, T: Messages | None = None) -> list[str]:
    """Bullets comparing D-N retention with the planning documents' benchmarks."""
    T = _T(T)
    lang = T.lang
    out = []
    for row in day_n.itertuples():
        text = T(
            "day_n_line",
            day=row.day,
            on=fmt_number(row.rate_on, "pct", lang),
            after=fmt_number(row.rate_on_or_after, "pct", lang),
            n=fmt_number(row.eligible, "count", lang),
        )
        if row.healthy is not None and not pd.isna(row.healthy):
            key = "day_n_healthy_met" if row.rate_on >= row.healthy else "day_n_healthy_missed"
            text += T(key, healthy=fmt_number(row.healthy, "pct", lang, 0))
        if row.current_industry is not None and not pd.isna(row.current_industry):
            key = "day_n_current_above" if row.rate_on > row.current_industry else "day_n_current_not_above"
            text += T(key, current=fmt_number(row.current_industry, "pct", lang))
        out.append(text + T("sentence_end"))
    return out


def cox_findings(
    summary: pd.DataFrame,
    ph: pd.DataFrame | None = None,
    alpha: float = 0.05,
    T: Messages | None = None,
    references: dict | None = None,
) -> list[str]:
    """Bullets on the drivers whose hazard ratio differs from 1, strongest first, and on the PH check."""
    T = _T(T)
    sep = T("list_sep")
    s = summary[summary["p"] < alpha].copy()
    s["strength"] = np.abs(np.log(s["hazard_ratio"]))
    out = []
    for name, r in s.sort_values("strength", ascending=False).iterrows():
        key = "cox_raises" if r["hazard_ratio"] > 1 else "cox_lowers"
        out.append(
            T(
                key,
                driver=driver_label(name, T, references),
                change=fmt_number(abs(r["hazard_ratio"] - 1), "pct", T.lang, 0),
                hr=f"{r['hazard_ratio']:.2f}",
                low=f"{r['hr_low']:.2f}",
                high=f"{r['hr_high']:.2f}",
            )
        )
    quiet = [driver_label(n, T, references) for n in summary.index if n not in s.index]
    if quiet:
        out.append(T("cox_quiet", drivers=sep.join(quiet)))
    if ph is not None:
        bad = [driver_label(n, T, references) for n in ph.index[~ph["proportional"]]]
        out.append(T("ph_violated", drivers=sep.join(bad)) if bad else T("ph_ok"))
    return out


def model_label(kind: str, T: Messages | None = None) -> str:
    """A churn model's name in words (``model_<kind>``)."""
    return _T(T).label(f"model_{kind}", kind)


def churn_sample_note(metrics: pd.DataFrame, cap: int | None, T: Messages | None = None) -> str | None:
    """The sentence saying the churn models were fitted on a sample of the training rows, or None when
    every row was used."""
    T = _T(T)
    if cap is None or not (metrics["n_fit"] < metrics["n_train"]).any():
        return None
    count = lambda n: fmt_number(n, "count", T.lang)  # noqa: E731
    return T(
        "churn_sample_note",
        n_train=count(metrics["n_train"].max()),
        cap=count(cap),
        n_fit=count(metrics["n_fit"].max()),
    )


def churn_findings(
    metrics: pd.DataFrame, best: str, gains: pd.DataFrame, T: Messages | None = None, population: str = "active"
) -> list[str]:
    """Bullets on model quality in words an operator can act on (``population``: who was scored)."""
    T = _T(T)
    lang = T.lang
    m = metrics.loc[best]
    top = gains.iloc[0]
    out = [
        T(
            "churn_best",
            model=model_label(best, T),
            auc=f"{m['roc_auc']:.3f}",
            pr=f"{m['pr_auc']:.3f}",
            ece=f"{m['ece']:.3f}",
            ece_pct=fmt_number(m["ece"], "pct", lang),
        ),
        T(
            "churn_lift",
            top_rate=fmt_number(top["churn_rate"], "pct", lang),
            base=fmt_number(m["base_rate"], "pct", lang),
            lift=f"{top['lift']:.1f}",
            captured=fmt_number(gains.iloc[min(2, len(gains) - 1)]["cumulative_churn_captured"], "pct", lang),
        ),
    ]
    if m["roc_auc"] < 0.65:
        out.append(T("churn_low_auc" if population == "active" else "churn_low_auc_ever_bought"))
    return out


def clv_findings(
    params: pd.Series,
    total_clv: float,
    n: int,
    horizon_days: int,
    holdout: pd.DataFrame,
    unit_days: float = 1.0,
    T: Messages | None = None,
) -> list[str]:
    """Bullets on the BG/NBD/Gamma-Gamma results and the holdout check."""
    T = _T(T)
    lang = T.lang
    r, alpha, a, b = params["r"], params["alpha"], params["a"], params["b"]
    rate = r / alpha / unit_days * 30
    drop = a / (a + b)
    pred, act = holdout["predicted"] * holdout["customers"], holdout["actual"] * holdout["customers"]
    err = (pred.sum() - act.sum()) / act.sum() if act.sum() else np.nan
    return [
        T("clv_rate", rate=f"{rate:.2f}", drop=fmt_number(drop, "pct", lang)),
        T(
            "clv_total",
            n=fmt_number(n, "count", lang),
            horizon=horizon_days,
            total=T.money(total_clv),
            per=T.money(total_clv / max(n, 1)),
        ),
        T(
            "clv_holdout",
            predicted=fmt_number(pred.sum(), "count", lang),
            actual=fmt_number(act.sum(), "count", lang),
            error=("–" if np.isnan(err) else f"{err:+.1%}"),
        ),
    ]


def curves_line(by_segment: pd.DataFrame, day: int, T: Messages, by: str) -> str:
    """The best and the worst segment's retention on or after ``day`` (rows sorted best first, labels in
    ``segment``), as Markdown; ``by`` names the segments (``by channel``), already escaped."""
    from fanlib.present.escape import md_text

    best, worst = by_segment.iloc[0], by_segment.iloc[-1]
    return T(
        "curves_line",
        by=by,
        day=day,
        best=md_text(str(best["segment"])),
        best_rate=fmt_number(best["rate_on_or_after"], "pct", T.lang, 1),
        worst=md_text(str(worst["segment"])),
        worst_rate=fmt_number(worst["rate_on_or_after"], "pct", T.lang, 1),
    )


def km_groups(
    surv: pd.DataFrame, T: Messages, segments: list[tuple[str, str, bool]] = ()
) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """``surv`` with the Kaplan–Meier grouping columns in words, and the (column, title) pairs to draw:
    check-in (when the source has events), each segment ``(column of surv, title, is a channel)`` with at
    least two groups and, when the comments table exists, negative commenters; all fans when none."""
    out = surv.copy()
    groups = []
    if "checkin" in surv:
        out["checkin_group"] = surv["checkin"].map({1: T("grp_checkin_yes"), 0: T("grp_checkin_no")})
        groups.append(("checkin_group", T("by_checkin")))
    for col, title, channel in segments:
        values = surv[col].fillna("unknown").astype(str)
        if values.nunique() > 1:
            out[f"{col}_group"] = [T.label(v) for v in values] if channel else values
            groups.append((f"{col}_group", title))
    if "negative_commenter" in surv:
        out["negative_group"] = out["negative_commenter"].map({1: T("grp_negative_yes"), 0: T("grp_negative_no")})
        groups.append(("negative_group", T("by_negative")))
    if not groups:  # nothing to compare: the curve of all fans
        out["all_group"] = T("grp_all_fans")
        groups.append(("all_group", T("by_all_fans")))
    return out, groups


def km_medians_text(curves: dict, T: Messages) -> str:
    """Each group's median days to churn (or "not reached"), for the log-rank table."""
    return T("reason_sep").join(
        f"{k}: {v.median_:.0f}" if v.median_ < float("inf") else f"{k}: {T('median_not_reached')}"
        for k, v in curves.items()
    )


def feature_label(col: str, T: Messages | None = None) -> str:
    """A churn feature's display name from the ``retention`` catalogue (``feat_<column>``)."""
    T = _T(T)
    if col.startswith("channel_"):
        return T("feat_channel", channel=T.label(col.removeprefix("channel_")))
    if col.startswith(ATTRIBUTE_PREFIX):
        name, _, level = col.removeprefix(ATTRIBUTE_PREFIX).partition("=")
        return f"{name} = {level}" if level else name
    return T.label(f"feat_{col}", col)


def reason_text(col: str, value: float, T: Messages | None = None) -> str:
    """One reason of the at-risk list: a feature and this fan's value of it, in words."""
    T = _T(T)
    if col.startswith("channel_"):
        return T("reason_channel", channel=T.label(col.removeprefix("channel_")))
    label = feature_label(col, T)
    if col in ("checkin_ever",):
        return T("reason_flag", label=label, answer=T("reason_yes") if value >= 0.5 else T("reason_no"))
    if col.endswith("share"):
        return f"{label} {value:.0%}"
    if col.startswith("spend_"):
        return f"{label} {T.money(value)}"
    if col.startswith(ATTRIBUTE_PREFIX) and "=" in col:
        return label  # this fan's level of a categorical attribute
    return f"{label} {fmt_number(value, 'number', 'en', 0 if float(value).is_integer() else 2)}"


def churn_event_messages(durations: pd.DataFrame, T: Messages | None = None) -> list[str]:
    """Plain-language warnings about the mix of churned and censored fans (none churned, all churned);
    ``T`` is the ``retention`` catalogue (English when not given)."""
    T = T if T is not None else catalogue("en")
    n, k = len(durations), int(durations["event"].sum())
    a = durations.attrs
    fields = dict(
        n=fmt_number(n, "count", T.lang),
        days=a.get("churn_days"),
        follow_end=a.get("follow_end"),
        what=activity_words(a.get("basis", "activity"), T),
    )
    if k == 0:
        return [T("no_churn_observed", **fields)]
    if k == n:
        return [T("all_churned", **fields)]
    return []


def cohort_label(day: _dt.date, cohort_period: str, lang: str = "en") -> str:
    """A cohort's name from its first day: the ISO week (``2025-W01``, whose Monday may lie in the year
    before), the month (``2025-03`` / ``2025年3月``) or the day."""
    if cohort_period == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if cohort_period == "month":
        return f"{day.year}年{day.month}月" if lang == "zh" else f"{day.year}-{day.month:02d}"
    return fmt_date(day, lang)


def cohort_axes(period: str, cohort_period: str, cohort_by: str, T: Messages) -> dict[str, str]:
    """The cohort heatmap's axis titles: which periods the columns count (calendar or fixed length) and
    which calendar period groups the rows, both from the fans' start (joining or first order)."""
    start = T(f"start_{cohort_by}")
    return {
        "xlabel": T(f"axis_period_{period}", start=start),
        "ylabel": T(f"axis_cohort_{cohort_period}", start=start),
    }
