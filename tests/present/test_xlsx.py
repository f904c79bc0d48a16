"""The column-wise Excel writer: every kind of value reads back cell for cell (openpyxl, pandas), the same as
openpyxl's own writer gives, and wrong input fails before any file is written."""

import datetime as dt
import math
import re
import zipfile

import numpy as np
import pandas as pd
import pytest
from openpyxl import Workbook, load_workbook

from fanlib.present import xlsx
from fanlib.present.i18n import messages
from fanlib.present.xlsx import column_letter, write_xlsx
from fanlib.profiling.export import export_fans
from fanlib.profiling.profile import EXPORT_COLUMNS
from fanlib.profiling.tiers import TIERS

TEXTS = [
    "高价值粉丝",
    "a&b<c>d\"e'f",
    "  leading",
    "trailing  ",
    "two\nlines",
    "cr\r\nlf",
    "\ttab",
    "",
    "_x000D_ looks like an escape",
    "plain",
]


def mixed_frame() -> pd.DataFrame:
    n = len(TEXTS)
    floats = [0.1 + 0.2, -1234.5678, 1e300, 5e-324, -2.5e-17, 123456789.12345679, float("nan"), 0.0, 1 / 3, -7.0]
    return pd.DataFrame(
        {
            "int": np.arange(n, dtype=np.int64) * -98765 + 2**40,
            "float": floats,
            "nullable_int": pd.array([1, None, 3, None, -5, 6, 7, 8, 9, 2**53 + 1], dtype="Int64"),
            "bool": [True, False] * (n // 2),
            "when": pd.to_datetime(
                [
                    "2025-01-02 03:04:05.678",
                    None,
                    "1900-03-01 12:00",
                    "2026-12-31 23:59:59",
                    "2025-06-30",
                    "1999-01-01 00:00:01",
                    "2000-02-29 06:00",
                    "2025-11-19 18:51:44",
                    "2030-01-01",
                    "1970-01-01",
                ],
                format="ISO8601",
            ),
            "day": pd.to_datetime(
                [
                    "2025-01-02",
                    "2025-01-03",
                    None,
                    "1900-01-01",
                    "1900-02-28",
                    "1900-03-01",
                    "2024-02-29",
                    "2025-12-31",
                    "2026-01-05",
                    "2001-09-09",
                ]
            ),
            "text": pd.array(TEXTS, dtype="str"),
            "with_missing": pd.array(
                ["渠道", None, "渠道", pd.NA, "wechat", "weibo", "wechat", None, "x", "y"], dtype=object
            ),
            "category": pd.Categorical(
                ["loyal", "active", "loyal", None, "active", "loyal", "loyal", "active", "active", "loyal"]
            ),
        }
    )


def expected(v):
    """What a cell of value ``v`` holds when read back by openpyxl."""
    if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, pd.Timestamp):
        return v.to_pydatetime()
    if isinstance(v, np.generic):
        return v.item()
    return v


def rows_of(frame: pd.DataFrame) -> list[tuple]:
    return [tuple(frame.columns)] + [
        tuple(expected(v) for v in row) for row in frame.astype(object).itertuples(index=False)
    ]


def read_values(path, sheet=None, read_only=False) -> list[tuple]:
    wb = load_workbook(path, read_only=read_only)
    ws = wb[sheet] if sheet else wb.worksheets[0]
    return [tuple(r) for r in ws.iter_rows(values_only=True)]


def same(a, b) -> bool:
    """Equal, floats bit for bit (and -0.0 equal to 0.0, as Excel keeps no signed zero)."""
    return type(a) is type(b) and (a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b)))


def test_every_kind_of_value_reads_back_cell_for_cell(tmp_path):
    frame = mixed_frame()
    path = write_xlsx(tmp_path / "mixed.xlsx", [("数据", frame)])
    for read_only in (False, True):  # pandas reads in read-only mode, which trusts the sheet's dimension
        got = read_values(path, read_only=read_only)
        want = rows_of(frame)
        assert len(got) == len(want)
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            for j, (a, b) in enumerate(zip(g, w, strict=True)):
                assert same(a, b), (i, frame.columns[j], a, b)


def test_datetimes_are_dates_to_excel_with_a_date_style(tmp_path):
    path = write_xlsx(tmp_path / "d.xlsx", [("s", mixed_frame())])
    ws = load_workbook(path).worksheets[0]
    when, day = ws["E2"], ws["F2"]
    assert when.is_date and when.number_format == "yyyy\\-mm\\-dd\\ hh:mm:ss"
    assert day.is_date and day.number_format == "yyyy\\-mm\\-dd"  # no time of day in the column: date only
    assert ws["A2"].number_format == "General" and not ws["A2"].is_date
    # the serial numbers themselves are Excel's (1900 date system, with its leap-year quirk), as openpyxl's
    sheet = zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml").decode()
    assert re.search(r'<c r="F2" s="1"><v>45659\.0</v></c>', sheet)  # 2025-01-02
    assert re.search(r'<c r="F5" s="1"><v>1\.0</v></c>', sheet)  # 1900-01-01
    assert re.search(r'<c r="F7" s="1"><v>61\.0</v></c>', sheet)  # 1900-03-01 (60 is Excel's 1900-02-29)
    assert ws["B7"].value == 123456789.12345679 and ws["B3"].value == -1234.5678 and ws["J5"].value is None


def test_same_values_as_openpyxls_own_writer(tmp_path):
    frame = mixed_frame()
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("s")
    ws.append(list(frame.columns))
    for row in frame.astype(object).itertuples(index=False):
        ws.append([expected(v) for v in row])
    wb.save(tmp_path / "openpyxl.xlsx")
    write_xlsx(tmp_path / "fast.xlsx", [("s", frame)])
    theirs, ours = read_values(tmp_path / "openpyxl.xlsx"), read_values(tmp_path / "fast.xlsx")
    assert len(theirs) == len(ours) == len(frame) + 1
    for t, o in zip(theirs, ours, strict=True):
        for a, b in zip(t, o, strict=True):
            if b == "":  # openpyxl writes an empty string as an empty cell
                assert a in ("", None)
            elif isinstance(a, str) and "\r" in b:  # openpyxl writes a bare CR, which XML reads as LF
                assert a == b.replace("\r\n", "\n")
            elif type(b) in (int, float):  # openpyxl writes "%.16g" (0.0 reads back as 0, 2**53 + 1 as 2**53)
                assert isinstance(a, (int, float)) and math.isclose(a, b, rel_tol=1e-15, abs_tol=1e-320)
            else:
                assert same(a, b), (a, b)


def test_pandas_reads_the_frame_back(tmp_path):
    frame = mixed_frame()
    path = write_xlsx(tmp_path / "p.xlsx", [("a", frame), ("b", frame.iloc[:0])])
    back = pd.read_excel(path, sheet_name=None, engine="openpyxl")
    assert list(back) == ["a", "b"] and back["b"].empty and list(back["b"].columns) == list(frame.columns)
    got = back["a"]
    assert got["int"].tolist() == frame["int"].tolist()
    assert [same(a, b) for a, b in zip(got["float"].tolist(), frame["float"].tolist(), strict=True)] == [True] * len(
        frame
    )
    # a column with empty cells comes back as floats
    pd.testing.assert_series_equal(got["nullable_int"], frame["nullable_int"].astype("float64"))
    assert got["bool"].tolist() == frame["bool"].tolist()
    pd.testing.assert_series_equal(got["when"].astype("datetime64[ms]"), frame["when"].astype("datetime64[ms]"))
    pd.testing.assert_series_equal(got["day"].astype("datetime64[s]"), frame["day"].astype("datetime64[s]"))
    assert got["text"].astype(object).fillna("").tolist() == TEXTS  # pandas reads "" as missing
    shown = got["with_missing"].astype(object)
    assert shown.where(shown.notna(), None).tolist() == [expected(v) for v in frame["with_missing"]]


def test_repeated_strings_are_stored_once(tmp_path):
    frame = pd.DataFrame({"tier": ["loyal", "active"] * 500, "channel": ["wechat"] * 1000})
    path = write_xlsx(tmp_path / "s.xlsx", [("s", frame), ("t", frame)])
    sst = zipfile.ZipFile(path).read("xl/sharedStrings.xml").decode()
    assert 'uniqueCount="5"' in sst and 'count="4004"' in sst  # 2 headers + 3 values, 2 × (2 + 2000) cells
    assert read_values(path, "t")[1:3] == [("loyal", "wechat"), ("active", "wechat")]


def test_long_sheets_are_written_in_chunks_in_order(tmp_path, monkeypatch):
    monkeypatch.setattr(xlsx, "_CHUNK_ROWS", 7)
    frame = pd.DataFrame({"n": np.arange(50), "s": [f"F{i:03d}" for i in range(50)]})
    got = read_values(write_xlsx(tmp_path / "c.xlsx", [("s", frame)]), read_only=True)
    assert got == rows_of(frame)


def test_header_is_bold_and_frozen_and_dimension_right(tmp_path):
    frame = pd.DataFrame({f"c{j}": [j] for j in range(30)})
    wb = load_workbook(write_xlsx(tmp_path / "h.xlsx", [("s", frame)]))
    ws = wb["s"]
    assert ws.freeze_panes == "A2" and ws["A1"].font.b and not ws["A2"].font.b
    assert ws.dimensions == "A1:AD2" and ws["AD2"].value == 29
    assert [column_letter(i) for i in (0, 25, 26, 701, 702, 16383)] == ["A", "Z", "AA", "ZZ", "AAA", "XFD"]


@pytest.mark.parametrize("bad", ["\x00", "\x01", "\x0b", "\x1f", "\ufffe"])
def test_control_characters_raise_naming_the_cell_and_leave_no_file(tmp_path, bad):
    target = tmp_path / "x.xlsx"
    write_xlsx(target, [("s", pd.DataFrame({"a": [1]}))])
    before = target.read_bytes()
    frame = pd.DataFrame({"n": [1, 2, 3], "id": ["F1", "F2", f"F{bad}3"]})
    with pytest.raises(ValueError, match=r"sheet 's', cell B4: .* control character U\+"):
        write_xlsx(target, [("s", frame)])
    assert target.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["x.xlsx"]
    with pytest.raises(ValueError, match="cell A1"):
        write_xlsx(tmp_path / "y.xlsx", [("s", pd.DataFrame({f"h{bad}": [1]}))])
    assert not (tmp_path / "y.xlsx").exists()


@pytest.mark.parametrize(
    "column, error, message",
    [
        (pd.Series(pd.to_datetime(["2025-01-01"]).tz_localize("Asia/Shanghai")), ValueError, "timezone-aware"),
        (pd.Series([dt.datetime(2025, 1, 1, tzinfo=dt.UTC)], dtype=object), ValueError, "timezone-aware"),
        (pd.Series([1.0, float("inf")]), ValueError, "infinite"),
        (pd.Series(pd.to_timedelta(["1 day"])), TypeError, "durations"),
        (pd.Series(["a", 1], dtype=object), TypeError, "int, str"),
        (pd.Series(pd.to_datetime(["1899-12-31"])), ValueError, "before 1900"),
    ],
)
def test_values_excel_cannot_hold_raise_naming_the_column(tmp_path, column, error, message):
    with pytest.raises(error, match=f"sheet 'data', column 'col': .*{message}"):
        write_xlsx(tmp_path / "bad.xlsx", [("data", pd.DataFrame({"col": column}))])
    assert list(tmp_path.iterdir()) == []


def test_object_columns_of_numbers_or_booleans_with_gaps(tmp_path):
    frame = pd.DataFrame(
        {
            "n": pd.Series([1, None, 2.5, np.int64(7)], dtype=object),
            "b": pd.Series([True, None, np.False_, False], dtype=object),
        }
    )
    assert read_values(write_xlsx(tmp_path / "o.xlsx", [("s", frame)])) == [
        ("n", "b"),
        (1, True),
        (None, None),
        (2.5, False),
        (7, False),
    ]
    with pytest.raises(ValueError, match="column 'n': infinite"):
        write_xlsx(tmp_path / "i.xlsx", [("s", pd.DataFrame({"n": pd.Series([1, -math.inf], dtype=object)}))])


def test_plain_dates_in_object_columns_are_dates(tmp_path):
    frame = pd.DataFrame({"d": [dt.date(2025, 3, 1), None], "t": [dt.datetime(2025, 3, 1, 8, 30), None]})
    ws = load_workbook(write_xlsx(tmp_path / "d.xlsx", [("s", frame)])).worksheets[0]
    assert ws["A2"].value == dt.datetime(2025, 3, 1) and ws["A2"].number_format == "yyyy\\-mm\\-dd"
    assert ws["B2"].value == dt.datetime(2025, 3, 1, 8, 30) and ws["A3"].value is None


@pytest.mark.parametrize(
    "names, message",
    [
        (["a" * 32], "1 to 31 characters"),
        ([""], "1 to 31 characters"),
        (["a/b"], "forbids"),
        (["'quoted'"], "forbids"),
        (["Fans", "fans"], "used twice"),
    ],
)
def test_bad_sheet_names_raise(tmp_path, names, message):
    with pytest.raises(ValueError, match=message):
        write_xlsx(tmp_path / "n.xlsx", [(n, pd.DataFrame({"a": [1]})) for n in names])
    assert list(tmp_path.iterdir()) == []


def test_excel_row_limit_raises_before_writing(tmp_path):
    frame = pd.DataFrame({"x": np.zeros(xlsx.MAX_ROWS, dtype=np.int8)})  # one row too many with the header
    with pytest.raises(ValueError, match="1,048,576 rows, more than an Excel sheet holds"):
        write_xlsx(tmp_path / "big.xlsx", [("ok", frame.iloc[:10]), ("big", frame)])
    assert list(tmp_path.iterdir()) == []


def export_frame(tiers: list[str]) -> pd.DataFrame:
    n = len(tiers)
    df = pd.DataFrame({c: np.arange(n) for c in EXPORT_COLUMNS})
    for c in ("fan_id", "channel", "community_id", "layer", "rfm_code", "rfm_segment"):
        df[c] = [f"{c}{i}" for i in range(n)]
    df["fan_id"] = [f"F{i:02d}" for i in range(n)]
    df["join_time"] = pd.Timestamp("2025-01-01 08:00") + pd.to_timedelta(np.arange(n), "D")
    df["tier"] = tiers
    df["spend"] = np.arange(n) * 10.25
    df["days_since_order"] = [1.5, np.nan] * (n // 2) + [2.0] * (n % 2)
    df["segment"] = pd.array([0, None] * (n // 2) + [1] * (n % 2), dtype="Int64")
    return df


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_fan_export_has_a_sheet_per_class_in_the_report_language(tmp_path, lang):
    T = messages("fan_profiling", lang)
    df = export_frame(["high_value", "loyal", "loyal", "ordinary", "ordinary"])  # nobody active
    files = export_fans(df, tmp_path, T=T)
    wb = load_workbook(files["xlsx"])
    assert wb.sheetnames == [T(f"tier_{t}") for t in TIERS]
    active = wb[T("tier_active")]
    assert [r for r in active.iter_rows(values_only=True)] == [tuple(df.columns)]  # empty class: header only
    for tier in TIERS:
        part = df[df.tier == tier]
        assert read_values(files["xlsx"], T(f"tier_{tier}")) == rows_of(part)
    csv = pd.read_csv(files["csv"], encoding="utf-8-sig")
    assert csv.fan_id.tolist() == df.fan_id.tolist()


def test_fan_export_refuses_a_class_beyond_the_excel_limit(tmp_path, monkeypatch):
    import fanlib.profiling.export as export

    monkeypatch.setattr(export, "EXCEL_MAX_ROWS", 2)
    with pytest.raises(ValueError, match="fan class 'ordinary' has 3 fans, more than an Excel sheet holds"):
        export_fans(export_frame(["loyal", "ordinary", "ordinary", "ordinary"]), tmp_path)
    assert not (tmp_path / "01_fan_profiling_fans.xlsx").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("texts", [[" first", "b"], ["a", "last "], ["a", "b"], ["a", "b\u3000"], ["x_x00A0_y", "z"]])
def test_whitespace_and_escapes_kept_wherever_they_stand(tmp_path, texts):
    path = write_xlsx(tmp_path / "w.xlsx", [("s", pd.DataFrame({"t": texts}))])
    assert read_values(path) == [("t",)] + [(t,) for t in texts]


class _Clock:
    """The time module as zipfile sees it, with the wall clock set by the test."""

    def __init__(self, now: float):
        import time

        self.now, self._time = now, time

    def time(self):
        return self.now

    def __getattr__(self, name):
        return getattr(self._time, name)


def test_the_same_frames_give_the_same_bytes_whenever_they_are_written(tmp_path, monkeypatch):
    clock = _Clock(1_764_000_000.0)
    monkeypatch.setattr(zipfile, "time", clock)
    df = export_frame(["high_value", "loyal", "loyal", "ordinary", "ordinary"])
    first = export_fans(df, tmp_path / "a", created=dt.date(2025, 12, 31))
    clock.now += 3 * 86_400 + 7  # three days and a few seconds later
    second = export_fans(df, tmp_path / "b", created=dt.date(2025, 12, 31))
    assert first["xlsx"].read_bytes() == second["xlsx"].read_bytes()
    assert first["csv"].read_bytes() == second["csv"].read_bytes()
    # the creation date is the one given, in the package and in the workbook's properties
    with zipfile.ZipFile(first["xlsx"]) as zf:
        assert {i.date_time for i in zf.infolist()} == {(2025, 12, 31, 0, 0, 0)}
    assert load_workbook(first["xlsx"]).properties.created == dt.datetime(2025, 12, 31)
    # without a date the parts carry a fixed one, never the clock's
    write_xlsx(tmp_path / "c.xlsx", [("s", df)])
    clock.now += 60
    write_xlsx(tmp_path / "d.xlsx", [("s", df)])
    assert (tmp_path / "c.xlsx").read_bytes() == (tmp_path / "d.xlsx").read_bytes()
    with zipfile.ZipFile(tmp_path / "c.xlsx") as zf:
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert "docProps/core.xml" not in zf.namelist()
    assert read_values(tmp_path / "c.xlsx", "s") == rows_of(df)


@pytest.mark.parametrize(
    "created,error",
    [
        (dt.datetime(2025, 12, 31, tzinfo=dt.UTC), "without a time zone"),
        (dt.date(1975, 1, 1), "from 1980 to 2107"),
        ("2025-12-31", "must be a date"),
    ],
)
def test_a_bad_creation_date_raises_before_writing(tmp_path, created, error):
    with pytest.raises((ValueError, TypeError), match=error):
        write_xlsx(tmp_path / "x.xlsx", [("s", pd.DataFrame({"a": [1]}))], created=created)
    assert not list(tmp_path.iterdir())
