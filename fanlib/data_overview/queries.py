"""The data overview's engine queries: what a data source holds.

Row counts, time ranges, null rates, duplicate keys and daily volumes for the
five contract tables. Every function takes a ``FanData`` and returns a small
pandas frame; nothing pulls a raw table into pandas.

The overview is the report that shows the contract checks, so it describes data that fails
them too: a table with a missing required column or a wrong mapping is read through its
contract-typed view (``FanData.plans``), and each figure uses only the columns that are there
and readable. A figure that needs a missing column is left out, and the contract table says why.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from fanlib.data import contract


def _count(value: Any) -> int:
    """An engine count or sum as int; an empty sum is NULL (None in DuckDB, NaN from Spark)."""
    return 0 if value is None or pd.isna(value) else int(value)


def present_tables(fd: Any) -> list[str]:
    """The contract tables the source has, in contract order."""
    return [name for name in contract.TABLE_NAMES if fd.has(name)]


def _typed(fd: Any, name: str) -> Any:
    """The table with the contract's names and types, also when it fails the structural checks
    (``fd.table`` refuses such a table; the overview must still describe it)."""
    return fd.plans[name].typed


def _readable(fd: Any, name: str, *columns: str) -> bool:
    """Whether the source has these columns of table ``name`` and they could be cast to the contract's types."""
    if not fd.has(name):
        return False
    plan = fd.plans[name]
    return all(c in plan.present and plan.castable.get(c, False) for c in columns)


def structurally_sound(fd: Any, name: str) -> bool:
    """Whether a present table has every required column, readable, and a mapping that fits."""
    return fd.has(name) and not fd.structure_problems(name)


def table_summary(fd: Any) -> pd.DataFrame:
    """One row per contract table: present?, sound (no structural problem)?, rows, columns, first and
    last timestamp (NaT when the time column is missing or unreadable)."""
    rows = []
    for spec in contract.TABLES.values():
        if not fd.has(spec.name):
            rows.append(
                {
                    "table": spec.name,
                    "present": False,
                    "sound": False,
                    "rows": 0,
                    "columns": 0,
                    "first": pd.NaT,
                    "last": pd.NaT,
                    "required": spec.required,
                }
            )
            continue
        t = _typed(fd, spec.name)
        metrics = {"rows": t.count()}
        if _readable(fd, spec.name, spec.time_column):
            metrics.update(first=t[spec.time_column].min(), last=t[spec.time_column].max())
        got = fd.execute(t.aggregate(**metrics), label=f"overview:{spec.name}:summary").iloc[0]
        rows.append(
            {
                "table": spec.name,
                "present": True,
                "sound": structurally_sound(fd, spec.name),
                "rows": int(got["rows"]),
                "columns": len(t.columns),
                "first": got.get("first", pd.NaT),
                "last": got.get("last", pd.NaT),
                "required": spec.required,
            }
        )
    frame = pd.DataFrame(rows)
    for c in ("first", "last"):
        frame[c] = pd.to_datetime(frame[c])
    return frame


def null_rates(fd: Any) -> pd.DataFrame:
    """Share of missing values per contract column the source has (one aggregate query per table).

    Optional columns the source lacks are not listed here; ``absent_columns`` lists them.
    """
    rows = []
    for name in present_tables(fd):
        t = _typed(fd, name)
        cols = [c for c in contract.table(name).column_names if c in fd.present_columns(name)]
        metrics = {"__rows": t.count()}
        for c in cols:
            metrics[c] = t[c].isnull().sum()
        got = fd.execute(t.aggregate(**metrics), label=f"overview:{name}:nulls").iloc[0]
        n = int(got["__rows"])
        for c in cols:
            spec = contract.table(name).column(c)
            missing = _count(got[c])
            rows.append(
                {
                    "table": name,
                    "column": c,
                    "required": spec.required,
                    "nullable": spec.nullable,
                    "missing": missing,
                    "null_rate": missing / n if n else float("nan"),
                }
            )
    return pd.DataFrame(rows, columns=["table", "column", "required", "nullable", "missing", "null_rate"])


def absent_columns(fd: Any) -> pd.DataFrame:
    """Optional contract columns the source does not provide (the sections needing them are limited)."""
    rows = [
        {"table": name, "column": c}
        for name in present_tables(fd)
        for c in contract.table(name).column_names
        if c not in fd.present_columns(name) and not contract.table(name).column(c).required
    ]
    return pd.DataFrame(rows, columns=["table", "column"])


def duplicate_keys(fd: Any) -> pd.DataFrame:
    """Primary keys that occur more than once, per table (count of keys and of surplus rows)."""
    rows = []
    for name in present_tables(fd):
        key = list(contract.table(name).primary_key)
        if not key or not _readable(fd, name, *key):
            continue  # no key, or its columns are missing: the contract checks say so
        t = _typed(fd, name)
        counts = t.group_by(key).aggregate(n=t.count())
        dup = counts.filter(counts.n > 1)
        got = fd.execute(
            dup.aggregate(keys=dup.count(), surplus=(dup.n - 1).sum()), label=f"overview:{name}:duplicates"
        ).iloc[0]
        rows.append(
            {
                "table": name,
                "key": ", ".join(key),
                "duplicated_keys": _count(got["keys"]),
                "surplus_rows": _count(got["surplus"]),
            }
        )
    return pd.DataFrame(rows, columns=["table", "key", "duplicated_keys", "surplus_rows"])


def daily_volume(fd: Any) -> pd.DataFrame:
    """Rows per day for each timed table: long format (date, table, rows)."""
    frames = []
    for name in present_tables(fd):
        spec = contract.table(name)
        if name == "fans" or not _readable(fd, name, spec.time_column):
            continue  # joins are shown separately as growth; no readable time, no days
        t = _typed(fd, name)
        day = t[spec.time_column].date().name("date")
        per_day = t.group_by(day).aggregate(rows=t.count())
        got = fd.execute(per_day, label=f"overview:{name}:daily")
        got["table"] = name
        frames.append(got)
    if not frames:
        return pd.DataFrame(columns=["date", "table", "rows"])
    out = pd.concat(frames, ignore_index=True)
    out["date"] = pd.to_datetime(out["date"])
    return out.sort_values(["table", "date"]).reset_index(drop=True)


def member_growth(fd: Any) -> pd.DataFrame:
    """Cumulative members by month of joining (empty when fans or their join times are missing); join times
    the source leaves out count at the fan's first order or event."""
    if structurally_sound(fd, "fans") and (_readable(fd, "fans", "join_time") or fd.join_times().filled):
        t = fd.fans
    elif _readable(fd, "fans", "join_time"):
        t = _typed(fd, "fans")
    else:
        return pd.DataFrame(columns=["month", "joined", "members"])
    t = t.filter(t.join_time.notnull())
    month = t.join_time.truncate("M").name("month")
    got = fd.execute(t.group_by(month).aggregate(joined=t.count()), label="overview:fans:growth")
    got = got.sort_values("month").reset_index(drop=True)
    got["month"] = pd.to_datetime(got["month"])
    got["members"] = got["joined"].cumsum()
    return got


def distribution(fd: Any, table_name: str, column: str, top: int = 12) -> pd.DataFrame:
    """Counts and shares of a categorical column's values (the top ones, the rest as 'other')."""
    t = _typed(fd, table_name)
    col = t[column].cast("string").fill_null("(missing)").name("value")
    got = fd.execute(t.group_by(col).aggregate(rows=t.count()), label=f"overview:{table_name}:{column}")
    got = got.sort_values("rows", ascending=False).reset_index(drop=True)
    if len(got) > top:
        rest = pd.DataFrame({"value": ["(other)"], "rows": [got["rows"].iloc[top:].sum()]})
        got = pd.concat([got.head(top), rest], ignore_index=True)
    got["share"] = got["rows"] / got["rows"].sum() if got["rows"].sum() else 0.0
    return got


def source_shape(fd: Any) -> dict:
    """What the engine made of the source's shape: ``fans_derived_from`` (the tables the fans were derived
    from, or absent), ``fans`` (their number), ``join_times_filled``, and ``orders`` (the order rows, the
    paid orders counted, and the rows and value left out as cancelled, refunded or returned). Keys with
    nothing to say are left out, so a source shaped like the contract's (the demo) gets an empty dict."""
    shape: dict = {}
    if fd.has("fans") and fd.is_derived("fans"):
        shape["fans_derived_from"] = list(fd.derived["fans"])
        shape["fans"] = fd.row_counts()["fans"]
    elif fd.has("fans") and structurally_sound(fd, "fans"):
        filled = fd.join_times().filled
        if filled:
            shape["join_times_filled"] = filled
    if fd.has("orders") and structurally_sound(fd, "orders"):
        cleaning = fd.order_cleaning()
        if cleaning.lines or cleaning.left_out_rows:
            shape["orders"] = cleaning.as_dict()
    return shape


def orphan_counts(fd: Any) -> pd.DataFrame:
    """Rows whose fan_id is not in fans, per table (anti-join in the engine); none when the fans were derived
    from those rows."""
    rows = []
    if not _readable(fd, "fans", "fan_id") or fd.is_derived("fans"):
        return pd.DataFrame(columns=["table", "orphan_rows"])  # no fan ids to compare with
    fans = _typed(fd, "fans").select("fan_id")
    for name in present_tables(fd):
        if name == "fans" or not _readable(fd, name, "fan_id"):
            continue
        t = _typed(fd, name)
        orphans = t.anti_join(fans, "fan_id")
        n = fd.execute(orphans.aggregate(n=orphans.count()), label=f"overview:{name}:orphans").iloc[0]["n"]
        rows.append({"table": name, "orphan_rows": int(n)})
    return pd.DataFrame(rows, columns=["table", "orphan_rows"])


__all__ = [
    "structurally_sound",
    "table_summary",
    "null_rates",
    "absent_columns",
    "duplicate_keys",
    "daily_volume",
    "member_growth",
    "distribution",
    "orphan_counts",
    "present_tables",
    "source_shape",
]
