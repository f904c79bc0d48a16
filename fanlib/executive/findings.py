"""What changed: each report's key finding, read from the keys it writes into its summary."""

from __future__ import annotations

from fanlib.reports.layout import RunFolder

#: The reports whose findings the overview gathers, in the order stakeholders read them.
FINDING_REPORTS = ("02_ab_campaign", "03_retention", "04_sentiment", "01_fan_profiling")


_LEVELS = ("I", "II", "III")  # crisis alert levels, most severe first


def _headline(summary: dict, key: str) -> dict | None:
    return next((h for h in summary.get("headline", []) if h.get("key") == key), None)


def _verdicts(summary: dict) -> list[dict]:
    experiment = summary.get("experiment") if isinstance(summary.get("experiment"), dict) else {}
    exp_id = experiment.get("experiment_id")
    rows = [v for v in experiment.get("verdicts", []) if isinstance(v, dict) and v.get("decision")]
    if not rows and isinstance(experiment.get("verdict"), dict):
        rows = [experiment["verdict"]]
    if not rows:
        h = _headline(summary, "verdict")
        decision = summary.get("verdict") or (h or {}).get("value")
        rows = [{"decision": decision, "text": (h or {}).get("note")}] if decision else []
    return [
        {
            "kind": "verdict",
            "experiment": exp_id,
            "variant": v.get("variant"),
            "decision": v["decision"],
            "detail": v.get("text") or v.get("reason"),
            "good": {"ship": True, "don't ship": False, "withheld": False}.get(v["decision"]),
        }
        for v in rows
    ]


def _churn(summary: dict, report: str) -> list[dict]:
    model = summary.get("churn_model") if isinstance(summary.get("churn_model"), dict) else {}
    metrics = (model.get("metrics") or {}).get(model.get("best")) or {}
    risk_h = _headline(summary, "churn_risk")
    churn_rate = risk_h["value"] if risk_h else metrics.get("base_rate")
    at_risk = summary.get("at_risk") if isinstance(summary.get("at_risk"), dict) else {}
    n_at_risk = at_risk.get("fans", (_headline(summary, "at_risk_fans") or {}).get("value"))
    if churn_rate is None and n_at_risk is None:
        return []
    files = at_risk.get("files") or {}
    list_file = files.get("xlsx") or files.get("csv")
    return [
        {
            "kind": "churn",
            "churn_rate": churn_rate,
            "horizon_days": model.get("horizon_days"),
            "at_risk": n_at_risk,
            "list_href": f"{RunFolder.good(report).exports}/{list_file}" if list_file else None,
            "good": None,
        }
    ]


def _alerts(summary: dict) -> list[dict]:
    h = _headline(summary, "open_alerts")
    open_alerts = [a for a in summary.get("open_alerts", []) if isinstance(a, dict)]
    if h is None and "open_alerts" not in summary:
        return []
    n_open = len(open_alerts) if open_alerts or h is None else int(h.get("value") or 0)
    worst = min(open_alerts, key=lambda a: _LEVELS.index(a["level"]) if a.get("level") in _LEVELS else 9, default=None)
    in_period = (_headline(summary, "alerts_in_period") or {}).get("value")
    return [
        {
            "kind": "alerts",
            "open": n_open,
            "level": (worst or {}).get("level"),
            "since": (worst or {}).get("start"),
            "channels": list((worst or {}).get("channels") or []),
            "drivers": list((worst or {}).get("drivers") or [])[:5],
            "in_period": in_period,
            "good": n_open == 0,
        }
    ]


def _gaps(summary: dict, top: int) -> list[dict]:
    rows = summary.get("kpis") if isinstance(summary.get("kpis"), list) else []
    scored = [
        dict(r)
        for r in rows
        if isinstance(r, dict)
        and r.get("good") is False
        and r.get("target")
        and isinstance(r.get("value"), (int, float))
    ]
    if not scored:  # no scorecard: the headline figures that miss their targets
        scored = [
            {"kpi": h.get("key"), **h}
            for h in summary.get("headline", [])
            if h.get("good") is False and h.get("target") and isinstance(h.get("value"), (int, float))
        ]
    for r in scored:
        if r.get("relative_gap") is None:
            r["relative_gap"] = (r["value"] - r["target"]) / abs(r["target"])
    scored.sort(key=lambda r: -abs(r["relative_gap"]))
    return [
        {
            "kind": "kpi_gap",
            "kpi": r.get("kpi"),
            "label": r.get("label") or r.get("kpi"),
            "value": r["value"],
            "target": r["target"],
            "unit": r.get("unit") or "number",
            "relative_gap": abs(r["relative_gap"]),
            "good": False,
        }
        for r in scored[:top]
    ]


def key_findings(summaries: dict, top_gaps: int = 3, reports: dict | None = None) -> list[dict]:
    """What changed and what to do, from the keys the four reports write into their summaries:

    * ``02_ab_campaign``: one ``verdict`` per variant (``experiment.verdicts``; else the ``verdict`` headline);
    * ``03_retention``: ``churn`` — the churn rate of recently active fans over the prediction horizon
      (a ``churn_risk`` headline if present, else the best churn model's ``base_rate``) and the at-risk list
      size (``at_risk.fans``) with its file;
    * ``04_sentiment``: ``alerts`` — open crisis alerts, the most severe first (``open_alerts``);
    * ``01_fan_profiling``: ``kpi_gap`` — the ``top_gaps`` KPIs furthest below target (``kpis`` scorecard).

    Every item names its ``report`` and the page to link (``href``); a report absent from the run, or
    whose summary lacks those keys, gives one ``missing`` item instead of silently nothing.
    ``reports`` (from :func:`run_reports`): a failed report gives one ``failed`` item and none of its
    older figures; an item from a report not in this run carries ``from_run``, that run's time.
    """
    reports = reports or {}
    items = []
    for report in FINDING_REPORTS:
        place = reports.get(report, {})
        if place.get("state") == "failed":
            items.append(
                {
                    "report": report,
                    "href": RunFolder.failed(report).html,
                    "kind": "failed",
                    "good": None,
                    "in_run": place.get("in_run", True),
                    "last_good_run": place.get("last_good_run"),
                }
            )
            continue
        summary = summaries.get(report)
        found = []
        if isinstance(summary, dict):
            if report == "02_ab_campaign":
                found = _verdicts(summary)
            elif report == "03_retention":
                found = _churn(summary, report)
            elif report == "04_sentiment":
                found = _alerts(summary)
            else:
                found = _gaps(summary, top_gaps)
                if not found and (summary.get("kpis") or summary.get("headline")):
                    found = [{"kind": "no_gap", "good": True}]
        if not found:
            found = [{"kind": "missing", "good": None, "in_run": isinstance(summary, dict)}]
        from_run = place.get("run") if isinstance(summary, dict) else None
        items += [
            {"report": report, "href": RunFolder.good(report).html, **f, **({"from_run": from_run} if from_run else {})}
            for f in found
        ]
    return items
