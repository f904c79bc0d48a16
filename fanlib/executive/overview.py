"""The executive overview: targets, milestones and trends, read from the reports' summary files.

Nothing here recomputes an analysis. The four analysis reports write
``<name>.summary.json`` into each dated folder; this module reads the current
folder for today's figures and every earlier folder for trends, so history is
cheap and always agrees with what stakeholders were shown at the time.
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from fanlib.reports.layout import FAILED_MARK, SUMMARY_SUFFIX, RunFolder


@dataclass(frozen=True)
class KPI:
    name: str
    report: str
    key: str
    unit: str
    labels: dict  # lang -> label

    def label(self, lang: str) -> str:
        return self.labels.get(lang) or self.name


@dataclass(frozen=True)
class Milestone:
    month: int
    names: dict
    targets: dict  # kpi name -> target value (higher is better)

    def name(self, lang: str) -> str:
        return self.names.get(lang) or f"M{self.month}"


@dataclass(frozen=True)
class Targets:
    programme_start: _dt.date
    kpis: dict[str, KPI]
    milestones: list[Milestone]

    def programme_month(self, as_of) -> int:
        """1 in the programme's first month, 2 in the second, …; 0 before it starts."""
        as_of = pd.Timestamp(as_of).date()
        start = self.programme_start
        if as_of < start:
            return 0
        return (as_of.year - start.year) * 12 + (as_of.month - start.month) + (1 if as_of.day >= start.day else 0)


def load_targets(path) -> Targets:
    """Read ``params/targets.yaml``; every milestone target must name a declared KPI."""
    from fanlib.paths import resolve

    path = resolve(path)
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    for field in ("programme_start", "kpis", "milestones"):
        if field not in raw:
            raise ValueError(f"{path}: '{field}' is missing")
    kpis = {}
    for name, spec in raw["kpis"].items():
        missing = {"report", "key", "unit"} - set(spec)
        if missing:
            raise ValueError(f"{path}: KPI {name!r} lacks {', '.join(sorted(missing))}")
        kpis[name] = KPI(
            name, spec["report"], spec["key"], spec["unit"], {k: v for k, v in spec.items() if k in ("zh", "en")}
        )
    milestones = []
    for m in raw["milestones"]:
        unknown = set(m["targets"]) - set(kpis)
        if unknown:
            raise ValueError(
                f"{path}: milestone month {m['month']} targets unknown KPIs {', '.join(sorted(unknown))}; "
                f"declare them under 'kpis'"
            )
        milestones.append(Milestone(int(m["month"]), m.get("name", {}), dict(m["targets"])))
    start = raw["programme_start"]
    start = start if isinstance(start, _dt.date) else pd.Timestamp(start).date()
    return Targets(start, kpis, sorted(milestones, key=lambda m: m.month))


def wait_for_reports(
    folder, names, since: float | None, *, timeout_s: float | None = None, poll_s: float = 0.25
) -> dict[str, str]:
    """Block until each report in ``names`` has written its manifest (``ok`` or ``failed``) into
    ``folder`` at or after ``since`` (seconds since the epoch); returns {name: "ok" | "failed"}.

    The runner starts the overview while the last reports are still running, so its own data
    work overlaps theirs; the summaries are read only after this returns. Manifests from an
    earlier run of the same day are older than ``since`` and do not count. Raises
    ``TimeoutError`` naming the reports still missing after ``timeout_s``.
    """
    import time

    folder = Path(folder)
    pending = list(dict.fromkeys(names))
    done: dict[str, str] = {}
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        for name in list(pending):
            for state, path in (
                ("ok", RunFolder(folder).manifest(name)),
                ("failed", RunFolder(folder).manifest(name, ok=False)),
            ):
                try:
                    fresh = since is None or path.stat().st_mtime >= since
                except FileNotFoundError:
                    continue
                if fresh:
                    done[name] = state
                    pending.remove(name)
                    break
        if not pending:
            return done
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"reports still running after {timeout_s:.0f} s: {', '.join(pending)}")
        time.sleep(poll_s)


def read_summaries(folder) -> dict[str, dict]:
    """The summary JSON of every report in one dated folder: {report name: summary}."""
    return read_summaries_of(folder)


def read_summaries_of(folder, names=None) -> dict[str, dict]:
    """Like :func:`read_summaries`, limited to ``names`` when given."""
    out = {}
    paths = (
        sorted(Path(folder).glob(f"*{SUMMARY_SUFFIX}"))
        if names is None
        else [RunFolder(folder).summary(n) for n in names if RunFolder(folder).summary(n).exists()]
    )
    for path in paths:
        name = path.name[: -len(SUMMARY_SUFFIX)]
        if name.endswith(FAILED_MARK):
            continue
        try:
            out[name] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue  # an unreadable summary is shown as missing, not fatal
    return out


def report_states(folder, names) -> dict[str, str]:
    """Each report's state in one dated folder: "ok" (a summary), "failed" (only a failure page this
    run) or "missing" (not run)."""
    folder = Path(folder)
    states = {}
    for name in names:
        if RunFolder(folder).manifest(name, ok=False).exists():
            states[name] = "failed"
        elif RunFolder(folder).summary(name).exists():
            states[name] = "ok"
        else:
            states[name] = "missing"
    return states


def run_time(folder, name: str) -> str:
    """When report ``name``'s last good run in ``folder`` finished, as "2025-12-31 16:05" (China time),
    from its manifest, else its summary; the folder's date if neither says."""
    from fanlib.reports.indexpages import format_time

    folder = Path(folder)
    for path, key in (
        (RunFolder(folder).manifest(name), "finished_at"),
        (RunFolder(folder).summary(name), "generated_at"),
    ):
        try:
            when = json.loads(path.read_text(encoding="utf-8")).get(key)
        except (OSError, ValueError, AttributeError):
            continue
        if when:
            return format_time(when)
    return folder.name


def run_reports(folder, names, states: dict[str, str] | None = None) -> dict[str, dict]:
    """Each report's place in this run, so no earlier run's figure is shown as this run's.

    ``states``: what :func:`wait_for_reports` returned for the reports of this run. Per report:
    ``state`` "ok", "failed" (this run, or its latest run when it was not part of this one: its older
    summary is never used) or "missing"; ``in_run``; ``summary`` (only when ok); ``run``: for an ok
    report that was not part of this run, when its figures were made (None for this run's).
    """
    folder = Path(folder)
    states = states or {}
    out = {}
    for name in names:
        in_run = name in states
        state = states[name] if in_run else report_states(folder, [name])[name]
        summary = read_summaries_of(folder, [name]).get(name) if state == "ok" else None
        if state == "ok" and summary is None:
            state = "missing"
        last_good = RunFolder(folder).html(name).exists()
        out[name] = {
            "state": state,
            "in_run": in_run,
            "summary": summary,
            "run": None if in_run or state != "ok" else run_time(folder, name),
            "last_good_run": run_time(folder, name) if state == "failed" and last_good else None,
        }
    return out


def current_summaries(reports: dict[str, dict]) -> dict[str, dict]:
    """The summaries the overview may show: this run's, and those of reports not in this run (labelled
    with their run by the caller); never a failed report's older summary."""
    return {n: r["summary"] for n, r in reports.items() if r["state"] == "ok"}


def earlier_runs(reports: dict[str, dict]) -> dict[str, str]:
    """{report: run time} of the ok reports whose figures come from an earlier run than this one."""
    return {n: r["run"] for n, r in reports.items() if r["state"] == "ok" and r["run"]}


def failed_reports(reports: dict[str, dict]) -> list[str]:
    return [n for n, r in reports.items() if r["state"] == "failed"]


def report_list(names, common, lang: str = "zh") -> str:
    """Report titles for a sentence; ``names`` as a dict adds each report's run time in brackets."""
    sep, (op, cl) = ("、", "（）") if lang == "zh" else (", ", (" (", ")"))
    runs = names if isinstance(names, dict) else {}
    return sep.join(common.label(f"report_{n}", n) + (f"{op}{runs[n]}{cl}" if runs.get(n) else "") for n in names)


def headline_value(summaries: dict, report: str, key: str):
    """A report's figure ``key``: from its summary's headline list, else from its KPI scorecard
    (``kpis``: records with ``kpi`` and ``value``, as 01_fan_profiling writes them); None if absent."""
    summary = summaries.get(report, {})
    for h in summary.get("headline", []):
        if h.get("key") == key:
            return h.get("value")
    for row in summary.get("kpis", []) if isinstance(summary.get("kpis"), list) else []:
        if isinstance(row, dict) and row.get("kpi") == key:
            return row.get("value")
    return None


def missing_kpis(targets: Targets, summaries: dict) -> list[str]:
    """ "report:key" of every KPI in the targets file that this run's summaries do not provide."""
    return [f"{k.report}:{k.key}" for k in targets.kpis.values() if headline_value(summaries, k.report, k.key) is None]


def history(reports_root, until: str | None = None, current: dict | None = None) -> pd.DataFrame:
    """Every headline figure of every dated run: run_date, report, key, label, value, unit, target, good.

    ``current``: the summaries to use for the ``until`` folder (this run's), so a failed report's older
    summary in that folder never becomes the trend's latest point."""
    rows = []
    for folder in sorted(Path(reports_root).glob("[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]")):
        if until is not None and folder.name > until:
            continue
        found = current if current is not None and folder.name == until else read_summaries(folder)
        for report, summary in found.items():
            for h in summary.get("headline", []):
                rows.append(
                    {
                        "run_date": pd.Timestamp(folder.name),
                        "report": report,
                        "as_of": summary.get("as_of"),
                        **{k: h.get(k) for k in ("key", "label", "value", "unit", "target", "good")},
                    }
                )
    columns = ["run_date", "report", "as_of", "key", "label", "value", "unit", "target", "good"]
    return pd.DataFrame(rows, columns=columns)


def kpi_board(
    targets: Targets, summaries: dict, hist: pd.DataFrame, as_of, lang: str = "zh", reports: dict | None = None
) -> pd.DataFrame:
    """One row per KPI: current value, the target that applies now, on/off track, change since the last run,
    and the trend across runs (for a sparkline).

    ``reports`` (from :func:`run_reports`): ``from_run`` names the earlier run a value comes from, and
    ``report_failed`` marks the KPIs of a report that failed (no value: its older one is left out)."""
    earlier = earlier_runs(reports or {})
    failed = set(failed_reports(reports or {}))
    month = targets.programme_month(as_of)
    rows = []
    for kpi in targets.kpis.values():
        value = headline_value(summaries, kpi.report, kpi.key)
        due = [m for m in targets.milestones if kpi.name in m.targets and m.month <= month]
        upcoming = [m for m in targets.milestones if kpi.name in m.targets and m.month > month]
        current_target = due[-1].targets[kpi.name] if due else None
        next_target = upcoming[0] if upcoming else None
        past = hist[(hist.report == kpi.report) & (hist.key == kpi.key)].sort_values("run_date")
        trend = [v for v in past["value"].tolist() if v is not None]
        previous = trend[-2] if len(trend) >= 2 else None
        rows.append(
            {
                "kpi": kpi.name,
                "label": kpi.label(lang),
                "unit": kpi.unit,
                "value": value,
                "target": current_target,
                "on_track": None if value is None or current_target is None else bool(value >= current_target),
                "change": None if value is None or previous is None else value - previous,
                "next_target": None if next_target is None else next_target.targets[kpi.name],
                "next_month": None if next_target is None else next_target.month,
                "trend": trend,
                "from_run": earlier.get(kpi.report) if value is not None else None,
                "report_failed": kpi.report in failed,
            }
        )
    return pd.DataFrame(rows)


def milestone_table(
    targets: Targets, summaries: dict, as_of, lang: str = "zh", reports: dict | None = None
) -> pd.DataFrame:
    """Each milestone target with its status: met / missed (due) or upcoming, judged on today's value;
    ``report_failed`` when the KPI's report failed, ``from_run`` when the value is an earlier run's."""
    earlier = earlier_runs(reports or {})
    failed = set(failed_reports(reports or {}))
    month = targets.programme_month(as_of)
    rows = []
    for m in targets.milestones:
        for name, target in m.targets.items():
            kpi = targets.kpis[name]
            value = headline_value(summaries, kpi.report, kpi.key)
            met = None if value is None else bool(value >= target)
            state = (
                "upcoming"
                if m.month > month
                else (
                    ("report_failed" if kpi.report in failed else "no_data")
                    if met is None
                    else ("met" if met else "missed")
                )
            )
            rows.append(
                {
                    "month": m.month,
                    "milestone": m.name(lang),
                    "kpi": kpi.label(lang),
                    "unit": kpi.unit,
                    "target": target,
                    "value": value,
                    "status": state,
                    "from_run": earlier.get(kpi.report) if value is not None else None,
                }
            )
    return pd.DataFrame(rows, columns=["month", "milestone", "kpi", "unit", "target", "value", "status", "from_run"])


def sparkline_svg(values, width: int = 120, height: int = 28, colour: str = "#0072B2") -> str:
    """A tiny inline SVG line of a KPI's trend across runs (empty when there are fewer than two points)."""
    points = [float(v) for v in values if v is not None]
    if len(points) < 2:
        return ""
    lo, hi = min(points), max(points)
    span = (hi - lo) or 1.0
    step = (width - 4) / (len(points) - 1)
    coords = " ".join(
        f"{2 + i * step:.1f},{height - 2 - (p - lo) / span * (height - 4):.1f}" for i, p in enumerate(points)
    )
    last_x, last_y = coords.split(" ")[-1].split(",")
    return (
        f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="trend"><polyline fill="none" stroke="{colour}" stroke-width="1.8" points="{coords}"/>'
        f'<circle cx="{last_x}" cy="{last_y}" r="2.5" fill="{colour}"/></svg>'
    )


def board_html(board: pd.DataFrame, messages, lang: str = "zh") -> str:
    """The KPI board as an HTML table: value, target, on/off-track mark, change since last run, sparkline."""
    import html as _html

    from fanlib.present.i18n import fmt_number

    head = "".join(
        f"<th>{_html.escape(messages(k))}</th>"
        for k in ("col_kpi", "col_value", "col_target", "col_status", "col_change", "col_trend", "col_next")
    )
    rows = []
    for r in board.itertuples():
        failed = bool(getattr(r, "report_failed", False))
        from_run = getattr(r, "from_run", None)
        if r.on_track is None:
            why = "report_failed" if failed else ("no_data" if r.value is None else "no_target")
            mark = f'<span style="color:#999">{_html.escape(messages(why))}</span>'
        elif r.on_track:
            mark = f'<span style="color:#1e6b34;font-weight:700">✓ {_html.escape(messages("on_track"))}</span>'
        else:
            mark = f'<span style="color:#b3261e;font-weight:700">✗ {_html.escape(messages("off_track"))}</span>'
        change = (
            "–"
            if r.change is None
            else (
                fmt_number(r.change, "pp", lang)
                if r.unit == "pct"
                else ("+" if r.change >= 0 else "") + fmt_number(r.change, r.unit, lang)
            )
        )
        nxt = (
            "–"
            if r.next_target is None
            else messages("next_target", value=fmt_number(r.next_target, r.unit, lang), month=r.next_month)
        )
        # A value from an earlier run says which run, so it is never read as this run's.
        when = (
            f'<br><small style="color:#8a5300">{_html.escape(messages("from_run", run=from_run))}</small>'
            if from_run
            else ""
        )
        rows.append(
            f"<tr><td>{_html.escape(r.label)}</td><td><b>{fmt_number(r.value, r.unit, lang)}</b>{when}</td>"
            f"<td>{fmt_number(r.target, r.unit, lang) if r.target is not None else '–'}</td><td>{mark}</td>"
            f"<td>{change}</td><td>{sparkline_svg(r.trend)}</td><td>{_html.escape(nxt)}</td></tr>"
        )
    return (
        f'<table class="fanlib-table fanlib-board" style="max-width:100%"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


# --------------------------------------------------------------------------- what changed and what to do

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


def finding_text(item: dict, messages, lang: str = "zh") -> str:
    """One finding of :func:`key_findings` as a Markdown sentence from the ``executive`` catalogue
    (``messages``), numbers and dates in the locale's format, linking into the report it comes from;
    a finding from an earlier run says which run. Values from data (experiment, variant, channels,
    words) are escaped for Markdown."""
    text = _finding_sentence(item, messages, lang)
    return text + messages("from_run_note", run=item["from_run"]) if item.get("from_run") else text


def _finding_sentence(item: dict, messages, lang: str) -> str:
    from fanlib.present.escape import md_text
    from fanlib.present.i18n import fmt_date, fmt_number

    T = messages
    report = T.label(f"report_{item['report']}", item["report"])
    where = {"report": report, "href": item["href"]}
    sep = "、" if lang == "zh" else ", "
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
            rate=fmt_number(item.get("churn_rate"), "pct", lang),
            n=fmt_number(item.get("at_risk"), "count", lang),
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
            value=fmt_number(item["value"], item["unit"], lang),
            target=fmt_number(item["target"], item["unit"], lang),
            gap=fmt_number(item["relative_gap"], "pct", lang),
        )
    if kind == "no_gap":
        return T("finding_no_gap", **where)
    if kind == "missing":
        return T("finding_missing_keys", **where) if item.get("in_run") else T("finding_missing", report=report)
    if kind == "failed":
        return T("finding_failed" if item.get("in_run", True) else "finding_failed_last", **where)
    raise ValueError(f"unknown finding kind {kind!r} from {item['report']}")


def finding_todos(findings: list[dict], messages, lang: str = "zh") -> list[str]:
    """The actions the findings call for: answer open crisis alerts, reach the at-risk fans, roll out a
    winning variant (KPI gaps and early warnings are listed by the overview from its own board).
    A failed report calls for no action here (its older figures are not used); an action drawn from an
    earlier run's figures says which run."""
    T = messages
    sep = "、" if lang == "zh" else ", "
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
            from fanlib.present.i18n import fmt_number

            todos.append(T("todo_at_risk", **where, n=fmt_number(item["at_risk"], "count", lang)))
        elif item["kind"] == "verdict" and item["decision"] == "ship":
            todos.append(
                T("todo_ship", **where, experiment=item.get("experiment") or "–", variant=item.get("variant") or "–")
            )
        if len(todos) > before and item.get("from_run"):
            todos[-1] += T("from_run_note", run=item["from_run"])
    return todos
