"""The retention report's summary JSON (``03_retention.summary.json``) and its closing conclusions, built from
the sections' results (a :class:`fanlib.present.notebook.Sections`, or any dict of the same keys).

The cohort matrix is kept under ``cohort_matrix`` (see :func:`cohort_summary`). Headline keys the executive
overview reads (params/targets.yaml): ``retention_d7`` and ``retention_d30``
(shares as fractions), ``hr_checkin``, ``churn_auc``, ``churn_ece``, ``at_risk_fans`` and ``total_clv``.
A section that did not compute leaves its keys out; ``Sections.mark`` then makes the summary partial.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

import pandas as pd

from fanlib.present.i18n import Messages, fmt_number
from fanlib.present.notebook import Summary
from fanlib.retention.cohort_matrix import matrix_rows
from fanlib.retention.narrative import churn_text, cohort_axes, driver_label

__all__ = ["retention_summary", "cohort_summary", "conclusions", "heading_text", "bullet_text"]


def heading_text(key: str, T: Messages, **fields: Any) -> str:
    """A section's heading and its introduction (``intro_<name>`` for ``h_<name>``), as Markdown."""
    return f"## {T(key)}\n\n{T('intro_' + key[2:], **fields)}"


def bullet_text(lines: list[str]) -> str:
    """``lines`` as a Markdown bullet list."""
    return "\n".join(f"* {line}" for line in lines)


def conclusions(results: dict, T: Messages, clv_horizon_days: int) -> list[str]:
    """The report's closing sentences from the sections that computed; empty when none did."""
    lang = T.lang
    sep = T("list_sep")
    lines = []
    if "day_n" in results:
        d7 = results["day_n"].set_index("day")
        if 7 in d7.index and pd.notna(d7.loc[7, "healthy"]):
            met = d7.loc[7, "rate_on"] >= d7.loc[7, "healthy"]
            lines.append(
                T(
                    "concl_d7_met" if met else "concl_d7_missed",
                    rate=fmt_number(d7.loc[7, "rate_on"], "pct", lang, 1),
                    healthy=fmt_number(d7.loc[7, "healthy"], "pct", lang, 0),
                )
            )
    if "cox" in results:
        s = results["cox"].summary
        references = results["references"]

        def named(rows: pd.DataFrame) -> str:
            return sep.join(f"{driver_label(n, T, references)} (HR {r.hazard_ratio:.2f})" for n, r in rows.iterrows())

        helpful = s[(s["p"] < 0.05) & (s["hazard_ratio"] < 1)]
        harmful = s[(s["p"] < 0.05) & (s["hazard_ratio"] > 1)].sort_values("hazard_ratio", ascending=False)
        if len(helpful):
            lines.append(T("concl_helpful", drivers=named(helpful)))
        if len(harmful):
            lines.append(T("concl_harmful", drivers=named(harmful.head(4))))
    if "churn" in results and "at_risk" in results:
        m = results["churn"].metrics.loc[results["churn"].best]
        lines.append(
            T("concl_at_risk", n=fmt_number(len(results["at_risk"]), "count", lang), lift=f"{m['top_decile_lift']:.1f}")
        )
    if "clv" in results:
        lines.append(
            T(
                "concl_clv",
                n=fmt_number(len(results["clv"].fans), "count", lang),
                horizon=clv_horizon_days,
                total=T.money(results["clv"].total_clv),
            )
        )
    return lines


def cohort_summary(cohort: Any, T: Messages, files: dict[str, str] | None = None) -> dict[str, Any]:
    """The cohort matrix for the summary: which periods (calendar or fixed length), the axis in words,
    and per cohort its label, first day, size and rates per period (None where the heatmap is blank)."""
    return {
        "period": cohort.period,
        "calendar": cohort.calendar,
        "cohort_period": cohort.cohort_period,
        "cohort_by": cohort.cohort_by,
        "basis": cohort.basis,
        "min_cohort_size": cohort.min_cohort_size,
        "axis": cohort_axes(cohort.period, cohort.cohort_period, cohort.cohort_by, T)["xlabel"],
        "periods": sorted(int(k) for k in cohort.cells["period"].unique()),
        "cohorts": matrix_rows(cohort, T.lang),
        **({"files": {k: Path(v).name for k, v in files.items()}} if files else {}),
    }


def _churn_inputs(ch: Any) -> dict[str, Any]:
    """Who the churn models scored, on what activity, and the features they learnt from."""
    if not hasattr(ch, "population"):
        return {}
    return {
        "population": ch.population,
        "basis": ch.basis,
        "attributes": dict(ch.attributes),
        "features": list(ch.model.features_),
    }


def retention_summary(
    results: dict,
    T: Messages,
    *,
    as_of: _dt.date,
    churn_days: int,
    churn_basis: str,
    cohort_by: str,
    landmark_days: int,
    horizon_days: int,
    clv_horizon_days: int,
    annual_discount_rate: float,
) -> Summary:
    """The summary of whatever sections computed (the caller marks failed sections with ``Sections.mark``)."""
    s = Summary("03_retention", as_of=as_of, currency=T.currency)
    s["lang"] = T.lang
    s["churn_definition"] = {
        "churn_days": churn_days,
        "basis": churn_basis,
        "text": churn_text(churn_days, churn_basis, T),
        "cohort_by": cohort_by,
        "landmark_days": landmark_days,
    }
    if "day_n" in results:
        dn = results["day_n"].set_index("day")
        s["retention"] = {
            f"d{d}": {
                "on": dn.loc[d, "rate_on"],
                "on_or_after": dn.loc[d, "rate_on_or_after"],
                "fans_observed": dn.loc[d, "eligible"],
            }
            for d in dn.index
        }
        for d in (7, 30):
            if d in dn.index:  # a share (0.312 = 31.2%), as params/targets.yaml expects
                s.headline(
                    f"retention_d{d}",
                    dn.loc[d, "rate_on"],
                    label=T(f"hl_retention_d{d}"),
                    unit="pct",
                    target=dn.loc[d, "healthy"] if pd.notna(dn.loc[d, "healthy"]) else None,
                )
    if "cohort" in results:
        s["cohort_matrix"] = cohort_summary(results["cohort"], T, results.get("cohort_files"))
    if "cox" in results:
        cox = results["cox"]
        cs = cox.summary
        s["cox"] = {
            "hazard_ratios": {
                n: {"hr": r.hazard_ratio, "low": r.hr_low, "high": r.hr_high, "p": r.p} for n, r in cs.iterrows()
            },
            "concordance": cox.concordance_,
            "fans": cox.n_,
            "churn_events": cox.n_events_,
            "proportional_hazards_p": results["ph"]["p"].to_dict(),
            "ties": "efron",
            "reference_levels": results["references"],
        }
        if "checkin" in cs.index:
            s.headline(
                "hr_checkin",
                cs.loc["checkin", "hazard_ratio"],
                label=T("hl_hr_checkin"),
                unit="ratio",
                good=bool(cs.loc["checkin", "hazard_ratio"] < 1),
            )
    if "churn" in results:
        ch = results["churn"]
        m = ch.metrics.loc[ch.best]
        s["churn_model"] = {
            "best": ch.best,
            "metrics": ch.metrics.to_dict(orient="index"),
            "test_cutoff": ch.test_cutoff,
            "train_cutoffs": ch.train_cutoffs,
            "horizon_days": horizon_days,
            **_churn_inputs(ch),
        }
        s.headline("churn_auc", m["roc_auc"], label=T("hl_churn_auc"), unit="number")
        s.headline("churn_ece", m["ece"], label=T("hl_churn_ece"), unit="number", target=0.02, higher_is_better=False)
    if "at_risk" in results:
        s["at_risk"] = {
            "fans": len(results["at_risk"]),
            "files": {k: Path(v).name for k, v in results["at_risk_files"].items()},
        }
        s.headline("at_risk_fans", len(results["at_risk"]), label=T("hl_at_risk"), unit="count")
    if "clv" in results:
        cv = results["clv"]
        s["bgnbd"] = cv.bgnbd.params_.to_dict()
        s["gamma_gamma"] = cv.gamma_gamma.params_.to_dict()
        s["clv"] = {
            "total": cv.total_clv,
            "buyers": len(cv.fans),
            "horizon_days": clv_horizon_days,
            "annual_discount_rate": annual_discount_rate,
            "holdout": cv.holdout_table.to_dict(orient="records"),
        }
        s.headline("total_clv", cv.total_clv, label=T("hl_total_clv", days=clv_horizon_days), unit="cny")
    return s
