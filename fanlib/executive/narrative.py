"""The overview in words: findings, actions and report lists as sentences from the ``executive`` catalogue.

Numbers and dates are in the locale's format; values from data are escaped for Markdown.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from fanlib.present.escape import md_text
from fanlib.present.i18n import DEFAULT_CURRENCY, fmt_date, fmt_number, fmt_period


def _fmt(T: Any, value: Any, unit: str, lang: str, digits: int = 1) -> str:
    """A figure in ``lang``, amounts in the currency of the catalogue ``T`` (the overview's ``currency``)."""
    return fmt_number(value, unit, lang, digits, currency=getattr(T, "currency", DEFAULT_CURRENCY))


def report_list(names: Iterable[str], common: Any, lang: str = "zh") -> str:
    """Report titles for a sentence; ``names`` as a dict adds each report's run time in brackets."""
    from fanlib.present.i18n import messages

    T = messages("executive", lang)
    runs = names if isinstance(names, dict) else {}
    titles = {n: common.label(f"report_{n}", n) for n in names}
    return T("list_sep").join(
        T("report_with_run", report=title, run=runs[n]) if runs.get(n) else title for n, title in titles.items()
    )


def finding_text(item: dict, messages: Any, lang: str = "zh") -> str:
    """One finding of :func:`key_findings` as a Markdown sentence from the ``executive`` catalogue
    (``messages``), numbers and dates in the locale's format, linking into the report it comes from;
    a finding from an earlier run says which run. Values from data (experiment, variant, channels,
    words) are escaped for Markdown."""
    text = _finding_sentence(item, messages, lang)
    return text + messages("from_run_note", run=item["from_run"]) if item.get("from_run") else text


def _finding_sentence(item: dict, messages, lang: str) -> str:
    T = messages
    report = T.label(f"report_{item['report']}", item["report"])
    where = {"report": report, "href": item["href"]}
    sep = T("list_sep")
    kind = item["kind"]
    if kind == "verdict":
        return T(
            "finding_verdict",
            **where,
            experiment=md_text(item.get("experiment") or "–"),
            variant=md_text(item.get("variant") or "–"),
            decision=md_text(T.label(f"decision_{item['decision']}", item["decision"])),
            detail=md_text(item.get("detail") or ""),
        )
    if kind == "churn":
        listed = T("finding_churn_list", href=item["list_href"]) if item.get("list_href") else ""
        return T(
            "finding_churn",
            **where,
            days=item.get("horizon_days") or "–",
            rate=_fmt(T, item.get("churn_rate"), "pct", lang),
            n=_fmt(T, item.get("at_risk"), "count", lang),
            list=listed,
        )
    if kind == "alerts" and item["open"]:
        return T(
            "finding_alerts_open",
            **where,
            n=item["open"],
            level=item.get("level") or "–",
            since=fmt_date(item.get("since"), lang),
            channels=sep.join(md_text(T.label(c)) for c in item["channels"]) or T("none_listed"),
            drivers=sep.join(md_text(d) for d in item["drivers"]) or T("none_listed"),
        )
    if kind == "alerts":
        return T(
            "finding_alerts_none", **where, in_period=item["in_period"] if item.get("in_period") is not None else "–"
        )
    if kind == "kpi_gap":
        return T(
            "finding_gap",
            **where,
            label=item["label"],
            value=_fmt(T, item["value"], item["unit"], lang),
            target=_fmt(T, item["target"], item["unit"], lang),
            gap=_fmt(T, item["relative_gap"], "pct", lang),
        )
    if kind == "no_gap":
        return T("finding_no_gap", **where)
    if kind == "missing":
        return T("finding_missing_keys", **where) if item.get("in_run") else T("finding_missing", report=report)
    if kind == "failed":
        return T("finding_failed" if item.get("in_run", True) else "finding_failed_last", **where)
    raise ValueError(f"unknown finding kind {kind!r} from {item['report']}")


def finding_todos(findings: list[dict], messages: Any, lang: str = "zh") -> list[str]:
    """The actions the findings call for: answer open crisis alerts, reach the at-risk fans, roll out a
    winning variant (KPI gaps and early warnings are listed by the overview from its own board).
    A failed report calls for no action here (its older figures are not used); an action drawn from an
    earlier run's figures says which run."""
    T = messages
    sep = T("list_sep")
    todos = []
    for item in findings:
        before = len(todos)
        where = {"report": T.label(f"report_{item['report']}", item["report"]), "href": item["href"]}
        if item["kind"] == "alerts" and item["open"]:
            todos.append(
                T(
                    "todo_alert",
                    **where,
                    level=item.get("level") or "–",
                    channels=sep.join(T.label(c) for c in item["channels"]) or T("none_listed"),
                )
            )
        elif item["kind"] == "churn" and item.get("at_risk"):
            todos.append(T("todo_at_risk", **where, n=_fmt(T, item["at_risk"], "count", lang)))
        elif item["kind"] == "verdict" and item["decision"] == "ship":
            todos.append(
                T("todo_ship", **where, experiment=item.get("experiment") or "–", variant=item.get("variant") or "–")
            )
        if len(todos) > before and item.get("from_run"):
            todos[-1] += T("from_run_note", run=item["from_run"])
    return todos


def milestone_rows(milestones: pd.DataFrame, T: Any, lang: str) -> pd.DataFrame:
    """The milestone table as shown: targets and values formatted, a value from an earlier run says which
    run, the status in words."""
    return milestones.assign(
        target=[_fmt(T, v, u, lang) for v, u in zip(milestones.target, milestones.unit, strict=True)],
        value=[
            _fmt(T, v, u, lang) + (T("milestone_from_run", text=T("from_run", run=run)) if run else "")
            for v, u, run in zip(milestones.value, milestones.unit, milestones.from_run, strict=True)
        ],
        status=[T(s) if s in T else s for s in milestones.status],
    ).drop(columns=["unit", "from_run"])


def warning_line(w: Any, top: Any, kpi_label: dict[str, str], T: Any, lang: str) -> str:
    """One early warning as a sentence: the KPI, the period, the move against the expected value and the
    group (``top``: the first row of its drill-down) that made most of it."""
    unit = warning_unit(w.kpi)
    return T(
        "warning_line",
        kpi=kpi_label[w.kpi],
        period=fmt_period(w.start, w.end, lang),
        direction=T(w.direction),
        change=_fmt(T, abs(w.change), "pct", lang),
        expected=_fmt(T, w.expected, unit, lang),
        actual=_fmt(T, w.actual, unit, lang),
        top=md_text(T.label(top["channel"])),
        share=_fmt(T, top["share_of_change"], "pct", lang),
    )


def warning_unit(kpi: str) -> str:
    """The unit an early-warning KPI's values are shown in."""
    return "cny" if kpi == "gmv" else "count"


def todo_items(
    board: pd.DataFrame, warning_rows: list[dict], findings: list[dict], kpi_label: dict[str, str], T: Any, lang: str
) -> list[str]:
    """What to do, most pressing first: the three KPIs furthest below target, each early warning, and the
    actions the reports' findings call for."""
    todo = []
    gaps = board[(board.on_track == False)].copy()  # noqa: E712 - None means no data, not off track
    if len(gaps):
        gaps["gap_rel"] = (gaps.target - gaps.value) / gaps.target
        for r in gaps.sort_values("gap_rel", ascending=False).head(3).itertuples():
            todo.append(
                T(
                    "todo_kpi",
                    kpi=r.label,
                    value=_fmt(T, r.value, r.unit, lang),
                    target=_fmt(T, r.target, r.unit, lang),
                    gap=_fmt(T, r.target - r.value, "pp" if r.unit == "pct" else r.unit, lang),
                )
                + (T("from_run_note", run=r.from_run) if r.from_run else "")
            )
    for w in warning_rows:
        todo.append(
            T(
                "todo_warning",
                kpi=kpi_label[w["kpi"]],
                period=fmt_period(w["start"], w["end"], lang),
                top=md_text(w["top"]),
            )
        )
    return todo + finding_todos(findings, T, lang)


def report_links(reports: dict[str, dict], summaries: dict[str, dict], common: Any, T: Any) -> list[str]:
    """One Markdown list item per report of the run: a link to its page, to its failure page (and its last
    good page), or a note that it is not in this run."""
    links = []
    for name, place in reports.items():
        title = common.label(f"report_{name}", name)
        if place["state"] == "ok" and place["run"]:
            links.append("- " + T("report_earlier", title=title, href=f"{name}.html", run=place["run"]))
        elif place["state"] == "ok":
            links.append(
                "- " + T("report_link", title=title, href=f"{name}.html", status=summaries[name].get("status", "ok"))
            )
        elif place["state"] == "failed":
            links.append(
                "- "
                + T("report_failed_link", title=title, href=f"{name}.failed.html")
                + (
                    T("report_last_good", href=f"{name}.html", run=place["last_good_run"])
                    if place["last_good_run"]
                    else ""
                )
            )
        else:
            links.append(f"- {title} — {T('report_missing')}")
    return links
