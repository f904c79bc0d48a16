"""How a source's columns become the contract's: renames, casts, number formats and time zones.

Every cast runs in the engine, the same way for every source kind:

* Timestamps end up naive, as wall-clock time in one declared zone (``timezone``, Asia/Shanghai by
  default). Naive values are taken as already in that zone. Values that carry a zone, a TIMESTAMPTZ
  column or text ending in ``Z``, ``+08:00``, ``+0800`` or a zone name, are converted to it.
* Numbers read from text take ``.`` as the decimal mark, and a comma only as a thousands separator in
  valid groups (``1,234.50``), unless the mapping declares the comma as the decimal mark
  (``decimal: ","``, then ``1.234,56``). A comma or dot that fits neither (``195,74``, ``1,5``) is refused
  as a ``number_format`` problem, never guessed.
* Integer columns refuse values with a fraction (``2001.7``) as ``integer`` problems instead of rounding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from fanlib.data import contract
from fanlib.data.errors import Problem

#: contract dtype -> ibis dtype
IBIS_TYPES: dict[str, dt.DataType] = {
    "string": dt.String(),
    "int": dt.Int64(),
    "float": dt.Float64(),
    "timestamp": dt.Timestamp(),
}

#: The mapping's key that declares decimal marks: ``","`` for the whole source, or per table or column,
#: ``{"orders": ",", "fans.birth_year": "."}``.
DECIMAL_KEY = "decimal"
DECIMAL_MARKS = (".", ",")

# Patterns that guard casts from strings on engines without TRY_CAST.
_FLOAT_RE = r"^\s*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?\s*$"
_DATE_TIME = (
    r"^\s*[0-9]{4}[-/](0?[1-9]|1[0-2])[-/](0?[1-9]|[12][0-9]|3[01])"
    r"([ T]([01]?[0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]+)?)?)?"
)
_TIME_RE = _DATE_TIME + r"\s*$"
_TIME_TZ_RE = _DATE_TIME + r"\s*([Zz]|UTC|GMT|[+-][0-9]{2}(:?[0-9]{2})?)\s*$"
#: A time of day followed by a zone: Z, a numeric offset, or a name (UTC, Asia/Tokyo).
_ZONED_RE = (
    r"[0-9]:[0-5][0-9](:[0-5][0-9](\.[0-9]+)?)?(\s*([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)|\s+[A-Za-z][A-Za-z0-9_/+-]*)\s*$"
)
#: Valid thousands groups for each decimal mark.
_GROUPED_RE = {
    ".": r"^[-+]?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]*)?$",
    ",": r"^[-+]?[0-9]{1,3}(\.[0-9]{3})+(,[0-9]*)?$",
}
#: Engines whose ``timezone(zone, timestamptz)`` gives the wall-clock time in a zone.
_ZONE_ENGINES = ("duckdb", "postgres")


@ibis.udf.scalar.builtin(name="timezone", signature=((dt.string, dt.Timestamp(timezone="UTC")), dt.Timestamp()))
def _wall_clock(zone, instant):  # DuckDB and PostgreSQL both name it so
    """The instant as naive wall-clock time in ``zone``."""


# --------------------------------------------------------------------------- mapping


def apply_mapping(name: str, raw: ir.Table, renames: dict[str, str]) -> tuple[ir.Table, list[Problem]]:
    """Rename a user's columns to the contract's; also match names that differ only in case or spaces."""
    table = contract.table(name)
    problems = []
    columns = list(raw.columns)
    rename: dict[str, str] = {}  # new -> old
    for old, new in (renames or {}).items():
        if new not in table.column_names:
            problems.append(
                Problem(
                    name,
                    str(new),
                    "mapping",
                    None,
                    [],
                    f"the mapping renames {old!r} to {new!r}, which is not a column of "
                    f"{name!r}; its columns are {', '.join(table.column_names)}",
                )
            )
        elif old not in columns:
            problems.append(
                Problem(
                    name,
                    new,
                    "mapping",
                    None,
                    [],
                    f"the mapping renames {old!r} to {new!r}, but the source has no column "
                    f"{old!r}; it has {', '.join(columns)}",
                )
            )
        elif new in columns and new != old:
            problems.append(
                Problem(
                    name,
                    new,
                    "mapping",
                    None,
                    [],
                    f"the mapping renames {old!r} to {new!r}, but the source already has a column {new!r}",
                )
            )
        else:
            rename[new] = old
    taken = set(columns) - set(rename.values()) | set(rename)
    for col in table.column_names:
        if col in taken:
            continue
        near = [c for c in columns if c.strip().lower() == col and c not in rename.values()]
        if len(near) == 1:
            rename[col] = near[0]
    rename = {new: old for new, old in rename.items() if new != old}
    return (raw.rename(rename) if rename else raw), problems


def decimal_marks(declared: Any) -> tuple[dict[str, str], list[Problem]]:
    """The mapping's ``decimal`` entry as ``{"": mark, "orders": mark, "orders.amount_cny": mark}``.

    Mistakes (a mark other than ``.`` or ``,``, a table or column that is not a numeric contract column)
    are mapping problems.
    """
    if declared is None:
        return {}, []
    entries = {"": declared} if isinstance(declared, str) else declared
    if not isinstance(entries, dict):
        return {}, [
            Problem(
                DECIMAL_KEY,
                None,
                "mapping",
                None,
                [],
                f"the mapping's {DECIMAL_KEY!r} must be '.' or ',', or map tables or table.column "
                f"names to one of them, not {declared!r}",
            )
        ]
    marks, problems = {}, []
    numeric = {f"{t.name}.{c.name}" for t in contract.TABLES.values() for c in t.columns if c.dtype in ("int", "float")}
    for key, mark in entries.items():
        key = str(key).strip()
        where = f"{DECIMAL_KEY}: {{{key}: {mark!r}}}" if key else f"{DECIMAL_KEY}: {mark!r}"
        if mark not in DECIMAL_MARKS:
            problems.append(
                Problem(
                    key.split(".")[0] or DECIMAL_KEY,
                    key.partition(".")[2] or None,
                    "mapping",
                    None,
                    [],
                    f"the mapping's {where}: the decimal mark must be '.' or ','",
                )
            )
        elif key and key not in contract.TABLES and key not in numeric:
            problems.append(
                Problem(
                    key.split(".")[0],
                    key.partition(".")[2] or None,
                    "mapping",
                    None,
                    [],
                    f"the mapping's {where}: {key!r} is neither a contract table nor a number "
                    f"column; the number columns are {', '.join(sorted(numeric))}",
                )
            )
        else:
            marks[key] = mark
    return marks, problems


def mark_for(marks: dict[str, str], table: str, column: str) -> str:
    """The decimal mark of one column: its own, else its table's, else the source's, else ``.``."""
    return marks.get(f"{table}.{column}") or marks.get(table) or marks.get("") or "."


# --------------------------------------------------------------------------- casts


def present(col: ir.Column) -> ir.BooleanValue:
    """Whether a raw value is given: not NULL, not NaN and not blank text."""
    if col.type().is_string():
        return col.notnull() & (col.strip() != "")
    if col.type().is_floating():
        return col.notnull() & ~col.isnan()
    return col.notnull()


def _null_typed(src: dt.DataType) -> bool:
    """A column of the NULL type (a Parquet column that pandas wrote from values that are all None)."""
    return isinstance(src, dt.Unknown) and str(getattr(src, "raw_type", "")).strip('"').upper() == "NULL"


def _guarded_cast(col: ir.StringValue, to: dt.DataType, pattern: str, engine: str):
    if engine == "duckdb":
        return col.try_cast(to)
    return ibis.ifelse(col.re_search(pattern), col, ibis.null(dt.string)).cast(to)


def _number_text(col: ir.StringValue, decimal: str) -> tuple[ir.StringValue, ir.BooleanValue]:
    """The text of a number in plain form (``1234.5``), and where its separators fit no declared format."""
    text = col.strip().replace("¥", "").replace("￥", "")
    group = "," if decimal == "." else "."
    ambiguous = text.contains(group) & ~text.re_search(_GROUPED_RE[decimal])
    plain = text.replace(",", "") if decimal == "." else text.replace(".", "").replace(",", ".")
    return ibis.ifelse(ambiguous, ibis.null(dt.string), plain), ambiguous


def _whole(x: ir.NumericValue) -> ir.BooleanValue:
    """Whether a number is an integer that fits 64 bits (infinity and NaN are not)."""
    # ibis compiles floor() with a cast to BIGINT, which fails on infinity: test the range first.
    return ibis.ifelse(x.abs() < 9.2e18, x == x.floor(), False)


def _to_int(x: ir.NumericValue) -> ir.IntegerColumn:
    return ibis.ifelse(_whole(x), x, ibis.null(x.type())).cast(dt.int64)


def cast_column(
    col: ir.Column, dtype: str, engine: str, *, timezone: str = contract.TIMEZONE, decimal: str = "."
) -> ir.Column | None:
    """``col`` cast to the contract ``dtype`` in the engine, or None if its type cannot be.

    Values that do not parse, or that ``refusals`` names, become NULL (problems in validation).
    """
    src = col.type()
    to = IBIS_TYPES[dtype]
    if _null_typed(src):
        return col.cast(to)  # a column (not a NULL literal), so checks and counts work on it
    if src.is_null():
        return ibis.null(to)
    if dtype == "string":
        if src.is_string():
            return col
        if src.is_integer():
            return col.cast(to)
        if src.is_floating() or src.is_decimal():
            # Ids stored as floats (Excel, pandas with NaN) read 1001.0; keep them as "1001".
            text = ibis.ifelse(_whole(col), col.cast(dt.int64).cast(to), col.cast(to))
            return ibis.ifelse(col.isnan(), ibis.null(to), text) if src.is_floating() else text
        return None
    if dtype in ("int", "float"):
        if src.is_integer():
            return col.cast(to)
        if src.is_floating() or src.is_decimal():
            return _to_int(col) if dtype == "int" else col.cast(to)
        if src.is_string():
            number = _guarded_cast(_number_text(col, decimal)[0], dt.float64, _FLOAT_RE, engine)
            return _to_int(number) if dtype == "int" else number
        return None
    if dtype == "timestamp":
        if src.is_timestamp() and src.timezone is not None and engine in _ZONE_ENGINES:
            return _wall_clock(timezone, col.cast(dt.Timestamp(timezone="UTC")))
        if src.is_timestamp() or src.is_date():
            return col.cast(to)
        if src.is_string():
            text = col.strip()
            naive = _guarded_cast(text, to, _TIME_RE, engine)
            if engine not in _ZONE_ENGINES:  # no zone conversion here: zoned text is refused, not shifted
                return ibis.ifelse(text.re_search(_ZONED_RE), ibis.null(to), naive)
            zoned = _wall_clock(timezone, _guarded_cast(text, dt.Timestamp(timezone="UTC"), _TIME_TZ_RE, engine))
            return ibis.ifelse(text.re_search(_ZONED_RE), zoned, naive)
        return None
    raise ValueError(f"unknown contract dtype {dtype!r}")


@dataclass(frozen=True)
class Refusal:
    """Values a cast turns to NULL for a stated reason rather than because they do not parse."""

    check: str  # a fanlib.data.validate.CHECKS name
    cond: ir.BooleanValue  # True where the raw value is refused
    detail: str


def refusals(col: ir.Column, column: str, dtype: str, engine: str, *, decimal: str = ".") -> list[Refusal]:
    """Why ``cast_column`` refuses some values of ``col`` (the contract column ``column``)."""
    src = col.type()
    out = []
    if dtype not in ("int", "float"):
        return out
    if src.is_string():
        plain, ambiguous = _number_text(col, decimal)
        if decimal == ".":
            how = (
                "a comma that is not a thousands separator (as in 1,234.50); if the comma is the decimal "
                f"mark, declare it in the mapping: {DECIMAL_KEY}: ','"
            )
        else:
            how = (
                "a dot that is not a thousands separator (as in 1.234,56), though the mapping declares ',' "
                "as the decimal mark"
            )
        out.append(Refusal("number_format", ambiguous, f"{column!r} has numbers with {how}"))
        number = _guarded_cast(plain, dt.float64, _FLOAT_RE, engine)
        given = number.notnull()
    elif src.is_floating() or src.is_decimal():
        number, given = col, present(col)  # NaN in a float column is a missing value
    else:
        return out
    if dtype == "int":
        out.append(
            Refusal(
                "integer",
                given & ~_whole(number),
                f"{column!r} must hold whole numbers; values with a fraction are refused, not rounded",
            )
        )
    return out


# --------------------------------------------------------------------------- plans


@dataclass
class TablePlan:
    """How one contract table is read from the source: the renamed raw table and its typed form."""

    name: str
    raw: ir.Table  # source columns, renamed to the contract's names
    typed: ir.Table  # contract columns first, cast; uncastable columns left as they are
    exprs: dict[str, ir.Column]  # the typed contract columns, as expressions over ``raw``
    present: list[str]  # contract columns the source really has
    castable: dict[str, bool]  # per present column: could it be cast to the contract type?
    cast_from_text: list[str]  # present columns parsed from text (may hold unparseable values)
    mapping_problems: list[Problem]
    refusals: dict[str, list[Refusal]] = field(default_factory=dict)  # per present column


def plan(
    name: str,
    raw: ir.Table,
    renames: dict[str, str],
    engine: str,
    *,
    timezone: str = contract.TIMEZONE,
    marks: dict[str, str] | None = None,
    values: dict[str, dict[str, str]] | None = None,
) -> TablePlan:
    """The plan of contract table ``name`` over the source's table ``raw``.

    ``values``: per text column, source values translated onto contract codes (the mapping's vocabulary,
    ``fanlib.data.vocabulary``); other values pass unchanged."""
    raw, problems = apply_mapping(name, raw, renames)
    table = contract.table(name)
    exprs, castable, from_text, refused = {}, {}, [], {}
    for c in table.columns:
        if c.name in raw.columns:
            mark = mark_for(marks or {}, name, c.name)
            typed = cast_column(raw[c.name], c.dtype, engine, timezone=timezone, decimal=mark)
            castable[c.name] = typed is not None
            if typed is None:
                typed = raw[c.name]  # validation reports its type
            else:
                refused[c.name] = refusals(raw[c.name], c.name, c.dtype, engine, decimal=mark)
                if raw[c.name].type().is_string() and c.dtype != "string":
                    from_text.append(c.name)
                if c.dtype == "string" and (values or {}).get(c.name):
                    typed = typed.substitute(values[c.name])
            exprs[c.name] = typed
        elif not c.required:
            exprs[c.name] = ibis.null(IBIS_TYPES[c.dtype])
    extras = {col: raw[col] for col in raw.columns if col not in table.column_names}
    typed_table = raw.select(**exprs, **extras)
    present_cols = [c for c in table.column_names if c in raw.columns]
    return TablePlan(name, raw, typed_table, exprs, present_cols, castable, from_text, problems, refused)
