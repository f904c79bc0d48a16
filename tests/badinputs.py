"""Helpers of the bad-input catalogue (``tests/test_bad_inputs.py``).

Sources are built from the small demo: its tables are read once, written once as a clean CSV folder
(and a clean Parquet folder), and each case writes only the tables it perturbs, linking the others to
the clean files. The CLI is run as a user runs it (a subprocess), and every case shares the checks
here: the exit code, a message that names what is wrong without a traceback, the earlier good report
left byte-identical, and figures equal to the clean run's.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd
from helpers import frames_to_duckdb

from fanlib.data import contract

TABLES = tuple(contract.TABLE_NAMES)
#: Every timestamp column of each contract table.
TIME_COLUMNS = {t: [c.name for c in contract.table(t).columns if c.dtype == "timestamp"] for t in TABLES}

#: A Python traceback, or an exception's class name (ZeroDivisionError, NameError, KeyError,
#: InvalidInputException, …): neither belongs in what a user reads.
_TRACE = re.compile(r"Traceback \(most recent call last\)|\b[A-Z][A-Za-z]*(?:Error|Exception)\b")


# --------------------------------------------------------------------------- sources


def read_tables(duckdb_path: Path) -> dict[str, pd.DataFrame]:
    """The contract tables of a DuckDB file as DataFrames."""
    import duckdb

    con = duckdb.connect(str(duckdb_path), read_only=True)
    try:
        return {name: con.table(name).df() for name in TABLES}
    finally:
        con.close()


def write_csv(df: pd.DataFrame, path: Path) -> Path:
    df.to_csv(path, index=False)
    return path


def write_parquet(df: pd.DataFrame, path: Path) -> Path:
    df.to_parquet(path, index=False)
    return path


class Sources:
    """Builds one data folder per case from the clean export of the small demo."""

    def __init__(self, root: Path, tables: dict[str, pd.DataFrame]):
        self.root = root
        self.tables = tables
        self.clean_csv = self._export(root / "clean-csv", "csv")
        self.clean_parquet = self._export(root / "clean-parquet", "parquet")

    def _export(self, folder: Path, kind: str) -> Path:
        folder.mkdir(parents=True)
        writer = write_csv if kind == "csv" else write_parquet
        for name, df in self.tables.items():
            writer(df, folder / f"{name}.{kind}")
        return folder

    def frame(self, name: str) -> pd.DataFrame:
        """A copy of a clean table to perturb."""
        return self.tables[name].copy()

    def folder(self, case: str, kind: str = "csv", **tables: pd.DataFrame | str | bytes | None) -> Path:
        """A folder source for ``case``: each keyword names a table and gives a DataFrame (written as
        ``kind``), text (written as ``<table>.csv`` byte for byte, str or bytes), or None (the table is
        left out). The other tables link to the clean export of the same kind."""
        folder = self.root / "cases" / case
        folder.mkdir(parents=True)
        clean = self.clean_csv if kind == "csv" else self.clean_parquet
        for name in TABLES:
            value = tables.get(name, ...)
            if value is None:
                continue
            if value is ...:
                os.symlink(clean / f"{name}.{kind}", folder / f"{name}.{kind}")
            elif isinstance(value, bytes):
                (folder / f"{name}.csv").write_bytes(value)
            elif isinstance(value, str):
                (folder / f"{name}.csv").write_text(value, encoding="utf-8")
            else:
                (write_csv if kind == "csv" else write_parquet)(value, folder / f"{name}.{kind}")
        return folder

    def duckdb_file(self, case: str, tables: dict[str, pd.DataFrame], timestamptz: bool = False) -> Path:
        """A DuckDB file holding ``tables``; with ``timestamptz`` its time columns are TIMESTAMPTZ."""
        import duckdb

        path = self.root / "cases" / f"{case}.duckdb"
        path.parent.mkdir(parents=True, exist_ok=True)
        frames_to_duckdb(tables, path, session_timezone="UTC")
        if timestamptz:
            with duckdb.connect(str(path)) as con:
                con.execute("SET TimeZone = 'UTC'")
                for name in tables:
                    for col in TIME_COLUMNS[name]:
                        # The naive China times become instants, stored in UTC.
                        con.execute(
                            f'ALTER TABLE "{name}" ALTER "{col}" TYPE TIMESTAMPTZ '
                            f"USING timezone('{contract.TIMEZONE}', \"{col}\")"
                        )
        return path


def with_offset(times: pd.Series, style: str) -> pd.Series:
    """Naive China Standard Time timestamps as text carrying a time-zone offset, naming the same instants:
    ``Z`` and ``+00:00`` in UTC, ``+08:00`` in China time, ``mixed`` alternating the three."""
    utc = times - pd.Timedelta(hours=8)
    forms = {
        "Z": utc.dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "+00:00": utc.dt.strftime("%Y-%m-%d %H:%M:%S+00:00"),
        "+08:00": times.dt.strftime("%Y-%m-%d %H:%M:%S+08:00"),
    }
    if style != "mixed":
        return forms[style]
    pick = pd.Series(range(len(times)), index=times.index) % 3
    return forms["Z"].where(pick == 0, forms["+00:00"].where(pick == 1, forms["+08:00"]))


def as_text(df: pd.DataFrame, column: str) -> pd.DataFrame:
    """``df`` with ``column`` as text (so single cells can hold what the contract's type cannot)."""
    out = df.copy()
    out[column] = out[column].astype("object").where(out[column].notna(), None)
    out[column] = [
        None if v is None else (str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)) for v in out[column]
    ]
    return out


def header_only(df: pd.DataFrame) -> str:
    """A CSV of ``df``'s column names and no rows."""
    return ",".join(df.columns) + "\n"


# --------------------------------------------------------------------------- what the engine reads


def door_digest(source: str | Path, mapping: dict | None = None) -> dict:
    """Figures fanlib's data door reads from ``source``, computed in the engine: per table the rows,
    the sum and range of every timestamp (as epoch seconds) and the sum of the amounts. A timestamp
    shifted by any amount, or an amount read wrongly, changes it."""
    from fanlib.data.fandata import connect

    fd = connect(source, mapping=mapping, validate=False)
    try:
        out = {}
        for name in TABLES:
            if not fd.has(name):
                continue
            t = fd.table(name)
            metrics = {"rows": t.count()}
            for col in TIME_COLUMNS[name]:
                epoch = t[col].epoch_seconds()
                metrics[f"{col}_sum"] = epoch.sum()
                metrics[f"{col}_min"] = epoch.min()
                metrics[f"{col}_max"] = epoch.max()
            if name == "orders":
                metrics["amount_cents"] = (t.amount_cny * 100).round().sum()
            row = fd.execute(t.aggregate(**metrics)).iloc[0]
            out[name] = {k: (None if pd.isna(v) else int(v)) for k, v in row.items()}
        return out
    finally:
        fd.close()


# --------------------------------------------------------------------------- running the CLI


@dataclass
class Result:
    code: int
    out: str  # stdout and stderr together, as a user sees them
    seconds: float
    cmd: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return f"$ {' '.join(self.cmd)}\nexit {self.code} after {self.seconds:.1f} s\n{self.out[-4000:]}"


def fanlib(*args: object, timeout: int = 600) -> Result:
    """``fanlib ARGS…`` in a subprocess, as a user runs it."""
    cmd = [sys.executable, "-m", "fanlib", *map(str, args)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return Result(proc.returncode, proc.stdout + proc.stderr, time.perf_counter() - t0, cmd)


# --------------------------------------------------------------------------- checks


def assert_no_traceback(text: str, where: str) -> None:
    """Neither a traceback nor a Python (or engine) exception name in ``text``."""
    m = _TRACE.search(text)
    assert m is None, f"{where} shows {m.group(0)!r}: …{text[max(0, m.start() - 300) : m.end() + 300]}…"


def visible_text(page: str) -> str:
    """What a reader of an HTML page sees: no styles, scripts, embedded images or tags."""
    page = re.sub(r"<(style|script)\b.*?</\1\s*>", " ", page, flags=re.S | re.I)
    page = re.sub(r"data:[a-z]+/[a-z+.-]+;base64,[A-Za-z0-9+/=]+", " ", page)
    page = re.sub(r"<[^>]+>", " ", page)
    return html.unescape(page)


def assert_says(text: str, *needles: str | re.Pattern, where: str = "the output") -> None:
    """Each needle (text, case-insensitive, or a compiled pattern) occurs in ``text``."""
    for needle in needles:
        if isinstance(needle, re.Pattern):
            assert needle.search(text), f"{where} does not match {needle.pattern!r}:\n{text[-3000:]}"
        else:
            assert needle.lower() in text.lower(), f"{where} does not say {needle!r}:\n{text[-3000:]}"


#: One contract problem as ``fanlib validate`` lists it: ``orders.amount_cny [min_value, 3 failing rows]``.
_PROBLEM = re.compile(
    r"^\s*\d+\.\s+(?P<where>[\w.]+(?:, \w+)*) \[(?P<check>\w+)(?:, (?P<rows>[\d,]+) failing rows?)?\]", re.M
)


def contract_problems(text: str) -> list[dict]:
    """The problems ``fanlib validate`` listed: where, check and failing rows (None for structural ones)."""
    return [
        {"where": m["where"], "check": m["check"], "rows": int(m["rows"].replace(",", "")) if m["rows"] else None}
        for m in _PROBLEM.finditer(text)
    ]


def hash_tree(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder``, by relative path."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


#: The parts of 00_data_overview's summary that are figures about the data (not where it came from,
#: when it was written, or notes about the run).
OVERVIEW_FIGURES = ("as_of", "headline", "fingerprint", "tables", "problems")


def figures(summary: dict, keys: tuple[str, ...] = OVERVIEW_FIGURES) -> dict:
    return {k: summary.get(k) for k in keys}


@dataclass
class GoodRun:
    """A clean run into ``out``/``date``, made once; every later case writes into the same ``out``."""

    out: Path
    date: str
    result: Result
    hashes: dict[str, str]

    @property
    def day(self) -> Path:
        return self.out / self.date

    def summary(self, report: str = "00_data_overview") -> dict:
        return read_json(self.day / f"{report}.summary.json")

    def page(self, report: str = "00_data_overview") -> str:
        return (self.day / f"{report}.html").read_text(encoding="utf-8")

    def assert_untouched(self) -> None:
        """The good dated folder is byte-identical to what the clean run wrote."""
        now = hash_tree(self.day)
        changed = sorted(k for k in set(now) | set(self.hashes) if now.get(k) != self.hashes.get(k))
        assert not changed, f"the earlier good report changed: {changed}"

    def run(self, date: str, *args: object, timeout: int = 600) -> Result:
        """``fanlib run ARGS… --out <shared> --date DATE``, then the good report checked unchanged."""
        result = fanlib("run", *args, "--out", self.out, "--date", date, timeout=timeout)
        self.assert_untouched()
        return result


def report_files(day: Path, report: str) -> dict[str, str]:
    """The texts a report wrote into its dated folder (page, analyst page, notebook, summary, exports)."""
    out = {}
    for p in sorted(day.glob(f"{report}*")):
        for f in [p] if p.is_file() else sorted(x for x in p.rglob("*") if x.is_file()):
            if f.suffix in (".html", ".ipynb", ".json", ".csv", ".md", ".txt"):
                out[str(f.relative_to(day))] = f.read_text(encoding="utf-8-sig", errors="replace")
    return out


# --------------------------------------------------------------------------- perturbations


def first_rows(df: pd.DataFrame, key: str, n: int) -> pd.Index:
    """The index of the n rows with the smallest ``key`` (the rows a problem's examples show first)."""
    return df.sort_values(key).index[:n]


def set_values(src: Sources, table: str, column: str, value: object, n: int, key: str | None = None) -> pd.DataFrame:
    """A clean table with ``value`` in ``column`` of its first ``n`` rows by key (text makes the column text)."""
    df = as_text(src.frame(table), column) if isinstance(value, str) else src.frame(table)
    key = key or {"fans": "fan_id", "orders": "order_id", "events": "fan_id", "comments": "comment_id"}[table]
    if isinstance(value, float) and df[column].dtype.kind in "iu":
        df[column] = df[column].astype("float64")  # a fraction in an integer column needs a float column
    df.loc[first_rows(df, key, n), column] = value
    return df


def decimal_comma(src: Sources) -> pd.DataFrame:
    orders = src.frame("orders")
    first = first_rows(orders, "order_id", 1)
    orders.loc[first, "amount_cny"] = 195.74
    out = as_text(orders, "amount_cny")
    out["amount_cny"] = [f"{v:.2f}".replace(".", ",") for v in orders["amount_cny"]]
    return out


def with_duplicates(src: Sources, table: str, key: str, n: int) -> pd.DataFrame:
    df = src.frame(table)
    return pd.concat([df, df.loc[first_rows(df, key, n)]], ignore_index=True)


def without_column(src: Sources, table: str, column: str) -> pd.DataFrame:
    return src.frame(table).drop(columns=[column])


def mapping_file(src: Sources, case: str, text: str) -> Path:
    path = src.root / "cases" / f"{case}.mapping.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def all_times(src: Sources, style: str) -> dict[str, pd.DataFrame]:
    out = {}
    for name in TABLES:
        df = src.frame(name)
        for col in TIME_COLUMNS[name]:
            df[col] = with_offset(df[col], style)
        out[name] = df
    return out


def timestamptz_parquet(src: Sources) -> dict[str, pd.DataFrame]:
    out = {}
    for name in TABLES:
        df = src.frame(name)
        for col in TIME_COLUMNS[name]:
            df[col] = df[col].dt.tz_localize("Asia/Shanghai").dt.tz_convert("UTC")
        out[name] = df
    return out


def gbk_csv(src: Sources) -> bytes:
    return src.frame("comments").to_csv(index=False).encode("gb18030")


def big_field(src: Sources) -> pd.DataFrame:
    comments = src.frame("comments")
    big = ("粉丝留言很长。" * 130_000)[:850_000]  # about 2.5 MB of UTF-8 in one field
    comments.loc[first_rows(comments, "comment_id", 1), "text"] = big
    return comments


def thousands(src: Sources) -> pd.DataFrame:
    orders = src.frame("orders")
    top = first_rows(orders, "order_id", 3)
    orders.loc[top, "amount_cny"] = [1234.5, 12345.67, 1000000.0]
    out = as_text(orders, "amount_cny")
    out["amount_cny"] = [f"{v:,.2f}" for v in orders["amount_cny"]]
    return out


def broken_line(src: Sources) -> str:
    lines = src.frame("events").to_csv(index=False).splitlines(keepends=True)
    lines[10] = lines[10].rstrip("\n") + ",extra\n"  # line 11 of the file, the header being line 1
    return "".join(lines)


def page_and_notebook(folder: Path, report: str) -> str:
    """What a report shows: its page's visible text and the text of every output in its notebook
    (streams, error names and tracebacks, text and HTML; not the images)."""
    page = visible_text((folder / f"{report}.html").read_text(encoding="utf-8"))
    nb = json.loads((folder / f"{report}.ipynb").read_text(encoding="utf-8"))
    texts = [page]
    for cell in nb["cells"]:
        for o in cell.get("outputs", []):
            texts += [str(o.get(k, "")) for k in ("text", "ename", "evalue", "traceback")]
            texts += [visible_text(str(v)) for k, v in o.get("data", {}).items() if k.startswith("text/")]
    return "\n".join(texts)


def warning_banners(page_html: str) -> list[str]:
    """The text of every warning (or danger) banner on a page."""
    return [
        visible_text(m)
        for m in re.findall(r'<div class="fanlib-banner fanlib-(?:warning|danger)".*?</div>', page_html, re.S)
    ]


def names_day(texts: list[str], day: date) -> bool:
    forms = (day.isoformat(), f"{day.year}年{day.month}月{day.day}日", f"{day.day} {day:%b %Y}")
    return any(f in t for t in texts for f in forms)
