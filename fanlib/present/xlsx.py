"""A fast Excel (.xlsx) writer for large data frames: the sheet XML is built column by column.

openpyxl and xlsxwriter build every cell as a Python object, about 5 µs a cell; a million fans with
18 columns then take two minutes. Here each column is factorised (``pandas.factorize``, in C), each
*distinct* value is rendered once into its cell XML, and the column's cells are a take of those
renderings; rows are joined with one string format each and the package is deflated as it streams
out. The workbook is a minimal, standard SpreadsheetML package (ECMA-376: content types,
relationships, workbook, styles, shared strings, one worksheet per sheet), the parts and attributes
Excel itself writes; the tests read it back with openpyxl and ``pandas.read_excel``, and LibreOffice
Calc opens it with the same values.

What each value becomes:

* integers (numpy or nullable ``Int64``): numbers, written exactly (Excel holds numbers as doubles, so
  integers beyond 2**53 lose precision there, whichever writer made the file);
* floats: numbers in Python's shortest round-trip form, so they read back bit for bit (openpyxl writes 16
  significant digits, which can lose the last bit); infinity has no Excel form and raises ``ValueError``
  (openpyxl would write an empty cell);
* booleans: Excel booleans;
* datetimes (timezone-naive): Excel serial numbers with a date style (``yyyy-mm-dd`` when no value in
  the column has a time of day, else ``yyyy-mm-dd hh:mm:ss``), as openpyxl computes them (Excel keeps
  milliseconds; LibreOffice, which has no 1900-02-29, shows dates before 1900-03-01 a day early, as it
  does for every writer's files); ``datetime.date`` values likewise. Timezone-aware columns raise
  ``ValueError`` (Excel has no time zones: convert to local time first); dates before 1900 raise (Excel
  cannot show them);
* strings (``str``, ``category``, object columns of strings): a shared-strings table, so repeated codes
  such as fan class, layer or channel are stored once. XML special characters are escaped, leading and
  trailing spaces and carriage returns are kept, and text that looks like Excel's ``_xHHHH_`` escape is
  itself escaped so Excel shows it as written. Control characters that XML cannot hold (U+0000–U+0008,
  U+000B, U+000C, U+000E–U+001F, U+FFFE, U+FFFF) raise ``ValueError`` naming sheet, cell and value:
  they are corrupt input, and dropping them silently would change an identifier;
* missing values (None, NaN, NaT, ``pd.NA``): empty cells.

Other types (timedeltas, times, bytes, mixed objects) raise ``TypeError`` naming the column. The header
row is bold and frozen. Every check runs before the file is opened, and the workbook is written to a
temporary file that replaces ``path`` only when complete, so an error leaves no partial file behind.

The same frames give the same bytes: every part carries one fixed date (``created``, e.g. the report's
as-of date, also written as the workbook's creation date; 1980-01-01 when omitted), never the clock's.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
import zipfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from fanlib.io import atomic_target
from fanlib.present import xlsx_package as pkg

#: Excel's limits: rows per sheet (with the header), columns per sheet, characters per sheet name.
MAX_ROWS, MAX_COLUMNS, MAX_SHEET_NAME = 1_048_576, 16_384, 31
#: deflate level: 1 deflates the fan export 3.7 times faster than zlib's default 6, for a file 30 % larger.
COMPRESS_LEVEL = 1
_CHUNK_ROWS = 50_000  # rows rendered per write: bounds memory, whatever the sheet's length

_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_EXCEL_ESCAPE = re.compile("_(x[0-9A-Fa-f]{4}_)")
_NEEDS_CARE = re.compile("[&<>\r\n\t]|_x[0-9A-Fa-f]{4}_|\\s\x00|\x00\\s")  # escapes or xml:space
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")

# cell styles (indexes into cellXfs in styles.xml)
_STYLE_DATE, _STYLE_DATETIME, _STYLE_HEADER = 1, 2, 3
_MISSING = "/>"  # an empty cell: <c r="B7"/>
_EPOCH_US = np.datetime64("1899-12-30", "us").astype(np.int64)  # Excel's day 0 (1900 date system)
_DAY_US = 86_400_000_000


def write_xlsx(
    path: str | os.PathLike, sheets: Iterable[tuple[str, pd.DataFrame]], created: dt.date | None = None
) -> Path:
    """Write the ``(sheet name, frame)`` pairs, in order, as one workbook at ``path``; returns the path.

    Each sheet has the frame's column names as its header row and one row per frame row (the index is
    not written). ``created`` (a date or naive datetime) is the workbook's creation date and the date of
    every part in the package, so two runs on the same data write the same bytes. See the module
    docstring for how values are written and what raises.
    """
    sheets = [(str(name), frame) for name, frame in sheets]
    if not sheets:
        raise ValueError("an Excel workbook needs at least one sheet")
    _check_sheet_names([name for name, _ in sheets])
    strings = _SharedStrings()
    # render every column before opening the file: all errors come before any write
    rendered = [(name, _render_sheet(name, frame, strings)) for name, frame in sheets]
    when = _package_date(created)

    path = Path(path)
    with atomic_target(path) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL) as zf:
            zf.writestr(_part("[Content_Types].xml", when), pkg.content_types(len(rendered), created is not None))
            zf.writestr(_part("_rels/.rels", when), pkg.root_rels(created is not None))
            if created is not None:
                zf.writestr(_part("docProps/core.xml", when), pkg.core_props(when))
            zf.writestr(_part("xl/workbook.xml", when), pkg.workbook([name for name, _ in rendered]))
            zf.writestr(_part("xl/_rels/workbook.xml.rels", when), pkg.workbook_rels(len(rendered)))
            zf.writestr(_part("xl/styles.xml", when), pkg.STYLES)
            for i, (_, sheet) in enumerate(rendered, start=1):
                with zf.open(_part(f"xl/worksheets/sheet{i}.xml", when), "w", force_zip64=True) as out:
                    for part in sheet.xml():
                        out.write(part.encode("utf-8"))
            zf.writestr(_part("xl/sharedStrings.xml", when), strings.xml())
    return path


def _package_date(created) -> tuple[int, int, int, int, int, int]:
    if created is None:
        return (1980, 1, 1, 0, 0, 0)  # the earliest date a zip entry can hold
    if isinstance(created, pd.Timestamp):
        created = created.to_pydatetime()
    if isinstance(created, dt.datetime):
        if created.tzinfo is not None:
            raise ValueError(f"created={created!r}: give the workbook's date in local time, without a time zone")
    elif isinstance(created, dt.date):
        created = dt.datetime(created.year, created.month, created.day)
    else:
        raise TypeError(f"created must be a date or datetime, not {type(created).__name__}")
    if not 1980 <= created.year <= 2107:
        raise ValueError(f"created={created:%Y-%m-%d}: a zip package can only hold dates from 1980 to 2107")
    return created.timetuple()[:6]


def _part(name: str, when: tuple[int, int, int, int, int, int]) -> zipfile.ZipInfo:
    """A package part dated ``when`` (zipfile would otherwise stamp the clock's time on it)."""
    info = zipfile.ZipInfo(name, date_time=when)
    info.compress_type = zipfile.ZIP_DEFLATED
    info._compresslevel = COMPRESS_LEVEL  # what ZipFile.open reads for the deflate level
    info.external_attr = 0o600 << 16
    return info


def column_letter(index: int) -> str:
    """Excel's letters for the 0-based column ``index``: 0 → A, 25 → Z, 26 → AA."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _check_sheet_names(names: list[str]) -> None:
    seen = set()
    for name in names:
        if not name or len(name) > MAX_SHEET_NAME:
            raise ValueError(f"sheet name {name!r}: Excel needs 1 to {MAX_SHEET_NAME} characters")
        if _BAD_SHEET_CHARS.search(name) or name[0] == "'" or name[-1] == "'" or _ILLEGAL_XML.search(name):
            raise ValueError(
                f"sheet name {name!r}: Excel forbids [ ] : * ? / \\, control characters "
                "and a leading or trailing apostrophe"
            )
        if name.casefold() in seen:
            raise ValueError(f"sheet name {name!r} is used twice (Excel ignores case)")
        seen.add(name.casefold())


class _SharedStrings:
    """The workbook's shared-strings table: each distinct string once, cells refer to it by index."""

    def __init__(self):
        self.index: dict[str, int] = {}
        self.count = 0  # references, for the table's count attribute

    def cells(self, values: list[str], style: str = "") -> list[str]:
        """The cell XML (after ``<c r="..."``) of each of the distinct ``values``."""
        index = self.index
        out = []
        for v in values:
            i = index.get(v)
            if i is None:
                i = index[v] = len(index)
            out.append(f'{style} t="s"><v>{i}</v></c>')
        return out

    def xml(self) -> bytes:
        strings = list(self.index)
        # one scan of all strings (NUL cannot occur in them: checked) decides whether any needs escaping
        joined = "\x00".join(strings)
        if _NEEDS_CARE.search(joined) or joined[:1].isspace() or joined[-1:].isspace():
            items = "".join(f"<si>{_text(s)}</si>" for s in strings)
        else:
            items = "<si><t>" + "</t></si><si><t>".join(strings) + "</t></si>" if strings else ""
        return (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<sst xmlns="{pkg.NS}" '
            f'count="{self.count}" uniqueCount="{len(self.index)}">{items}</sst>'
        ).encode()


def _text(s: str) -> str:
    """``<t>`` element of one string, escaped; whitespace kept."""
    s = _EXCEL_ESCAPE.sub(r"_x005F_\1", s)
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")
    space = ' xml:space="preserve"' if s != s.strip() or "\n" in s or "\t" in s else ""
    return f"<t{space}>{s}</t>"


class _Sheet:
    """One sheet's cells, rendered column by column; ``xml()`` streams the worksheet part."""

    def __init__(self, header: list[str], columns: list[np.ndarray], n_rows: int):
        self.header, self.columns, self.n_rows = header, columns, n_rows

    def xml(self):
        n_cols = len(self.header)
        letters = [column_letter(j) for j in range(n_cols)]
        last = f"{letters[-1]}{self.n_rows + 1}" if n_cols else "A1"
        yield (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="{pkg.NS}" '
            f'xmlns:r="{pkg.NS_R}"><dimension ref="A1:{last}"/><sheetViews><sheetView workbookViewId="0">'
            '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
            '</sheetView></sheetViews><sheetFormatPr defaultRowHeight="15"/><sheetData>'
        )
        yield '<row r="1">' + "".join(f'<c r="{c}1"{h}' for c, h in zip(letters, self.header, strict=True)) + "</row>"
        # one format per row: <row r="%s"><c r="A%s"%s<c r="B%s"%s...</row>
        template = '<row r="%s">' + "".join(f'<c r="{c}%s"%s' for c in letters) + "</row>"
        for start in range(0, self.n_rows, _CHUNK_ROWS):
            stop = min(start + _CHUNK_ROWS, self.n_rows)
            rows = [str(r) for r in range(start + 2, stop + 2)]
            parts = [rows]
            for col in self.columns:
                parts += (rows, col[start:stop].tolist())
            yield "".join(template % t for t in zip(*parts, strict=True))
        yield "</sheetData></worksheet>"


def _render_sheet(name: str, frame: pd.DataFrame, strings: _SharedStrings) -> _Sheet:
    n_rows, n_cols = frame.shape
    if n_rows + 1 > MAX_ROWS:
        raise ValueError(
            f"sheet {name!r} has {n_rows:,} rows, more than an Excel sheet holds ({MAX_ROWS - 1:,} below the header)"
        )
    if n_cols > MAX_COLUMNS:
        raise ValueError(f"sheet {name!r} has {n_cols:,} columns, more than an Excel sheet holds ({MAX_COLUMNS:,})")
    header_names = [str(c) for c in frame.columns]
    for j, h in enumerate(header_names):
        _check_text(name, f"{column_letter(j)}1", h)
    header = strings.cells(header_names, f' s="{_STYLE_HEADER}"')
    columns = [_render_column(name, j, header_names[j], frame.iloc[:, j], strings) for j in range(n_cols)]
    strings.count += n_cols
    return _Sheet(header, columns, n_rows)


def _render_column(sheet: str, j: int, column: str, values: pd.Series, strings: _SharedStrings) -> np.ndarray:
    """The cell XML (after ``<c r="..."``) of every value: each distinct value rendered once, then taken."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        raise ValueError(
            f"sheet {sheet!r}, column {column!r}: timezone-aware datetimes ({values.dtype}); "
            "Excel has no time zones: convert to local time and drop the zone first"
        )
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    if isinstance(uniques, pd.CategoricalIndex):
        uniques = uniques.astype(uniques.categories.dtype)
    rendered = _render_uniques(sheet, j, column, uniques, codes, strings)
    table = np.empty(len(rendered) + 1, dtype=object)
    table[:-1] = rendered
    table[-1] = _MISSING  # code -1 (missing) takes the last entry
    return table[codes]


def _render_uniques(sheet, j, column, uniques: pd.Index, codes: np.ndarray, strings: _SharedStrings) -> list[str]:
    where = f"sheet {sheet!r}, column {column!r}"
    kind = uniques.dtype.kind
    if kind in "biuf":
        return _number_cells(where, uniques.tolist())
    if kind == "M":
        return _datetime_cells(where, uniques.to_numpy(dtype="datetime64[us]"))
    if kind == "m":
        raise TypeError(
            f"{where}: durations ({uniques.dtype}) are not written; convert them to numbers (e.g. days) first"
        )
    # strings and object columns: the distinct values must be all strings, all numbers or booleans, or all dates
    values = uniques.tolist()
    if all(isinstance(v, str) for v in values):
        if _ILLEGAL_XML.search("".join(values)):  # one scan; find the cell only on failure
            for code, v in enumerate(values):
                _check_text(sheet, f"{column_letter(j)}{_first_row(codes, code)}", v)
        strings.count += int(np.count_nonzero(codes >= 0))
        return strings.cells(values)
    if all(isinstance(v, (bool, np.bool_)) for v in values) or all(
        isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_)) for v in values
    ):
        return _number_cells(where, [v.item() if isinstance(v, np.generic) else v for v in values])
    if all(isinstance(v, dt.date) and not isinstance(v, dt.datetime) for v in values):
        return _datetime_cells(where, np.array(values, dtype="datetime64[us]"))
    if all(isinstance(v, dt.datetime) for v in values):
        if any(v.tzinfo is not None for v in values):
            raise ValueError(
                f"{where}: timezone-aware datetimes; Excel has no time zones: convert to local "
                "time and drop the zone first"
            )
        return _datetime_cells(where, np.array(values, dtype="datetime64[us]"))
    kinds = sorted({type(v).__name__ for v in values})
    raise TypeError(
        f"{where}: values of types {', '.join(kinds)}; a column must hold numbers, booleans, datetimes or strings only"
    )


def _number_cells(where: str, values: list) -> list[str]:
    """Booleans, integers (exact) or floats (shortest round-trip repr); infinity raises."""
    if values and isinstance(values[0], bool):
        return [f' t="b"><v>{int(v)}</v></c>' for v in values]
    if math.inf in values or -math.inf in values:  # NaN never reaches here: factorize took it as missing
        raise ValueError(f"{where}: infinite values have no Excel form")
    return [f"><v>{v!r}</v></c>" for v in values]


def _datetime_cells(where: str, stamps: np.ndarray) -> list[str]:
    us = stamps.astype(np.int64) - _EPOCH_US
    days, time_us = np.divmod(us, _DAY_US)
    if len(days) and days.min() < 2:  # day 1 is 1899-12-31
        raise ValueError(f"{where}: dates before 1900-01-01 cannot be shown in Excel")
    days = days - (days <= 60)  # Excel counts a 1900-02-29 that never was (serial 60), as openpyxl writes it
    serials = (days + time_us / _DAY_US).tolist()
    style = _STYLE_DATETIME if time_us.any() else _STYLE_DATE
    return [f' s="{style}"><v>{v!r}</v></c>' for v in serials]


def _first_row(codes: np.ndarray, code: int) -> int:
    return int(np.flatnonzero(codes == code)[0]) + 2  # Excel row: 1-based, below the header


def _check_text(sheet: str, cell: str, text: str) -> None:
    bad = _ILLEGAL_XML.search(text)
    if bad:
        raise ValueError(
            f"sheet {sheet!r}, cell {cell}: {text!r} holds the control character "
            f"U+{ord(bad.group()):04X}, which an Excel file cannot store; clean the source data"
        )
