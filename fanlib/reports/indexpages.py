"""The index pages: ``reports/<date>/index.html`` and ``reports/index.html``.

The dated page links every report of that day with its status and headline
figures (from each summary JSON's ``headline`` list), the executive overview
(the report whose manifest says ``runs_after_others``) first; the root page
lists every dated run, newest first, with its status counts and the leading
report's headline figures, read from the manifests and summaries on disk, so
the history stays browsable without recomputing anything. Both are single
offline files (inline CSS, no scripts), Chinese-capable and phone-friendly.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from fanlib.io import write_atomic
from fanlib.present.escape import csp_meta, html_text
from fanlib.reports.layout import DATE_PATTERN, INDEX_NAME, RunFolder, root_index
from fanlib.reports.status import error_text, failure_place

#: The overview report leads the page (also for manifests written before they recorded
#: ``runs_after_others``); the data overview closes it.
FIRST_PREFIXES = ("05_overview",)
LAST_PREFIXES = ("00_data_overview",)

FONT_STACK = (
    '"Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", '
    '"Hiragino Sans GB", "WenQuanYi Micro Hei", system-ui, -apple-system, "Segoe UI", '
    'Roboto, "Helvetica Neue", Arial, sans-serif'
)

_CSS = """
*{box-sizing:border-box}
body{font-family:@FONTS@;margin:0;padding:16px;color:#1f2933;background:#f5f7fa;line-height:1.5;
 overflow-wrap:anywhere}
main{max-width:1000px;margin:0 auto}
h1{font-size:1.5em;margin:.2em 0 .6em}
.meta{color:#52606d;font-size:.9em}
.card{background:#fff;border:1px solid #d9e2ec;border-left:6px solid #2f80ed;border-radius:8px;
 padding:12px 14px;margin:0 0 14px}
.card.failed{border-left-color:#c62828;background:#fffafa}
.card.partial{border-left-color:#d98e04}
.card h2{font-size:1.15em;margin:0 0 4px}
.card h2 a{color:#102a43;text-decoration:none}
.card h2 a:hover{text-decoration:underline}
.badge{display:inline-block;font-size:.8em;padding:1px 8px;border-radius:10px;margin-left:6px;
 vertical-align:middle;font-weight:normal}
.badge.ok{background:#e3f9e5;color:#1b5e20}
.badge.failed{background:#fdecea;color:#b71c1c}
.badge.partial{background:#fff4e5;color:#8a5300}
.error{color:#b71c1c;font-size:.9em;margin:4px 0}
.missing{color:#8a5300;font-size:.9em;margin:4px 0}
.links{font-size:.9em;margin:6px 0 0}
.links{display:flex;flex-wrap:wrap;gap:4px 14px}
.links a{color:#2f80ed;white-space:nowrap}
.figures{display:flex;flex-wrap:wrap;gap:8px;margin:10px 0 2px;padding:0;list-style:none}
.figure{flex:1 1 140px;max-width:100%;background:#f0f4f8;border-radius:6px;padding:6px 10px}
.figure .label{font-size:.85em;color:#52606d}
.figure .value{font-size:1.35em;font-weight:600}
.figure .target{font-size:.8em;color:#52606d}
.figure.good .value{color:#1b5e20}
.figure.bad .value{color:#b71c1c}
.stale{color:#8a5300;font-size:.85em;margin:8px 0 0}
.figures.earlier{opacity:.6}
.runs{list-style:none;padding:0;margin:0}
.empty{color:#52606d}
@media (max-width:480px){body{padding:10px}.figure{flex-basis:120px}}
""".replace("@FONTS@", FONT_STACK)


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
        f"{csp_meta()}\n"  # the index pages run no script at all
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="generator" content="fanlib">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n"
        f"<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


def _e(value: Any) -> str:
    return html_text(value)


# --------------------------------------------------------------------------- figures


def _zh_big(value: float, digits: int = 1) -> str:
    """Chinese business style: 1,234 / 12.3万 / 1.23亿."""
    a = abs(value)
    if a >= 1e8:
        return f"{value / 1e8:,.2f}亿"
    if a >= 1e4:
        return f"{value / 1e4:,.{digits}f}万"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.{digits}f}"


def format_figure(value: Any, unit: str | None) -> str:
    """A headline value for display, by the units of ``fanlib.present.notebook``'s headlines:
    pct 31.0%, pp +0.68 个百分点, cny ¥1,234.50 / ¥12.35万, count 12,345 / 12.3万,
    days 4.0 天, ratio 1.25×, number, text (shown as is)."""
    u = (unit or "number").lower()
    if value is None:
        return "—"
    if u == "text" or isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if not math.isfinite(value):
        return "—"
    if u == "pct":
        return f"{value * 100:.1f}%"
    if u == "pp":  # a difference of rates: +0.68 percentage points, never "0.7%"
        return f"{value * 100:+.2f} 个百分点"
    if u == "cny":
        return (
            ("-" if value < 0 else "") + "¥" + (_zh_big(abs(value), 2) if abs(value) >= 1e4 else f"{abs(value):,.2f}")
        )
    if u == "count":
        return _zh_big(round(value))
    if u == "days":
        return f"{value:,.1f} 天"
    if u == "ratio":
        return f"{value:.2f}×"
    if u == "number":
        return _zh_big(value, 1) if abs(value) >= 1e4 or float(value).is_integer() else f"{value:,.4g}"
    return f"{_zh_big(value)} {unit}"


def _figure_html(item: dict) -> str:
    unit = item.get("unit")
    good = item.get("good")
    cls = "figure" + (" good" if good is True else " bad" if good is False else "")
    mark = " ✓" if good is True else " ✗" if good is False else ""
    target = ""
    if item.get("target") is not None:
        target = f'<div class="target">目标 {_e(format_figure(item["target"], unit))}{mark}</div>'
    elif mark:
        target = f'<div class="target">{mark.strip()}</div>'
    label = item.get("label") or item.get("key") or ""
    return (
        f'<li class="{cls}"><div class="label">{_e(label)}</div>'
        f'<div class="value">{_e(format_figure(item.get("value"), unit))}</div>{target}</li>'
    )


def _figures(summary: dict | None, last_good: dict | None = None) -> str:
    """A card's headline figures. ``last_good``: the report failed in its latest run and these are its
    last good run's figures, so they carry that run's time and data date and are never read as current."""
    headline = (summary or {}).get("headline")
    if not isinstance(headline, list) or not headline:
        return ""
    items = "".join(_figure_html(h) for h in headline if isinstance(h, dict))
    if last_good is None:
        return f'<ul class="figures">{items}</ul>'
    when = format_time(last_good.get("finished_at")) or format_time(summary.get("generated_at")) or "?"
    as_of = format_time(summary.get("as_of"))
    note = (
        f"上次成功运行（{when}）的数字，不是本次运行的"
        + (f"，数据截至 {as_of}" if as_of else "")
        + f" · figures from the last good run of {when}, not from this run"
    )
    return f'<p class="stale">{_e(note)}</p><ul class="figures earlier">{items}</ul>'


# --------------------------------------------------------------------------- reading a date folder


def format_time(text: Any) -> str:
    """An ISO timestamp as "2025-12-31 16:05" in China Standard Time; a plain date as is."""
    if not text:
        return ""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    try:
        t = datetime.fromisoformat(str(text))
    except ValueError:
        return str(text)
    if len(str(text)) <= 10:
        return t.date().isoformat()
    if t.tzinfo is not None:
        t = t.astimezone(ZoneInfo("Asia/Shanghai"))
    return t.strftime("%Y-%m-%d %H:%M")


def _load(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def report_order(name: str, leads: bool = False) -> tuple:
    """Sort key: the overview (``leads``: its manifest says it runs after the others) first,
    the data overview last, the rest by name."""
    if leads or name.startswith(FIRST_PREFIXES):
        return (0, name)
    if name.startswith(LAST_PREFIXES):
        return (2, name)
    return (1, name)


def collect(date_dir: Path) -> list[dict]:
    """One entry per report in ``date_dir``: its latest status (ok, partial or failed, as its manifest
    records it), manifests and summaries (``failed_summary``: the summary of a report that ran but
    could not give its answer)."""
    folder = RunFolder(date_dir)
    entries = []
    for name in folder.report_names():
        good = _load(folder.manifest(name))
        failed = _load(folder.manifest(name, ok=False))
        latest = failed or good or {}
        summary = _load(folder.summary(name)) if good else None
        status = "failed" if failed else latest.get("status")
        entries.append(
            {
                "name": name,
                "status": status if status in ("ok", "partial") else "failed",
                "good": good,
                "failed": failed,
                "summary": summary,
                "failed_summary": _load(folder.summary(name, ok=False)) if failed else None,
                "leads": bool(latest.get("runs_after_others")),
            }
        )
    return sorted(entries, key=lambda e: report_order(e["name"], e["leads"]))


# --------------------------------------------------------------------------- pages


def _links(pairs: list[tuple[str, str]], folder: Path) -> str:
    shown = [f'<a href="{_e(href)}">{_e(text)}</a>' for text, href in pairs if (folder / href.rstrip("/")).exists()]
    return f'<div class="links">{"".join(shown)}</div>' if shown else ""


def date_index_html(date_dir: Path) -> str:
    """The HTML of ``reports/<date>/index.html``."""
    date_dir = Path(date_dir)
    entries = collect(date_dir)
    cards = []
    for e in entries:
        name, good, failed, summary = e["name"], e["good"], e["failed"], e["summary"]
        title = (good or failed or {}).get("title") or name
        bad, ok = RunFolder.failed(name), RunFolder.good(name)
        if failed:
            main_href = bad.html
            badge = '<span class="badge failed">失败 failed</span>'
            err = failed.get("error") or {}
            if err.get("from_summary"):  # every cell ran; the report says it could not give its answer
                detail = f'<p class="error">未能给出结论 could not answer: {_e(err.get("evalue", ""))}</p>'
            else:
                cell = f"{failure_place(err)}: " if failure_place(err) else ""
                detail = f'<p class="error">{_e(cell)}{_e(error_text(err, for_stakeholders=True))}</p>'
            when = failed.get("finished_at", "")
            links = [
                ("错误报告 error report", bad.html),
                ("含代码 with code", bad.analyst_html),
                ("notebook", bad.notebook),
                ("summary", bad.summary),
                ("manifest", bad.manifest),
                ("导出 exports", f"{bad.exports}/"),
            ]
            if good:
                links.append(("上次成功的报告 last good report", ok.html))
        else:
            main_href = ok.html
            detail, when = "", (good or {}).get("finished_at", "")
            if e["status"] == "partial":
                badge = '<span class="badge partial">部分 partial</span>'
                missing = "、".join((good or {}).get("sections_failed") or []) or "报告未列出 not named by the report"
                detail = f'<p class="missing">未生成的章节 sections not produced: {_e(missing)}</p>'
            else:
                badge = '<span class="badge ok">成功 ok</span>'
            links = [
                ("报告 report", ok.html),
                ("含代码 with code", ok.analyst_html),
                ("notebook", ok.notebook),
                ("summary", ok.summary),
                ("manifest", ok.manifest),
                ("导出 exports", f"{ok.exports}/"),
            ]
        # A report that could not answer shows its own figures of this run; else a failed card's are its last
        # good run's, labelled so.
        own = e["failed_summary"] if failed and (e["failed_summary"] or {}).get("headline") else None
        figures = _figures(own) if own else _figures(summary, good if failed else None)
        as_of = format_time((own or (summary if not failed else None) or {}).get("as_of"))
        secs = ((failed or good or {}).get("durations") or {}).get("total_s")
        meta = " · ".join(
            x
            for x in (
                f"数据截至 {as_of}" if as_of else "",
                f"生成于 {format_time(when)}" if when else "",
                f"用时 {secs:.0f} 秒" if isinstance(secs, (int, float)) else "",
            )
            if x
        )
        cards.append(
            f'<section class="card {_e(e["status"])}" id="{_e(name)}">'
            f'<h2><a href="{_e(main_href)}">{_e(title)}</a>{badge}</h2>'
            f'<div class="meta">{_e(name)}{" · " + _e(meta) if meta else ""}</div>'
            f"{detail}{figures}{_links(links, date_dir)}</section>"
        )
    body = (
        f"<h1>粉丝社群报告 · {_e(date_dir.name)}</h1>"
        f'<p class="meta">{len(entries)} 份报告 reports · {_counts(entries)} · '
        f'<a href="../{INDEX_NAME}">全部运行 all runs</a></p>'
        + ("".join(cards) if cards else '<p class="empty">还没有报告 (no reports yet).</p>')
    )
    return _page(f"粉丝社群报告 {date_dir.name}", body)


#: A dated run's badge on the runs page, by its worst report status.
RUN_BADGES = {"ok": "全部成功 all ok", "partial": "有部分报告 partial", "failed": "有失败 failures"}


def _counts(entries: list[dict]) -> str:
    """ "成功 5 ok · 失败 1 failed", with the partial reports between when there are any."""
    n = {s: sum(e["status"] == s for e in entries) for s in ("ok", "partial", "failed")}
    partial = f" · 部分 {n['partial']} partial" if n["partial"] else ""
    return f"成功 {n['ok']} ok{partial} · 失败 {n['failed']} failed"


def root_index_html(reports_dir: Path) -> str:
    """The HTML of ``reports/index.html``: every dated run, newest first."""
    reports_dir = Path(reports_dir)
    days = (
        sorted(
            (p for p in reports_dir.iterdir() if p.is_dir() and DATE_PATTERN.match(p.name)),
            key=lambda p: p.name,
            reverse=True,
        )
        if reports_dir.is_dir()
        else []
    )
    rows = []
    for day in days:
        entries = collect(day)
        if not entries:
            continue
        statuses = {e["status"] for e in entries}
        status = "failed" if "failed" in statuses else "partial" if "partial" in statuses else "ok"
        reports = []
        for e in entries:
            href = f"{day.name}/{RunFolder.files(e['name'], ok=e['status'] != 'failed').html}"
            mark = {"failed": "（失败 failed）", "partial": "（部分 partial）"}.get(e["status"], "")
            reports.append(
                f'<a href="{_e(href)}">{_e(e["name"])}</a>{mark}'
                if (reports_dir / href).exists()
                else f"{_e(e['name'])}{mark}"
            )
        finished = [
            str(m["finished_at"]) for e in entries for m in (e["good"], e["failed"]) if m and m.get("finished_at")
        ]
        when = format_time(max(finished)) if finished else ""
        lead = entries[0]
        figures = _figures(lead["summary"], lead["good"] if lead["failed"] else None)
        if figures:
            title = (lead["good"] or {}).get("title") or lead["name"]
            figures = f'<div class="meta">{_e(title)}</div>{figures}'
        rows.append(
            f'<li class="card {status}" id="run-{_e(day.name)}"><h2><a href="{_e(day.name)}/{INDEX_NAME}">'
            f"{_e(day.name)}</a>"
            f'<span class="badge {status}">{RUN_BADGES[status]}</span></h2>'
            f'<div class="meta">{len(entries)} 份报告 · {_counts(entries)}'
            f"{' · 生成于 ' + _e(when) if when else ''}</div>"
            f'{figures}<div class="links">{" ".join(reports)}</div></li>'
        )
    body = '<h1>粉丝社群报告 · 全部运行</h1><p class="meta">All report runs, newest first.</p>' + (
        f'<ul class="runs">{"".join(rows)}</ul>' if rows else '<p class="empty">还没有运行 (no runs yet).</p>'
    )
    return _page("粉丝社群报告 · 全部运行", body)


def write_root_index(reports_dir: Path) -> Path:
    """Rewrite ``reports/index.html`` (atomically), e.g. after old runs were pruned."""
    return write_atomic(root_index(reports_dir), root_index_html(Path(reports_dir)))


def write_indexes(date_dir: Path, reports_dir: Path | None = None) -> tuple[Path, Path]:
    """Rewrite both index pages (atomically); returns their paths."""
    date_dir = Path(date_dir)
    reports_dir = Path(reports_dir) if reports_dir else date_dir.parent
    a = write_atomic(RunFolder(date_dir).index, date_index_html(date_dir))
    b = write_atomic(root_index(reports_dir), root_index_html(reports_dir))
    return a, b
