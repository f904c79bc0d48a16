"""The executive layer reads targets and summary files; trends come from earlier runs' summaries."""

import json

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
