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

SUMMARY_SUFFIX = ".summary.json"


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
        kpis[name] = KPI(name, spec["report"], spec["key"], spec["unit"],
                         {k: v for k, v in spec.items() if k in ("zh", "en")})
    milestones = []
    for m in raw["milestones"]:
        unknown = set(m["targets"]) - set(kpis)
        if unknown:
            raise ValueError(f"{path}: milestone month {m['month']} targets unknown KPIs {', '.join(sorted(unknown))}; "
                             f"declare them under 'kpis'")
        milestones.append(Milestone(int(m["month"]), m.get("name", {}), dict(m["targets"])))
    start = raw["programme_start"]
    start = start if isinstance(start, _dt.date) else pd.Timestamp(start).date()
    return Targets(start, kpis, sorted(milestones, key=lambda m: m.month))


def read_summaries(folder) -> dict[str, dict]:
    """The summary JSON of every report in one dated folder: {report name: summary}."""
    out = {}
    for path in sorted(Path(folder).glob(f"*{SUMMARY_SUFFIX}")):
        name = path.name[: -len(SUMMARY_SUFFIX)]
        if name.endswith(".failed"):
            continue
        try:
            out[name] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue  # an unreadable summary is shown as missing, not fatal
    return out


def headline_value(summaries: dict, report: str, key: str):
    for h in summaries.get(report, {}).get("headline", []):
        if h.get("key") == key:
            return h.get("value")
    return None


def history(reports_root, until: str | None = None) -> pd.DataFrame:
    """Every headline figure of every dated run: run_date, report, key, label, value, unit, target, good."""
    rows = []
    for folder in sorted(Path(reports_root).glob("[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]")):
        if until is not None and folder.name > until:
            continue
        for report, summary in read_summaries(folder).items():
            for h in summary.get("headline", []):
                rows.append({"run_date": pd.Timestamp(folder.name), "report": report, "as_of": summary.get("as_of"),
                             **{k: h.get(k) for k in ("key", "label", "value", "unit", "target", "good")}})
    columns = ["run_date", "report", "as_of", "key", "label", "value", "unit", "target", "good"]
    return pd.DataFrame(rows, columns=columns)


def kpi_board(targets: Targets, summaries: dict, hist: pd.DataFrame, as_of, lang: str = "zh") -> pd.DataFrame:
    """One row per KPI: current value, the target that applies now, on/off track, change since the last run,
    and the trend across runs (for a sparkline)."""
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
        rows.append({
            "kpi": kpi.name, "label": kpi.label(lang), "unit": kpi.unit, "value": value,
            "target": current_target,
            "on_track": None if value is None or current_target is None else bool(value >= current_target),
            "change": None if value is None or previous is None else value - previous,
            "next_target": None if next_target is None else next_target.targets[kpi.name],
            "next_month": None if next_target is None else next_target.month,
            "trend": trend,
        })
    return pd.DataFrame(rows)


def milestone_table(targets: Targets, summaries: dict, as_of, lang: str = "zh") -> pd.DataFrame:
    """Each milestone target with its status: met / missed (due) or upcoming, judged on today's value."""
    month = targets.programme_month(as_of)
    rows = []
    for m in targets.milestones:
        for name, target in m.targets.items():
            kpi = targets.kpis[name]
            value = headline_value(summaries, kpi.report, kpi.key)
            met = None if value is None else bool(value >= target)
            state = "upcoming" if m.month > month else ("no_data" if met is None else ("met" if met else "missed"))
            rows.append({"month": m.month, "milestone": m.name(lang), "kpi": kpi.label(lang), "unit": kpi.unit,
                         "target": target, "value": value, "status": state})
    return pd.DataFrame(rows, columns=["month", "milestone", "kpi", "unit", "target", "value", "status"])


def sparkline_svg(values, width: int = 120, height: int = 28, colour: str = "#0072B2") -> str:
    """A tiny inline SVG line of a KPI's trend across runs (empty when there are fewer than two points)."""
    points = [float(v) for v in values if v is not None]
    if len(points) < 2:
        return ""
    lo, hi = min(points), max(points)
    span = (hi - lo) or 1.0
    step = (width - 4) / (len(points) - 1)
    coords = " ".join(f"{2 + i * step:.1f},{height - 2 - (p - lo) / span * (height - 4):.1f}"
                      for i, p in enumerate(points))
    last_x, last_y = coords.split(" ")[-1].split(",")
    return (f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="trend"><polyline fill="none" stroke="{colour}" stroke-width="1.8" points="{coords}"/>'
            f'<circle cx="{last_x}" cy="{last_y}" r="2.5" fill="{colour}"/></svg>')


def board_html(board: pd.DataFrame, messages, lang: str = "zh") -> str:
    """The KPI board as an HTML table: value, target, on/off-track mark, change since last run, sparkline."""
    import html as _html

    from fanlib.i18n import fmt_number

    head = "".join(f"<th>{_html.escape(messages(k))}</th>" for k in
                   ("col_kpi", "col_value", "col_target", "col_status", "col_change", "col_trend", "col_next"))
    rows = []
    for r in board.itertuples():
        if r.on_track is None:
            mark = f'<span style="color:#999">{_html.escape(messages("no_data" if r.value is None else "no_target"))}</span>'
        elif r.on_track:
            mark = f'<span style="color:#1e6b34;font-weight:700">✓ {_html.escape(messages("on_track"))}</span>'
        else:
            mark = f'<span style="color:#b3261e;font-weight:700">✗ {_html.escape(messages("off_track"))}</span>'
        change = "–" if r.change is None else (
            fmt_number(r.change, "pp", lang) if r.unit == "pct" else
            ("+" if r.change >= 0 else "") + fmt_number(r.change, r.unit, lang))
        nxt = "–" if r.next_target is None else messages("next_target", value=fmt_number(r.next_target, r.unit, lang),
                                                             month=r.next_month)
        rows.append(f"<tr><td>{_html.escape(r.label)}</td><td><b>{fmt_number(r.value, r.unit, lang)}</b></td>"
                    f"<td>{fmt_number(r.target, r.unit, lang) if r.target is not None else '–'}</td><td>{mark}</td>"
                    f"<td>{change}</td><td>{sparkline_svg(r.trend)}</td><td>{_html.escape(nxt)}</td></tr>")
    return (f'<table class="fanlib-table fanlib-board" style="max-width:100%"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


def attention_items(summaries: dict, skip_reports=("05_overview",)) -> list[dict]:
    """Headline figures that the reports themselves mark as not good, with their notes: the findings that
    need someone's attention, report by report."""
    items = []
    for report, summary in sorted(summaries.items()):
        if report in skip_reports:
            continue
        for h in summary.get("headline", []):
            if h.get("good") is False:
                items.append({"report": report, "key": h.get("key"), "label": h.get("label"), "value": h.get("value"),
                              "unit": h.get("unit"), "target": h.get("target"), "note": h.get("note")})
    return items
