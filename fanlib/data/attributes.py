"""A team's own fan-level columns: the extra columns of ``fans`` and the optional table ``fan_attributes``.

Covariates (the A/B report's CUPED), segments (A/B segment effects, profiling portraits, retention curves,
the churn breakdown) and churn features may name any of them. ``declared_columns`` lists what can be
named and whether it is numeric; ``fan_attributes`` gives one row per fan with the named columns, in the
engine; ``segment_labels`` turns a column into segment labels (numeric columns into quantile bins).
"""

from __future__ import annotations

import datetime as _dt
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir

from fanlib.data import contract
from fanlib.data.errors import AttributeProblem

if TYPE_CHECKING:
    from fanlib.data.tables import FanData

NUMERIC = "numeric"
CATEGORICAL = "categorical"
#: Optional contract columns of ``fans`` that can be named like a team's own columns.
FANS_ATTRIBUTES = ("gender", "age", "birth_year", "city_tier", "province", "city", "occupation", "channel")
FANS_ATTRIBUTES += ("community_id",)
#: Contract columns that hold numbers but are codes, not quantities.
CODED = ("city_tier",)
#: The label of a fan without a value.
UNKNOWN = "unknown"


def _kind(name: str, dtype: Any) -> str:
    if name in CODED:
        return CATEGORICAL
    return NUMERIC if (dtype.is_numeric() or dtype.is_boolean()) else CATEGORICAL


def _fans_columns(fd: FanData) -> dict[str, str]:
    if not fd.has("fans"):
        return {}
    typed = fd.fans
    present = set(fd.present_columns("fans"))
    contract_cols = set(contract.table("fans").column_names)
    out = {}
    for name, dtype in typed.schema().items():
        if (name in FANS_ATTRIBUTES and name in present) or name not in contract_cols:
            out[name] = _kind(name, dtype)
    return out


def _attribute_table_columns(fd: FanData) -> dict[str, str]:
    if not fd.has("fan_attributes"):
        return {}
    own = {"fan_id", "as_of"}
    return {name: _kind(name, dtype) for name, dtype in fd.table("fan_attributes").schema().items() if name not in own}


def declared_columns(fd: FanData) -> dict[str, str]:
    """Every fan-level column a report parameter can name, with its kind: ``numeric`` or ``categorical``.

    The optional contract columns of ``fans`` the source gives, every extra column of ``fans``, and every
    column of ``fan_attributes`` (which wins when both have a column of the same name).
    """
    return {**_fans_columns(fd), **_attribute_table_columns(fd)}


def _check_named(fd: FanData, columns: list[str], numeric: bool) -> dict[str, str]:
    declared = declared_columns(fd)
    for col in columns:
        if col not in declared:
            raise AttributeProblem(
                col, "missing", "no such column in fans or fan_attributes", available=sorted(declared)
            )
        if numeric and declared[col] != NUMERIC:
            numeric_cols = sorted(c for c, k in declared.items() if k == NUMERIC)
            raise AttributeProblem(col, "not_numeric", "the column does not hold numbers", available=numeric_cols)
    return declared


def _as_of_bound(as_of: Any) -> Any:
    if as_of is None:
        return None
    if isinstance(as_of, _dt.datetime):
        return as_of
    day = _dt.date.fromisoformat(str(as_of)) if not isinstance(as_of, _dt.date) else as_of
    return _dt.datetime.combine(day + _dt.timedelta(days=1), _dt.time())  # the whole as-of day counts


def _latest_attributes(fd: FanData, columns: list[str], as_of: Any) -> ir.Table:
    t = fd.table("fan_attributes")
    if "as_of" in fd.present_columns("fan_attributes"):
        bound = _as_of_bound(as_of)
        if bound is not None:
            t = t.filter(t.as_of.isnull() | (t.as_of < bound))
        order = ibis.desc(t.as_of.fill_null(_dt.datetime(1900, 1, 1)))
        t = t.mutate(_rank=ibis.row_number().over(group_by=t.fan_id, order_by=order))
        return t.filter(t._rank == 0).select("fan_id", *columns)
    dup = fd.execute(
        t.group_by("fan_id").aggregate(n=t.count()).filter(lambda g: g.n > 1).count(),
        label="attributes:fan_attributes:duplicates",
    )
    if int(dup):
        raise AttributeProblem(
            columns[0],
            "primary_key",
            f"fan_attributes has {int(dup):,} fan(s) with more than one row but no as_of column to tell which holds",
        )
    return t.select("fan_id", *columns)


def fan_attributes(fd: FanData, columns: list[str], as_of: Any = None, numeric: bool = False) -> ir.Table:
    """``fan_id`` plus the named columns, one row per fan of ``fans``, in the engine.

    Columns of ``fan_attributes`` are the latest row at or before ``as_of`` (a date or a time; None: the
    latest); a fan without such a row gets NULL. With ``numeric=True`` every named column must hold
    numbers (booleans count as 0/1) and comes back as float64. Raises ``AttributeProblem`` naming the
    column and the ones that exist.
    """
    columns = list(dict.fromkeys(columns))
    _check_named(fd, columns, numeric)
    from_table = set(_attribute_table_columns(fd))
    table_cols = [c for c in columns if c in from_table]
    fans_cols = [c for c in columns if c not in from_table]
    base = fd.fans.select("fan_id", *fans_cols)
    if table_cols:
        latest = _latest_attributes(fd, table_cols, as_of)
        base = base.left_join(latest, "fan_id").select(base.fan_id, *fans_cols, *[latest[c] for c in table_cols])
    if numeric:
        base = base.mutate(**{c: base[c].cast("float64") for c in columns})
    return base.select("fan_id", *columns)


def _fmt_edge(value: float) -> str:
    return f"{value:,.4g}" if abs(value) < 1e6 else f"{value:,.0f}"


def quantile_edges(fd: FanData, table: ir.Table, column: str, bins: int) -> list[float]:
    """The inner quantile edges of a numeric column (``bins - 1`` of them, duplicates removed), from the engine."""
    col = table[column].cast("float64")
    probs = [i / bins for i in range(1, bins)]
    row = fd.execute(
        table.aggregate(**{f"q{i}": col.quantile(p) for i, p in enumerate(probs)}),
        label=f"attributes:{column}:quantiles",
    ).iloc[0]
    edges = sorted({float(row[f"q{i}"]) for i in range(len(probs)) if row[f"q{i}"] == row[f"q{i}"]})
    return edges


def segment_labels(fd: FanData, table: ir.Table, column: str, kind: str | None = None, bins: int = 4) -> ir.StringValue:
    """Segment labels of ``table[column]``: categories as they are; numbers in quantile bins.

    A numeric column with at most ``bins`` distinct values keeps its values as labels (0/1 flags, counts);
    otherwise it is cut at its quantiles into labels ``Q1 ≤ a``, ``Q2 a–b``, …, ``Qk > z``. Missing values
    are labelled ``unknown``.
    """
    col = table[column]
    kind = kind or _kind(column, col.type())
    if kind == NUMERIC:
        distinct = int(fd.execute(col.nunique(), label=f"attributes:{column}:levels"))
        if distinct > bins:
            edges = quantile_edges(fd, table, column, bins)
            x = col.cast("float64")
            branches = []
            for i, edge in enumerate(edges):
                low = f"{_fmt_edge(edges[i - 1])}–" if i else "≤ "
                branches.append((x <= edge, f"Q{i + 1} {low}{_fmt_edge(edge)}"))
            last = f"Q{len(edges) + 1} > {_fmt_edge(edges[-1])}"
            return ibis.cases(*branches, else_=last).fill_null(UNKNOWN) if edges else col.cast("string")
        if col.type().is_floating():
            whole = col.round(0).cast("int64").cast("string")
            return ibis.cases((col == col.round(0), whole), else_=col.cast("string")).fill_null(UNKNOWN)
        return col.cast("string").fill_null(UNKNOWN)
    return col.cast("string").fill_null(UNKNOWN)


def check_segment(fd: FanData, column: str, bins: int = 4, as_of: Any = None) -> None:
    """Raise ``AttributeProblem`` unless ``column`` is declared and has at least two levels among the fans."""
    _check_named(fd, [column], numeric=False)
    t = fan_attributes(fd, [column], as_of=as_of)
    levels = int(fd.execute(t[column].nunique(), label=f"attributes:{column}:levels"))
    if levels < 2:
        raise AttributeProblem(
            column, "one_level", f"the column has {levels} distinct value(s); a segment needs at least two"
        )
