"""What each section of the retention report shows, computed from the data: one function per section,
run by :func:`fanlib.retention.analyse` inside the section guard. Each returns the section's view (the
tables, chart inputs and sentences the notebook shows) and leaves the results that later sections and
the summary use in ``r.sections``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from fanlib.paths import resolve
from fanlib.present.escape import md_text
from fanlib.present.i18n import fmt_date, fmt_number

from . import churn, clv, cohorts
from .activity import orders_without_events
from .cohort_matrix import write_cohort_matrix
from .cox import CoxPH, design_matrix, reference_levels
from .durations import fan_durations
from .errors import RetentionInputError
from .narrative import (
    churn_event_messages,
    churn_findings,
    churn_sample_note,
    churn_text,
    clv_findings,
    cohort_axes,
    cohort_label,
    cox_findings,
    curves_line,
    driver_label,
    km_groups,
    km_medians_text,
    model_label,
    population_text,
    retention_findings,
    unscored_text,
)
from .result import RetentionResult
from .segments import choose_segments, fan_segments
from .summary import bullet_text, heading_text
from .survival import kaplan_meier_by, logrank_test

__all__ = ["intro", "COMPUTE"]


def intro(fd: Any, r: RetentionResult) -> None:
    """The page's title, its data banners and every section's heading."""
    T, p, lang = r.T, r.params, r.T.lang
    r.intro = f"# {T('title')}\n\n{T('intro')}"
    if not fd.has("events"):
        r.notes.append((T("orders_only_note"), "info"))
    if fd.is_derived("fans"):
        r.notes.append((T("fans_derived_note"), "info"))
    n_orders_only, examples = orders_without_events(fd)
    if n_orders_only:
        message = T("orders_without_events", n=fmt_number(n_orders_only, "count", lang), examples=", ".join(examples))
        r.notes.append((T("data_note", message=message), "warning"))
    churn_words = churn_text(p["churn_days"], p["churn_basis"], T)
    r.notes.append(
        (T("data_line", source=fd.describe_source(), as_of=fmt_date(r.as_of, lang), churn=churn_words), "info")
    )
    r.sections["curve_segments"] = choose_segments(fd, p["curve_segments"])
    r.headings = {
        "day_n": heading_text("h_day_n", T),
        "cohorts": heading_text("h_cohorts", T),
        "curves": heading_text(
            "h_curves",
            T,
            segments=T("list_sep").join(
                _segment_title(c, T, p["top_communities"]) for c in r.sections["curve_segments"]
            )
            or T("by_all_fans"),
        ),
        "lifecycle": heading_text("h_lifecycle", T),
        "survival": heading_text("h_survival", T, landmark=p["landmark_days"]),
        "churn": heading_text(
            "h_churn",
            T,
            population=population_text(p["churn_population"], p["active_within_days"], p["churn_basis"], T),
            horizon=p["horizon_days"],
        ),
        "clv": heading_text(
            "h_clv",
            T,
            holdout=p["clv_holdout_days"],
            horizon=p["clv_horizon_days"],
            rate=fmt_number(p["annual_discount_rate"], "pct", lang, 0),
        ),
        "conclusions": heading_text("h_conclusions", T),
    }


def _day_n(fd: Any, r: RetentionResult) -> dict[str, Any]:
    p, T = r.params, r.T
    day_n = cohorts.day_n_retention(
        fd, p["retention_days"], cohort_by=p["cohort_by"], basis=p["churn_basis"], as_of=r.as_of
    )
    r.sections["day_n"] = day_n
    return {
        "table": day_n[["day", "eligible", "rate_on", "rate_on_or_after", "current_industry", "healthy"]],
        "bench": day_n.dropna(subset=["healthy"]).assign(label=lambda d: "D" + d["day"].astype(str)),
        "findings": bullet_text(retention_findings(day_n, T)),
    }


def _cohorts(fd: Any, r: RetentionResult) -> dict[str, Any]:
    p, T, lang = r.params, r.T, r.T.lang
    cohort = cohorts.cohort_table(
        fd,
        period=p["cohort_period"],
        cohort_by=p["cohort_by"],
        basis=p["churn_basis"],
        max_periods=p["cohort_max_periods"],
        as_of=r.as_of,
    )
    small = cohort.cells.loc[cohort.cells["small"], "cohort"].nunique()
    notes = [(T("cohort_note_small", n=small, min=cohort.min_cohort_size), "info")] if small else []
    files = write_cohort_matrix(cohort, resolve(p["output_dir"]), T, created=r.as_of)
    r.sections["cohort"], r.sections["cohort_files"] = cohort, files
    matrices = []
    for definition in ("on", "on_or_after"):
        table_view = cohort.matrix(definition).tail(26)
        table_view.index = [cohort_label(d, cohort.cohort_period, lang) for d in table_view.index]
        matrices.append((table_view, T("chart_cohort_on" if definition == "on" else "chart_cohort_after")))
    incomplete = cohort.cells[~cohort.cells["complete"] & ~cohort.cells["small"]]  # blank until the period ends
    line = T(
        "cohort_line",
        cohorts=cohort.sizes.size,
        fans=fmt_number(cohort.sizes.sum(), "count", lang),
        incomplete=len(incomplete),
    )
    line += " " + T("cohort_files_line", csv=Path(files["csv"]).name, xlsx=Path(files["xlsx"]).name)
    axes = cohort_axes(cohort.period, cohort.cohort_period, cohort.cohort_by, T)
    return {"notes": notes, "matrices": matrices, "axes": axes, "line": line}


def _segment_title(by: str, T: Any, top: int) -> str:
    """A segment's name in a chart title or sentence: the built-in ones in words, others by column name."""
    if by == "community_id":
        return T("by_community", n=top)
    if by in ("channel", "city_tier"):
        return T(f"by_{by}")
    return T("by_column", column=by)


def _curves(fd: Any, r: RetentionResult) -> dict[str, Any]:
    p, T = r.params, r.T
    segments = r.sections["curve_segments"]
    curves = cohorts.retention_curves_by(
        fd,
        segments or ["all"],
        period="day",
        max_periods=p["curve_days"],
        cohort_by=p["cohort_by"],
        basis=p["churn_basis"],
        as_of=r.as_of,
        top={"community_id": p["top_communities"]},
        bins=p["segment_bins"],
    )
    charts = []
    for by in segments or ["all"]:
        c = curves[by]
        names = {v: T.label(v) for v in c[by].astype(str).unique()} if by == "channel" else None
        names = {"all": T("grp_all_fans")} if by == "all" else names
        title = _segment_title(by, T, p["top_communities"]) if segments else T("by_all_fans")
        charts.append({"curves": c[c["period"] >= 1], "by": by, "title": T("chart_curves", by=title), "labels": names})
    r.sections["curves"] = curves
    day = min(30, p["curve_days"])
    first = segments[0] if segments else "all"
    table = curves[first][curves[first]["period"] == day][[first, "eligible", "rate_on_or_after"]]
    table = table.sort_values("rate_on_or_after", ascending=False).rename(columns={first: "segment"})
    if first in ("channel", "all"):
        table = table.assign(segment=[T("grp_all_fans") if not segments else T.label(v) for v in table["segment"]])
    if not segments:
        line = T("curves_line_all", day=day, rate=fmt_number(table["rate_on_or_after"].iloc[0], "pct", T.lang, 1))
    else:
        line = curves_line(table, day, T, md_text(_segment_title(first, T, p["top_communities"])))
    return {"charts": charts, "by_segment": table, "line": line}


def _lifecycle(fd: Any, r: RetentionResult) -> dict[str, Any]:
    p, T, lang = r.params, r.T, r.T.lang
    life = cohorts.lifecycle_counts(fd, period=p["lifecycle_period"], basis=p["churn_basis"], as_of=r.as_of)
    r.sections["lifecycle"] = life
    table = life.tail(8).assign(
        period_start=lambda d: [fmt_date(v, lang) for v in d["period_start"]],
        complete=lambda d: [T("reason_yes") if v else T("reason_no") for v in d["complete"]],
    )
    last = life[life["complete"]].iloc[-1]
    ratio = (last["new"] + last["resurrected"]) / max(last["dormant"], 1)
    line = T(
        "lifecycle_line",
        start=fmt_date(last["period_start"], lang),
        new=fmt_number(last["new"], "count", lang),
        resurrected=fmt_number(last["resurrected"], "count", lang),
        dormant=fmt_number(last["dormant"], "count", lang),
        ratio=f"{ratio:.2f}",
        verdict=T("lifecycle_growing" if ratio > 1 else "lifecycle_shrinking"),
    )
    return {"chart": life.tail(52), "table": table, "line": line}


def _survival(fd: Any, r: RetentionResult) -> dict[str, Any]:
    p, T, lang = r.params, r.T, r.T.lang
    window = dict(churn_days=p["churn_days"], basis=p["churn_basis"], cohort_by=p["cohort_by"], as_of=r.as_of)
    surv_all = fan_durations(fd, **window)
    surv = fan_durations(fd, **window, landmark_days=p["landmark_days"])
    notes = [(msg, "warning") for msg in churn_event_messages(surv, T)]
    r.sections["surv"] = surv
    if "checkin" not in surv:
        notes.append((T("section_unavailable", reason=T("no_events_table")), "warning"))
    if "negative_commenter" not in surv:
        notes.append((T("section_unavailable", reason=T("no_comments_table")), "warning"))
    line = T(
        "survival_line",
        n=fmt_number(len(surv_all), "count", lang),
        churned=fmt_number(surv_all["event"].sum(), "count", lang),
        follow_end=fmt_date(surv_all.attrs["follow_end"], lang),
        days=p["churn_days"],
    )
    return {"notes": notes, "line": line}


def _km(fd: Any, r: RetentionResult) -> dict[str, Any]:
    p, T, landmark = r.params, r.T, r.params["landmark_days"]
    surv = r.sections.need("surv")
    names = choose_segments(fd, p["churn_segments"], defaults=("channel",))
    segments = []
    if names:
        labels = fan_segments(fd, names, as_of=r.as_of, bins=p["segment_bins"])
        labels = labels.rename(columns={c: f"segment:{c}" for c in names})
        surv = surv.merge(labels, on="fan_id", how="left")
        segments = [(f"segment:{c}", _segment_title(c, T, p["top_communities"]), c == "channel") for c in names]
    surv_km, groups = km_groups(surv, T, segments)
    charts, tests = [], []
    for col, title in groups:
        curves_km = kaplan_meier_by(surv_km, col)
        charts.append({"curves": curves_km, "title": T("chart_km", landmark=landmark, by=title)})
        if surv_km[col].nunique() < 2:
            continue  # one curve: nothing to test
        lr = logrank_test(surv_km["duration"], surv_km["event"], surv_km[col])
        tests.append(
            {
                "group": title,
                "chi2": lr.statistic,
                "df": lr.df,
                "p": lr.p_value,
                "medians": km_medians_text(curves_km, T),
            }
        )
    r.sections["logrank"] = pd.DataFrame(tests)
    return {
        "charts": charts,
        "xlabel": T("axis_days_since_landmark", landmark=landmark),
        "logrank": r.sections["logrank"],
    }


def _cox(fd: Any, r: RetentionResult) -> dict[str, Any]:
    T, lang = r.T, r.T.lang
    surv = r.sections.need("surv")
    numeric = [c for c in ("checkin", "negative_commenter") if c in surv]
    references = reference_levels(surv)
    if not numeric and not references:
        raise RetentionInputError(T("cox_no_drivers"))
    X = design_matrix(surv.fillna({"city_tier": "unknown"}), numeric=numeric, categorical=references)
    cox = CoxPH(ties="efron").fit(X, surv["duration"], surv["event"])
    ph = cox.check_proportional_hazards()
    cs = cox.summary.assign(
        driver=[driver_label(n, T, references) for n in cox.summary.index], significant=lambda d: d["p"] < 0.05
    )
    table = cs[["driver", "hazard_ratio", "hr_low", "hr_high", "p"]].join(ph[["p"]].rename(columns={"p": "ph_p"}))
    view = {
        "forest": cs,
        "table": table,
        "concordance": T(
            "concordance_line",
            c=f"{cox.concordance_:.3f}",
            n=fmt_number(cox.n_, "count", lang),
            events=fmt_number(cox.n_events_, "count", lang),
        ),
        "findings": bullet_text(cox_findings(cox.summary, ph, T=T, references=references)),
    }
    r.sections["cox"], r.sections["ph"], r.sections["references"] = cox, ph, references
    return view


def _churn(fd: Any, r: RetentionResult) -> dict[str, Any]:
    p, T, lang = r.params, r.T, r.T.lang
    ch = churn.run_churn_models(
        fd,
        horizon_days=p["horizon_days"],
        churn_days=p["churn_days"],
        active_within_days=p["active_within_days"],
        n_train=p["train_cutoffs"],
        max_train_rows=p["churn_max_train_rows"],
        as_of=r.as_of,
        basis=p["churn_basis"],
        population=p["churn_population"],
        attributes=p["churn_attributes"],
    )
    r.sections["churn"] = ch
    cutoffs = T(
        "cutoffs_line",
        train=T("list_sep").join(fmt_date(c, lang) for c in ch.train_cutoffs),
        test=fmt_date(ch.test_cutoff, lang),
        score=fmt_date(ch.score_date, lang),
    )
    sample_note = churn_sample_note(ch.metrics, p["churn_max_train_rows"], T)
    columns = ["model", "roc_auc", "pr_auc", "ece", "base_rate", "top_decile_lift", "n", "n_train", "n_fit"]
    shown = ch.metrics.reset_index()[columns]
    return {
        "cutoffs": cutoffs,
        "notes": [(sample_note, "info")] if sample_note else [],
        "metrics": shown.assign(model=[model_label(m, T) for m in shown["model"]]),
        "model": ch,
        "findings": bullet_text(churn_findings(ch.metrics, ch.best, ch.gains[ch.best], T, ch.population)),
    }


def _at_risk(fd: Any, r: RetentionResult) -> dict[str, Any]:
    p, T, lang = r.params, r.T, r.T.lang
    ch = r.sections.need("churn")
    at_risk = churn.at_risk_list(ch.model, ch.current, top=p["at_risk_top"], T=T, basis=ch.basis)
    files = churn.write_at_risk(at_risk, resolve(p["output_dir"]), T=T, created=r.as_of)
    r.sections["at_risk"], r.sections["at_risk_files"] = at_risk, files
    return {
        "table": at_risk.head(20).assign(channel=lambda d: [T.label(v) for v in d["channel"]]),
        "caption": T("cap_at_risk", n=fmt_number(len(at_risk), "count", lang)),
        "line": T(
            "at_risk_line",
            csv=Path(files["csv"]).name,
            xlsx=Path(files["xlsx"]).name,
            unscored=unscored_text(ch.population, ch.active_within_days, ch.churn_days, ch.basis, T),
        ),
    }


def _clv(fd: Any, r: RetentionResult) -> dict[str, Any]:
    p, T = r.params, r.T
    cv = clv.clv_analysis(
        fd,
        as_of=r.as_of,
        holdout_days=p["clv_holdout_days"],
        horizon_days=p["clv_horizon_days"],
        annual_discount_rate=p["annual_discount_rate"],
        margin=p["margin"],
    )
    r.sections["clv"] = cv
    return {
        "bgnbd": cv.bgnbd.summary.reset_index(names="parameter"),
        "gamma_gamma": cv.gamma_gamma.summary.reset_index(names="parameter"),
        "holdout": cv.holdout_table,
        "bands": clv.no_purchase_bands(cv.fans),
        "bands_caption": T("cap_no_purchase", days=cv.no_purchase_days),
        "top": clv.top_buyers(cv.fans, 15),
        "findings": bullet_text(
            clv_findings(cv.bgnbd.params_, cv.total_clv, len(cv.fans), p["clv_horizon_days"], cv.holdout_table, T=T)
        ),
    }


#: The sections in the order of the page, each with the function that computes its view.
COMPUTE: dict[str, Callable[[Any, RetentionResult], dict[str, Any]]] = {
    "day_n": _day_n,
    "cohorts": _cohorts,
    "curves": _curves,
    "lifecycle": _lifecycle,
    "survival": _survival,
    "km": _km,
    "cox": _cox,
    "churn": _churn,
    "at_risk": _at_risk,
    "clv": _clv,
}
