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
    summary = {"report": "01_fan_profiling", "as_of": date, "headline": [
        {"key": "members", "label": "Members", "value": members, "unit": "count"},
        {"key": "dau_rate", "label": "DAU", "value": dau, "unit": "pct"}]}
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
    status = dict(zip(zip(table.month, table.kpi), table.status))
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
    "01_fan_profiling": {"headline": [{"key": "dau_rate", "value": 0.2, "unit": "pct", "target": 0.55, "good": False}],
                         "kpis": [
                             {"kpi": "dau_rate", "label": "DAU rate", "unit": "pct", "value": 0.2, "target": 0.55,
                              "good": False, "relative_gap": -0.636},
                             {"kpi": "ugc_share", "label": "UGC", "unit": "pct", "value": 0.5, "target": 0.4,
                              "good": True, "relative_gap": 0.25},
                             {"kpi": "speaking_rate", "label": "Speaking", "unit": "pct", "value": 0.3, "target": 0.35,
                              "good": False, "relative_gap": -0.143},
                             {"kpi": "messages_per_1k_day", "label": "Messages", "unit": "number", "value": 8.0,
                              "target": 89.0, "good": False, "relative_gap": -0.91},
                             {"kpi": "repurchase_rate", "label": "Repurchase", "unit": "pct", "value": 0.45,
                              "target": 0.5, "good": False, "relative_gap": -0.1},
                             {"kpi": "conversion_rate", "label": "Conversion", "unit": "pct", "value": 0.04,
                              "target": 0.08, "good": False, "relative_gap": -0.5}]},
    "02_ab_campaign": {"verdict": "ship", "headline": [{"key": "verdict", "value": "ship", "unit": "text"}],
                       "experiment": {"experiment_id": "exp_coupon", "verdicts": [
                           {"variant": "treatment", "decision": "ship", "text": "conversion +2.0 pp"},
                           {"variant": "bigger_coupon", "decision": "don't ship", "reason": "guardrail active"}]}},
    "03_retention": {"headline": [{"key": "retention_d7", "value": 0.44, "unit": "pct"},
                                  {"key": "at_risk_fans", "value": 500, "unit": "count"}],
                     "churn_model": {"best": "logistic", "horizon_days": 30,
                                     "metrics": {"logistic": {"base_rate": 0.167}, "boosting": {"base_rate": 0.9}}},
                     "at_risk": {"fans": 500, "files": {"csv": "03_retention_at_risk.csv",
                                                        "xlsx": "03_retention_at_risk.xlsx"}}},
    "04_sentiment": {"headline": [{"key": "open_alerts", "value": 2, "unit": "count", "good": False},
                                  {"key": "alerts_in_period", "value": 3, "unit": "count"}],
                     "open_alerts": [
                         {"level": "III", "start": "2025-12-20 00:00:00", "channels": ["douyin"], "drivers": ["快递"]},
                         {"level": "II", "start": "2025-12-29 00:00:00", "channels": ["weibo", "xiaohongshu"],
                          "drivers": ["过敏", "退货", "失望", "退款", "避雷", "差评"]}]},
}


def test_key_findings_read_what_each_report_writes():
    items = ex.key_findings(SUMMARIES)
    by_kind = {}
    for it in items:
        by_kind.setdefault(it["kind"], []).append(it)
    assert [it["report"] for it in items][:2] == ["02_ab_campaign", "02_ab_campaign"]
    assert [(v["variant"], v["decision"], v["good"]) for v in by_kind["verdict"]] == [
        ("treatment", "ship", True), ("bigger_coupon", "don't ship", False)]
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
    calm = {"04_sentiment": {"headline": [{"key": "open_alerts", "value": 0, "unit": "count", "good": True},
                                          {"key": "alerts_in_period", "value": 1, "unit": "count"}],
                             "open_alerts": []},
            "01_fan_profiling": {"kpis": [{"kpi": "dau_rate", "value": 0.6, "target": 0.55, "good": True}]},
            "03_retention": {"headline": [{"key": "retention_d7", "value": 0.5}]}}  # neither churn nor at-risk
    items = {it["report"]: it for it in ex.key_findings(calm)}
    assert items["04_sentiment"]["kind"] == "alerts" and items["04_sentiment"]["open"] == 0
    assert items["04_sentiment"]["good"] is True and items["04_sentiment"]["in_period"] == 1
    assert items["01_fan_profiling"]["kind"] == "no_gap"
    assert items["03_retention"] == {"report": "03_retention", "href": "03_retention.html", "kind": "missing",
                                     "good": None, "in_run": True}
    assert items["02_ab_campaign"]["kind"] == "missing" and items["02_ab_campaign"]["in_run"] is False


def test_verdict_falls_back_to_the_headline():
    items = ex.key_findings({"02_ab_campaign": {"headline": [{"key": "verdict", "value": "inconclusive",
                                                              "note": "conversion +1.5 pp [-1.7, 4.7]"}]}})
    assert items[0]["kind"] == "verdict" and items[0]["decision"] == "inconclusive"
    assert items[0]["detail"] == "conversion +1.5 pp [-1.7, 4.7]" and items[0]["good"] is None


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_findings_and_todos_render_in_both_languages_with_links(lang):
    from fanlib.i18n import messages

    T = messages("executive", lang)
    items = ex.key_findings(SUMMARIES)
    lines = [ex.finding_text(it, T, lang) for it in items]
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
    todos = ex.finding_todos(items, T, lang)
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
        "01_fan_profiling": "ok", "02_ab_campaign": "failed", "03_retention": "missing"}


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
        f"params/targets.yaml expects these headline keys, which this run's summaries lack: "
        f"{overview['kpis_missing']}")
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
    proc = subprocess.run([sys.executable, "-m", "fanlib", "run", "05", "--source", source, "--out", str(out),
                           "--date", day.name], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    board = {b["kpi"]: b for b in _overview_summary(out / day.name)["board"]}
    now = next(h for h in json.loads((day / "01_fan_profiling.summary.json").read_text(encoding="utf-8"))["headline"]
               if h["key"] == "dau_rate")["value"]
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
        "01_a": "ok", "02_b": "failed"}
    assert time.time() - t0 >= 0.3
    writer.join()
    assert wait_for_reports(tmp_path, [], since) == {}
