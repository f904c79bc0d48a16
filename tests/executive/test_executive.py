"""The executive layer reads targets and summary files; trends come from earlier runs' summaries."""

import json
import re
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from fanlib import executive as ex

TARGETS = """
programme_start: 2024-07-01
kpis:
  members: {report: 01_fan_profiling, key: members, unit: count, zh: 会员数, en: Members}
  dau_rate: {report: 01_fan_profiling, key: dau_rate, unit: pct, zh: 日活跃率, en: Daily active rate}
milestones:
  - {month: 3, name: {zh: 种子期, en: Seed}, targets: {members: 1000, dau_rate: 0.15}}
  - {month: 12, name: {en: Year one}, targets: {dau_rate: 0.45}}
"""


def _write_run(root, date, members, dau):
    folder = root / date
    folder.mkdir(parents=True)
    summary = {
        "report": "01_fan_profiling",
        "as_of": date,
        "headline": [
            {"key": "members", "label": "Members", "value": members, "unit": "count"},
            {"key": "dau_rate", "label": "DAU", "value": dau, "unit": "pct"},
        ],
    }
    (folder / "01_fan_profiling.summary.json").write_text(json.dumps(summary), encoding="utf-8")
    (folder / "02_x.failed.summary.json").write_text("{not json", encoding="utf-8")
    return folder


@pytest.fixture()
def targets(tmp_path):
    path = tmp_path / "targets.yaml"
    path.write_text(TARGETS, encoding="utf-8")
    return ex.load_targets(path)


def test_programme_month(targets):
    assert targets.programme_month("2024-06-30") == 0
    assert targets.programme_month("2024-07-01") == 1
    assert targets.programme_month("2024-09-30") == 3
    assert targets.programme_month("2024-10-01") == 4
    assert targets.programme_month("2025-12-31") == 18


def test_board_and_milestones_from_summaries_and_history(tmp_path, targets):
    _write_run(tmp_path, "2024-10-07", 800, 0.10)
    current = _write_run(tmp_path, "2024-10-14", 1200, 0.12)
    summaries = ex.read_summaries(current)
    assert list(summaries) == ["01_fan_profiling"]
    hist = ex.history(tmp_path)
    assert len(hist) == 4 and set(hist.run_date.dt.strftime("%F")) == {"2024-10-07", "2024-10-14"}
    board = ex.kpi_board(targets, summaries, hist, "2024-10-14", lang="en").set_index("kpi")
    assert board.loc["members", "on_track"] and not board.loc["dau_rate", "on_track"]
    assert board.loc["members", "change"] == 400
    assert board.loc["dau_rate", "change"] == pytest.approx(0.02)
    assert board.loc["dau_rate", "trend"] == [0.10, 0.12]
    assert board.loc["dau_rate", "next_target"] == 0.45 and board.loc["dau_rate", "next_month"] == 12
    table = ex.milestone_table(targets, summaries, "2024-10-14", lang="zh")
    status = dict(zip(zip(table.month, table.kpi, strict=True), table.status, strict=True))
    assert status[(3, "会员数")] == "met" and status[(3, "日活跃率")] == "missed"
    assert status[(12, "日活跃率")] == "upcoming"


def test_history_can_stop_at_a_date(tmp_path):
    _write_run(tmp_path, "2024-10-07", 800, 0.10)
    _write_run(tmp_path, "2024-10-14", 1200, 0.12)
    assert set(ex.history(tmp_path, until="2024-10-07").run_date) == {pd.Timestamp("2024-10-07")}


def test_a_milestone_on_an_undeclared_kpi_is_a_clear_error(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text(TARGETS.replace("targets: {dau_rate: 0.45}", "targets: {nps: 70}"), encoding="utf-8")
    with pytest.raises(ValueError, match="unknown KPIs nps"):
        ex.load_targets(path)


def test_the_shipped_targets_file_holds_the_planning_milestones():
    t = ex.load_targets("params/targets.yaml")
    by_month = {m.month: m.targets for m in t.milestones}
    assert by_month[3] == {"members": 1000, "dau_rate": 0.15, "retention_d7": 0.50}
    assert by_month[4] == {"members": 10000, "dau_rate": 0.20}
    assert by_month[5] == {"ugc_share": 0.15}
    assert by_month[7] == {"conversion": 0.03}
    assert by_month[12] == {"dau_rate": 0.45, "conversion": 0.05}
    assert by_month[18] == {"dau_rate": 0.55}


# --------------------------------------------------------------------------- what changed and what to do

# Summaries shaped as 01–04 write them (the keys the overview reads).
SUMMARIES = {
    "01_fan_profiling": {
        "headline": [{"key": "dau_rate", "value": 0.2, "unit": "pct", "target": 0.55, "good": False}],
        "kpis": [
            {
                "kpi": "dau_rate",
                "label": "DAU rate",
                "unit": "pct",
                "value": 0.2,
                "target": 0.55,
                "good": False,
                "relative_gap": -0.636,
            },
            {
                "kpi": "ugc_share",
                "label": "UGC",
                "unit": "pct",
                "value": 0.5,
                "target": 0.4,
                "good": True,
                "relative_gap": 0.25,
            },
            {
                "kpi": "speaking_rate",
                "label": "Speaking",
                "unit": "pct",
                "value": 0.3,
                "target": 0.35,
                "good": False,
                "relative_gap": -0.143,
            },
            {
                "kpi": "messages_per_1k_day",
                "label": "Messages",
                "unit": "number",
                "value": 8.0,
                "target": 89.0,
                "good": False,
                "relative_gap": -0.91,
            },
            {
                "kpi": "repurchase_rate",
                "label": "Repurchase",
                "unit": "pct",
                "value": 0.45,
                "target": 0.5,
                "good": False,
                "relative_gap": -0.1,
            },
            {
                "kpi": "conversion_rate",
                "label": "Conversion",
                "unit": "pct",
                "value": 0.04,
                "target": 0.08,
                "good": False,
                "relative_gap": -0.5,
            },
        ],
    },
    "02_ab_campaign": {
        "verdict": "ship",
        "headline": [{"key": "verdict", "value": "ship", "unit": "text"}],
        "experiment": {
            "experiment_id": "exp_coupon",
            "verdicts": [
                {"variant": "treatment", "decision": "ship", "text": "conversion +2.0 pp"},
                {"variant": "bigger_coupon", "decision": "don't ship", "reason": "guardrail active"},
            ],
        },
    },
    "03_retention": {
        "headline": [
            {"key": "retention_d7", "value": 0.44, "unit": "pct"},
            {"key": "at_risk_fans", "value": 500, "unit": "count"},
        ],
        "churn_model": {
            "best": "logistic",
            "horizon_days": 30,
            "metrics": {"logistic": {"base_rate": 0.167}, "boosting": {"base_rate": 0.9}},
        },
        "at_risk": {"fans": 500, "files": {"csv": "03_retention_at_risk.csv", "xlsx": "03_retention_at_risk.xlsx"}},
    },
    "04_sentiment": {
        "headline": [
            {"key": "open_alerts", "value": 2, "unit": "count", "good": False},
            {"key": "alerts_in_period", "value": 3, "unit": "count"},
        ],
        "open_alerts": [
            {"level": "III", "start": "2025-12-20 00:00:00", "channels": ["douyin"], "drivers": ["快递"]},
            {
                "level": "II",
                "start": "2025-12-29 00:00:00",
                "channels": ["weibo", "xiaohongshu"],
                "drivers": ["过敏", "退货", "失望", "退款", "避雷", "差评"],
            },
        ],
    },
}


def test_key_findings_read_what_each_report_writes():
    items = ex.key_findings(SUMMARIES)
    by_kind = {}
    for it in items:
        by_kind.setdefault(it["kind"], []).append(it)
    assert [it["report"] for it in items][:2] == ["02_ab_campaign", "02_ab_campaign"]
    assert [(v["variant"], v["decision"], v["good"]) for v in by_kind["verdict"]] == [
        ("treatment", "ship", True),
        ("bigger_coupon", "don't ship", False),
    ]
    assert by_kind["verdict"][1]["detail"] == "guardrail active"
    churn = by_kind["churn"][0]
    assert churn["churn_rate"] == 0.167 and churn["horizon_days"] == 30 and churn["at_risk"] == 500
    assert churn["href"] == "03_retention.html" and churn["list_href"] == "03_retention_files/03_retention_at_risk.xlsx"
    alerts = by_kind["alerts"][0]
    assert alerts["open"] == 2 and alerts["level"] == "II" and alerts["channels"] == ["weibo", "xiaohongshu"]
    assert alerts["drivers"] == ["过敏", "退货", "失望", "退款", "避雷"] and alerts["good"] is False
    gaps = by_kind["kpi_gap"]
    assert [g["kpi"] for g in gaps] == ["messages_per_1k_day", "dau_rate", "conversion_rate"]  # the 3 biggest
    assert gaps[0]["relative_gap"] == pytest.approx(0.91) and all(g["href"] == "01_fan_profiling.html" for g in gaps)


def test_key_findings_say_when_a_report_is_missing_or_all_is_well():
    calm = {
        "04_sentiment": {
            "headline": [
                {"key": "open_alerts", "value": 0, "unit": "count", "good": True},
                {"key": "alerts_in_period", "value": 1, "unit": "count"},
            ],
            "open_alerts": [],
        },
        "01_fan_profiling": {"kpis": [{"kpi": "dau_rate", "value": 0.6, "target": 0.55, "good": True}]},
        "03_retention": {"headline": [{"key": "retention_d7", "value": 0.5}]},
    }  # neither churn nor at-risk
    items = {it["report"]: it for it in ex.key_findings(calm)}
    assert items["04_sentiment"]["kind"] == "alerts" and items["04_sentiment"]["open"] == 0
    assert items["04_sentiment"]["good"] is True and items["04_sentiment"]["in_period"] == 1
    assert items["01_fan_profiling"]["kind"] == "no_gap"
    assert items["03_retention"] == {
        "report": "03_retention",
        "href": "03_retention.html",
        "kind": "missing",
        "good": None,
        "in_run": True,
    }
    assert items["02_ab_campaign"]["kind"] == "missing" and items["02_ab_campaign"]["in_run"] is False


def test_verdict_falls_back_to_the_headline():
    items = ex.key_findings(
        {
            "02_ab_campaign": {
                "headline": [{"key": "verdict", "value": "inconclusive", "note": "conversion +1.5 pp [-1.7, 4.7]"}]
            }
        }
    )
    assert items[0]["kind"] == "verdict" and items[0]["decision"] == "inconclusive"
    assert items[0]["detail"] == "conversion +1.5 pp [-1.7, 4.7]" and items[0]["good"] is None


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_findings_and_todos_render_in_both_languages_with_links(lang):
    from fanlib.present.i18n import messages

    T = messages("executive", lang)
    items = ex.key_findings(SUMMARIES)
    lines = [ex.narrative.finding_text(it, T, lang) for it in items]
    text = "\n".join(lines)
    for report in ("02_ab_campaign", "03_retention", "04_sentiment", "01_fan_profiling"):
        assert f"]({report}.html)" in text
    assert "](03_retention_files/03_retention_at_risk.xlsx)" in text
    assert "16.7%" in text and "500" in text and "63.6%" in text and "91.0%" in text
    if lang == "zh":
        assert "全量上线" in text and "不上线" in text and "微博、小红书" in text and "2025年12月29日" in text
    else:
        assert "**ship**" in text and "**don't ship**" in text and "Weibo, Xiaohongshu" in text
        assert "29 Dec 2025" in text
        assert not re.search(r"[\u4e00-\u9fff]", text.replace("过敏, 退货, 失望, 退款, 避雷", ""))
    todos = ex.narrative.finding_todos(items, T, lang)
    assert len(todos) == 3  # the open alert, the at-risk list, the variant to roll out
    assert all("](" in t for t in todos)


def test_board_reads_a_kpi_from_the_scorecard_when_it_is_not_a_headline(tmp_path, targets):
    summaries = {"01_fan_profiling": {"headline": [], "kpis": [{"kpi": "members", "value": 1500}]}}
    assert ex.headline_value(summaries, "01_fan_profiling", "members") == 1500
    assert ex.missing_kpis(targets, summaries) == ["01_fan_profiling:dau_rate"]
    assert ex.missing_kpis(targets, {}) == ["01_fan_profiling:members", "01_fan_profiling:dau_rate"]


def test_report_states_tell_failed_from_missing(tmp_path):
    (tmp_path / "01_fan_profiling.summary.json").write_text("{}", encoding="utf-8")
    (tmp_path / "02_ab_campaign.summary.json").write_text("{}", encoding="utf-8")  # an earlier good run
    (tmp_path / "02_ab_campaign.failed.manifest.json").write_text("{}", encoding="utf-8")
    assert ex.report_states(tmp_path, ["01_fan_profiling", "02_ab_campaign", "03_retention"]) == {
        "01_fan_profiling": "ok",
        "02_ab_campaign": "failed",
        "03_retention": "missing",
    }


# --------------------------------------------------------------------------- on a full run of the suite


def _overview_summary(day):
    path = day / "05_overview.summary.json"
    assert path.exists(), f"the overview did not render: {sorted(p.name for p in day.glob('05_overview*'))}"
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.slow
def test_the_overview_finds_every_target_kpi_in_the_reports_summaries(suite_run):
    day, _ = suite_run
    overview = _overview_summary(day)
    targets = ex.load_targets("params/targets.yaml")
    assert overview["kpis_missing"] == [], (
        f"params/targets.yaml expects these headline keys, which this run's summaries lack: {overview['kpis_missing']}"
    )
    assert {b["kpi"] for b in overview["board"] if b["value"] is not None} == set(targets.kpis)


@pytest.mark.slow
def test_the_overview_gathers_each_reports_key_finding(suite_run):
    day, _ = suite_run
    findings = _overview_summary(day)["findings"]
    kinds = {f["report"]: {x["kind"] for x in findings if x["report"] == f["report"]} for f in findings}
    assert kinds["02_ab_campaign"] == {"verdict"}, kinds
    assert kinds["03_retention"] == {"churn"} and kinds["04_sentiment"] == {"alerts"}, kinds
    assert kinds["01_fan_profiling"] <= {"kpi_gap", "no_gap"} and kinds["01_fan_profiling"], kinds
    churn = next(f for f in findings if f["kind"] == "churn")
    assert churn["at_risk"] > 0 and 0 < churn["churn_rate"] < 1 and (day / churn["list_href"]).is_file()
    html = (day / "05_overview.html").read_text(encoding="utf-8")
    for f in findings:
        assert f'href="{f["href"]}"' in html


@pytest.mark.slow
def test_trends_and_changes_come_from_earlier_runs_summaries(suite_run, tmp_path):
    # An earlier run's summary with a different figure: the overview's change and trend show exactly that
    # figure, so they were read from the summary file rather than recomputed from the data.
    day, _ = suite_run
    out = tmp_path / "reports"
    shutil.copytree(day, out / day.name)
    earlier = out / "2025-12-24"
    earlier.mkdir()
    profile = json.loads((day / "01_fan_profiling.summary.json").read_text(encoding="utf-8"))
    dau = next(h for h in profile["headline"] if h["key"] == "dau_rate")
    dau["value"] = 0.0123
    (earlier / "01_fan_profiling.summary.json").write_text(json.dumps(profile), encoding="utf-8")
    source = json.loads((day / "05_overview.manifest.json").read_text(encoding="utf-8"))["parameters"]["source"]
    proc = subprocess.run(
        [sys.executable, "-m", "fanlib", "run", "05", "--source", source, "--out", str(out), "--date", day.name],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    board = {b["kpi"]: b for b in _overview_summary(out / day.name)["board"]}
    now = next(
        h
        for h in json.loads((day / "01_fan_profiling.summary.json").read_text(encoding="utf-8"))["headline"]
        if h["key"] == "dau_rate"
    )["value"]
    assert board["dau_rate"]["change"] == pytest.approx(now - 0.0123)
    assert "polyline" in (out / day.name / "05_overview.html").read_text(encoding="utf-8")  # the sparkline


def test_wait_for_reports_counts_only_this_runs_manifests_and_names_the_missing_ones(tmp_path):
    import threading
    import time

    from fanlib.executive import wait_for_reports

    (tmp_path / "01_a.manifest.json").write_text("{}")  # written before this run started
    since = time.time() + 0.05
    time.sleep(0.1)
    (tmp_path / "02_b.failed.manifest.json").write_text("{}")
    with pytest.raises(TimeoutError, match="01_a"):
        wait_for_reports(tmp_path, ["01_a", "02_b"], since, timeout_s=0.3, poll_s=0.05)
    writer = threading.Timer(0.4, lambda: (tmp_path / "01_a.manifest.json").write_text("{}"))
    writer.start()
    t0 = time.time()
    assert wait_for_reports(tmp_path, ["01_a", "02_b"], since, timeout_s=10, poll_s=0.05) == {
        "01_a": "ok",
        "02_b": "failed",
    }
    assert time.time() - t0 >= 0.3
    writer.join()
    assert wait_for_reports(tmp_path, [], since) == {}


# --------------------------------------------------------------------------- a failed report's older figures


def _stale_folder(tmp_path):
    """A dated folder where 03_retention failed in this run after an earlier good run of the same day
    (its summary still on disk, at-risk list of 500 fans), and 01_fan_profiling ran fine."""
    day = tmp_path / "2025-12-31"
    day.mkdir()
    old = {
        "report": "03_retention",
        "headline": [{"key": "churn_risk", "value": 0.4321, "unit": "pct"}],
        "churn_model": {"horizon_days": 30},
        "at_risk": {"fans": 500},
    }
    (day / "03_retention.summary.json").write_text(json.dumps(old), encoding="utf-8")
    (day / "03_retention.manifest.json").write_text(json.dumps({"finished_at": "2025-12-31T09:05:00+08:00"}))
    (day / "03_retention.html").write_text("<html></html>")
    (day / "03_retention.failed.manifest.json").write_text("{}")
    profile = {
        "report": "01_fan_profiling",
        "headline": [
            {"key": "members", "value": 1500, "unit": "count"},
            {"key": "dau_rate", "value": 0.2, "unit": "pct"},
        ],
    }
    (day / "01_fan_profiling.summary.json").write_text(json.dumps(profile), encoding="utf-8")
    (day / "01_fan_profiling.manifest.json").write_text(json.dumps({"finished_at": "2025-12-31T10:00:00+08:00"}))
    return day


def test_a_failed_reports_earlier_summary_is_never_read_as_this_runs(tmp_path, targets):
    from fanlib.present.i18n import messages

    day = _stale_folder(tmp_path)
    reports = ex.run_reports(
        day, ["01_fan_profiling", "03_retention"], {"01_fan_profiling": "ok", "03_retention": "failed"}
    )
    assert reports["03_retention"]["state"] == "failed" and reports["03_retention"]["summary"] is None
    assert reports["03_retention"]["last_good_run"] == "2025-12-31 09:05"
    summaries = ex.current_summaries(reports)
    assert set(summaries) == {"01_fan_profiling"} and ex.failed_reports(reports) == ["03_retention"]
    findings = ex.key_findings(summaries, reports=reports)
    churn = [f for f in findings if f["report"] == "03_retention"]
    assert [f["kind"] for f in churn] == ["failed"] and churn[0]["href"] == "03_retention.failed.html"
    for lang in ("zh", "en"):
        T = messages("executive", lang)
        text = "\n".join(ex.narrative.finding_text(f, T, lang) for f in findings) + "\n".join(
            ex.narrative.finding_todos(findings, T, lang)
        )
        assert "500" not in text and "43.2" not in text, text
        assert "03_retention.failed.html" in text
    assert not any("500" in t for t in ex.narrative.finding_todos(findings, messages("executive", "zh"), "zh"))
    # the trend's latest point of this folder is this run's figures only
    hist = ex.history(tmp_path, until=day.name, current=summaries)
    assert set(hist.report) == {"01_fan_profiling"}


def test_figures_of_a_report_not_in_this_run_carry_their_run(tmp_path, targets):
    from fanlib.present.i18n import messages

    day = _stale_folder(tmp_path)
    # 01_fan_profiling was not part of this run (only 03 and the overview were): labelled, not current
    reports = ex.run_reports(day, ["01_fan_profiling", "03_retention"], {"03_retention": "failed"})
    assert reports["01_fan_profiling"]["run"] == "2025-12-31 10:00"
    summaries = ex.current_summaries(reports)
    board = ex.kpi_board(
        targets, summaries, ex.history(tmp_path, until=day.name, current=summaries), day.name, "zh", reports=reports
    ).set_index("kpi")
    assert board.loc["members", "value"] == 1500 and board.loc["members", "from_run"] == "2025-12-31 10:00"
    html = ex.plots.board_html(board.reset_index(), messages("executive", "zh"), "zh")
    assert "2025-12-31 10:00 运行的数字" in html
    findings = ex.key_findings(summaries, reports=reports)
    profile = [f for f in findings if f["report"] == "01_fan_profiling"]
    assert profile and all(f["from_run"] == "2025-12-31 10:00" for f in profile)
    text = ex.narrative.finding_text(profile[0], messages("executive", "en"), "en")
    assert "figures from the run of 2025-12-31 10:00, not this run" in text
    # outside a run (no states), a report whose latest run failed still shows none of its older figures
    assert ex.run_reports(day, ["03_retention"])["03_retention"]["state"] == "failed"


def test_a_kpi_of_a_failed_report_says_so_instead_of_showing_an_older_value(tmp_path, targets):
    from fanlib.present.i18n import messages

    day = tmp_path / "2025-12-31"
    day.mkdir()
    (day / "01_fan_profiling.summary.json").write_text(
        json.dumps({"headline": [{"key": "members", "value": 4321, "unit": "count"}]}), encoding="utf-8"
    )
    (day / "01_fan_profiling.failed.manifest.json").write_text("{}")
    reports = ex.run_reports(day, ["01_fan_profiling"], {"01_fan_profiling": "failed"})
    summaries = ex.current_summaries(reports)
    board = ex.kpi_board(
        targets, summaries, ex.history(tmp_path, until=day.name, current=summaries), day.name, "zh", reports=reports
    )
    assert board.value.isna().all() and board.report_failed.all() and not any(board.trend.map(len))
    html = ex.plots.board_html(board, messages("executive", "zh"), "zh")
    assert "4,321" not in html and "报告运行失败" in html
    milestones = ex.milestone_table(targets, summaries, "2025-12-31", "zh", reports=reports)
    assert set(milestones.status) == {"report_failed"}


def _index_card(page: str, name: str) -> str:
    start = page.index(f'id="{name}"')
    end = page.find('<section class="card', start + 1)
    return page[start : end if end > 0 else None]


@pytest.mark.slow
def test_a_report_failing_after_a_good_run_leaves_none_of_its_figures_on_the_overview(suite_run, tmp_path):
    # The good suite run, then a run of the same date in which 03_retention fails: the overview, its summary
    # and the index show none of the retention report's earlier figures as this run's.
    from fanlib.present.i18n import fmt_number, messages

    day, _ = suite_run
    out = tmp_path / "reports"
    shutil.copytree(day, out / day.name)
    d = out / day.name
    before = _overview_summary(day)
    churn = next(f for f in before["findings"] if f["kind"] == "churn")
    T = messages("executive", "zh")
    at_risk = f"联系高风险名单上的 {fmt_number(churn['at_risk'], 'count', 'zh')} 位粉丝"
    churn_line = f"流失率 **{fmt_number(churn['churn_rate'], 'pct', 'zh')}**"
    retention_kpis = {
        k.name for k in ex.load_targets("params/targets.yaml").kpis.values() if k.report == "03_retention"
    }
    assert retention_kpis and at_risk in (day / "05_overview.html").read_text(encoding="utf-8")  # shown when good
    notebooks = tmp_path / "notebooks"
    shutil.copytree("notebooks", notebooks)
    nb = json.loads((notebooks / "03_retention.ipynb").read_text(encoding="utf-8"))
    first_code = next(c for c in nb["cells"][1:] if c["cell_type"] == "code")
    first_code["source"] = ["raise RuntimeError('planted failure')\n"] + first_code["source"]
    (notebooks / "03_retention.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    source = json.loads((day / "05_overview.manifest.json").read_text(encoding="utf-8"))["parameters"]["source"]
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "fanlib",
            "run",
            "03",
            "05",
            "--source",
            source,
            "--out",
            str(out),
            "--date",
            day.name,
            "--jobs",
            "2",
            "--notebooks",
            str(notebooks),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 1, proc.stderr  # a report failed
    html = (d / "05_overview.html").read_text(encoding="utf-8")
    assert at_risk not in html and churn_line not in html
    assert T("reports_failed_banner", reports="留存与流失") in html and "03_retention.failed.html" in html
    summary = _overview_summary(d)
    assert summary["generated_at"] > before["generated_at"]  # this run's
    assert not [f for f in summary["findings"] if f["kind"] == "churn"]
    assert [f["kind"] for f in summary["findings"] if f["report"] == "03_retention"] == ["failed"]
    board = {b["kpi"]: b for b in summary["board"]}
    assert all(board[k]["value"] is None and board[k]["report_failed"] for k in retention_kpis)
    assert summary["reports"]["03_retention"]["state"] == "failed" and summary["left_out"] == ["03_retention"]
    # reports not part of this run keep their figures, marked with their run
    assert summary["reports"]["01_fan_profiling"]["from_run"] and "运行的数字" in html
    # the summary, the manifests, the index and the exit code agree
    assert summary["status"] == "ok" and json.loads((d / "05_overview.manifest.json").read_text())["status"] == "ok"
    failed = json.loads((d / "03_retention.failed.manifest.json").read_text(encoding="utf-8"))
    assert failed["status"] == "failed" and failed["error"]["evalue"] == "planted failure"
    page = (d / "index.html").read_text(encoding="utf-8")
    assert "成功 ok" in _index_card(page, "05_overview") and "失败 failed" in _index_card(page, "03_retention")
    card = _index_card(page, "03_retention")
    assert "上次成功运行（" in card and card.index("上次成功运行（") < card.index('class="figures')
    assert "失败 1 failed" in page and "失败 1 failed" in (out / "index.html").read_text(encoding="utf-8")


@pytest.mark.slow
def test_the_overview_on_data_failing_the_contract_is_not_ok(tmp_path):
    from helpers import sample_tables

    tables = sample_tables(n_fans=40, seed=3)
    tables["orders"].loc[0, "amount_cny"] = -5.0  # the contract says >= 0
    src = tmp_path / "src"
    src.mkdir()
    for name, frame in tables.items():
        frame.to_parquet(src / f"{name}.parquet")
    out = tmp_path / "reports"
    proc = subprocess.run(
        [sys.executable, "-m", "fanlib", "run", "05", "--source", str(src), "--out", str(out), "--date", "2025-12-31"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    d = out / "2025-12-31"
    assert proc.returncode == 1, proc.stderr
    assert not (d / "05_overview.manifest.json").exists() and not (d / "05_overview.summary.json").exists()
    failed = json.loads((d / "05_overview.failed.manifest.json").read_text(encoding="utf-8"))
    assert failed["status"] == "failed" and "amount_cny" in failed["error"]["evalue"]
    assert "失败 failed" in _index_card((d / "index.html").read_text(encoding="utf-8"), "05_overview")


GBP_TARGETS = """
programme_start: 2024-07-01
kpis:
  aov: {report: 01_fan_profiling, key: aov, unit: cny, zh: 客单价, en: Average order value}
milestones:
  - {month: 3, name: {en: Seed, zh: 种子期}, targets: {aov: 45.5}}
"""


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_gbp_overview_writes_every_amount_in_pounds(tmp_path, lang):
    from fanlib.present.i18n import messages

    path = tmp_path / "targets.yaml"
    path.write_text(GBP_TARGETS, encoding="utf-8")
    targets = ex.load_targets(path)
    day = tmp_path / "2024-10-14"
    day.mkdir()
    summary = {
        "report": "01_fan_profiling",
        "currency": "GBP",
        "headline": [{"key": "aov", "label": "AOV", "value": 38.25, "unit": "cny"}],
    }
    (day / "01_fan_profiling.summary.json").write_text(json.dumps(summary), encoding="utf-8")
    summaries = ex.read_summaries(day)
    T = messages("executive", lang, currency="GBP")
    board = ex.kpi_board(targets, summaries, ex.history(tmp_path), "2024-10-14", lang=lang)
    html = ex.plots.board_html(board, T, lang)
    assert "£38.25" in html and "£45.50" in html and "¥" not in html
    rows = ex.narrative.milestone_rows(ex.milestone_table(targets, summaries, "2024-10-14", lang=lang), T, lang)
    assert set(rows.target) == {"£45.50"} and set(rows.value) == {"£38.25"}
    todo = ex.narrative.todo_items(board, [], [], {}, T, lang)
    assert todo and "£38.25" in todo[0] and "¥" not in "".join(todo)
    s = ex.summary.overview_summary(
        pd.Timestamp("2024-10-14"),
        4,
        board,
        ex.milestone_table(targets, summaries, "2024-10-14", lang=lang),
        [],
        [],
        [],
        {},
        T,
        lang,
    )
    assert s["currency"] == "GBP"
