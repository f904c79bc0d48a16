"""The overview's charts: the KPI board with its sparklines (HTML), and one early warning's chart."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd
from matplotlib.axes import Axes

from fanlib.executive import narrative
from fanlib.executive.stats import baseline


def sparkline_svg(values: Iterable[float | None], width: int = 120, height: int = 28, colour: str = "#0072B2") -> str:
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


def board_html(board: pd.DataFrame, messages: Any, lang: str = "zh") -> str:
    """The KPI board as an HTML table: value, target, on/off-track mark, change since last run, sparkline."""
    import html as _html

    from fanlib.present.i18n import DEFAULT_CURRENCY, fmt_number

    currency = getattr(messages, "currency", DEFAULT_CURRENCY)

    def fmt(value: Any, unit: str) -> str:
        return fmt_number(value, unit, lang, currency=currency)

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
            else (fmt(r.change, "pp") if r.unit == "pct" else ("+" if r.change >= 0 else "") + fmt(r.change, r.unit))
        )
        nxt = (
            "–"
            if r.next_target is None
            else messages("next_target", value=fmt(r.next_target, r.unit), month=r.next_month)
        )
        # A value from an earlier run says which run, so it is never read as this run's.
        when = (
            f'<br><small style="color:#8a5300">{_html.escape(messages("from_run", run=from_run))}</small>'
            if from_run
            else ""
        )
        rows.append(
            f"<tr><td>{_html.escape(r.label)}</td><td><b>{fmt(r.value, r.unit)}</b>{when}</td>"
            f"<td>{fmt(r.target, r.unit) if r.target is not None else '–'}</td><td>{mark}</td>"
            f"<td>{change}</td><td>{sparkline_svg(r.trend)}</td><td>{_html.escape(nxt)}</td></tr>"
        )
    return (
        f'<table class="fanlib-table fanlib-board" style="max-width:100%"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def warning_chart(daily: pd.DataFrame, warning: Any, since: Any, T: Any, title: str) -> Axes:
    """One warning's KPI over the four weeks before ``since`` and after: actual against expected (dashed),
    the warned days shaded. ``warning``: a row of ``scan``; ``T``: the overview's catalogue. Returns the axes."""
    from fanlib.present import plotting

    base = baseline(daily.set_index("date")[warning.kpi], warning.kpi).frame
    recent = base[base.date >= since - pd.Timedelta(days=28)]
    ax = plotting.line(recent.rename(columns={"value": T("actual")}), "date", T("actual"), title=title)
    ax.lines[0].set_label(T("actual"))
    ax.plot(recent.date, recent.expected, color=plotting.NEUTRAL, linestyle="--", label=T("expected"))
    ax.axvspan(
        warning.start - pd.Timedelta(hours=12), warning.end + pd.Timedelta(hours=12), color=plotting.BAD, alpha=0.15
    )
    if narrative.warning_unit(warning.kpi) == "cny":
        plotting.money_axis(ax, "y", T)
    ax.legend(frameon=False)
    return ax
