"""The cohort matrix leaves the report as data: in the summary JSON and as CSV and Excel exports, each
showing what the heatmap shows (blank where a period is not over or a cohort is too small)."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
from retention_data import write_duckdb, year_end_data

from fanlib.data.fandata import connect
from fanlib.io import to_jsonable
from fanlib.retention import cohorts
from fanlib.retention.cohort_matrix import EXPORT_NAME, write_cohort_matrix
from fanlib.retention.narrative import catalogue
from fanlib.retention.summary import cohort_summary

AS_OF = dt.date(2025, 3, 31)


@pytest.fixture(scope="module")
def fd(tmp_path_factory):
    fans, events, orders = year_end_data()
    return connect(write_duckdb(tmp_path_factory.mktemp("matrix") / "d.duckdb", fans, events, orders))


@pytest.mark.parametrize("period, calendar", [("week", True), ("7d", False)])
def test_the_summary_holds_the_matrix_and_says_which_periods(fd, period, calendar):
    T = catalogue("en")
    ct = cohorts.cohort_table(fd, period=period, max_periods=3, as_of=AS_OF, min_cohort_size=1)
    s = cohort_summary(ct, T, {"csv": "/out/a.csv", "xlsx": "/out/a.xlsx"})
    assert s["period"] == period and s["calendar"] is calendar and s["cohort_period"] == "week"
    assert s["axis"] == (
        "ISO calendar weeks since joining (Monday to Sunday; week 0: the week of joining)"
        if calendar
        else "7-day periods since joining (counted from each fan's own day of joining; period 0: days 0–6)"
    )
    assert s["periods"] == [0, 1, 2, 3] and s["files"] == {"csv": "a.csv", "xlsx": "a.xlsx"}
    rows = {r["cohort"]: r for r in s["cohorts"]}
    assert list(rows) == ["2024-W52", "2025-W01", "2025-W05"]
    assert rows["2025-W01"]["size"] == 2 and rows["2025-W01"]["start"] == dt.date(2024, 12, 30)
    matrix = ct.matrix("on")
    for r in s["cohorts"]:
        got = [float("nan") if v is None else v for v in r["on"]]
        pd.testing.assert_series_equal(pd.Series(got), matrix.loc[r["start"]].reset_index(drop=True), check_names=False)
    json.dumps(to_jsonable(s))  # plain JSON: None where the heatmap is blank


def test_a_small_cohort_is_blank_in_the_summary_too(fd):
    ct = cohorts.cohort_table(fd, period="month", max_periods=2, as_of=AS_OF, min_cohort_size=2)
    rows = {r["cohort"]: r for r in cohort_summary(ct, catalogue("zh"))["cohorts"]}
    assert list(rows) == ["2024年12月", "2025年1月", "2025年2月"]
    assert rows["2025年2月"]["size"] == 1 and rows["2025年2月"]["on"] == [None, None, None]
    assert rows["2024年12月"]["on"][0] is not None


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_csv_and_excel_exports_hold_the_cells_and_the_matrices(fd, tmp_path, lang):
    T = catalogue(lang)
    ct = cohorts.cohort_table(fd, period="week", max_periods=3, as_of=AS_OF, min_cohort_size=1)
    files = write_cohort_matrix(ct, tmp_path, T, created=AS_OF)
    assert files == {"csv": str(tmp_path / f"{EXPORT_NAME}.csv"), "xlsx": str(tmp_path / f"{EXPORT_NAME}.xlsx")}
    assert (tmp_path / f"{EXPORT_NAME}.csv").read_bytes().startswith(b"\xef\xbb\xbf")  # Excel reads it as UTF-8
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary file left behind
    cells = pd.read_csv(files["csv"], encoding="utf-8-sig")
    assert list(cells.columns[:4]) == [T("col_cohort"), T("col_cohort_start"), T("col_cohort_size"), T("col_period")]
    assert len(cells) == len(ct.cells) and cells[T("col_retained_on")].sum() == ct.cells["retained_on"].sum()
    w01 = cells[cells[T("col_cohort")] == "2025-W01"].set_index(T("col_period"))
    assert w01[T("col_rate_on")].tolist()[:2] == [0.5, 1.0]
    sheets = pd.read_excel(files["xlsx"], sheet_name=None)
    assert list(sheets) == [T("cohort_sheet_on"), T("cohort_sheet_after"), T("cohort_sheet_cells")]
    on = sheets[T("cohort_sheet_on")].set_index(T("col_cohort"))
    week = T("period_n_week", n=1)
    assert on.loc["2025-W01", week] == 1.0 and on.loc["2025-W01", T("col_cohort_size")] == 2
    assert len(sheets[T("cohort_sheet_cells")]) == len(cells)
    before = (tmp_path / f"{EXPORT_NAME}.xlsx").read_bytes()
    write_cohort_matrix(ct, tmp_path, T, created=AS_OF)
    assert (tmp_path / f"{EXPORT_NAME}.xlsx").read_bytes() == before  # reruns write the same bytes
