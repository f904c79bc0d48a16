"""Checks on an experiment's input, run in the engine before any statistic is computed.

The contract's assignments (the experiment exists, one assignment per fan, planned variant labels,
at least two variants) and a user's own one-row-per-fan table (present, not empty, one row per fan,
its variant labels); ``infer_proportions`` tells 0/1 columns of such a table from other numbers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from fanlib.ab.errors import ABInputError
from fanlib.ab.metrics import Metric
from fanlib.ab.queries import require_table, run_query

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from fanlib.data.tables import FanData


def check_assignments(fd: FanData, experiment_id: str, planned_split: dict | None = None) -> pd.DataFrame:
    """Validate one experiment's assignments in the engine; returns counts per variant.

    Clear errors for: an unknown experiment, fans assigned more than once, variants not in the
    planned split, and fewer than two variants.
    """
    a = require_table(fd, "assignments")
    exp = a.filter(a.experiment_id == experiment_id)
    counts = run_query(fd, exp.group_by("variant").aggregate(n=exp.count()), f"ab:{experiment_id}:counts")
    if counts.empty:
        known = run_query(fd, a.select("experiment_id").distinct().limit(20), "ab:experiments")
        raise ABInputError(
            f"experiment {experiment_id!r} has no assignments; known experiments: "
            f"{sorted(known['experiment_id'].astype(str))}",
            table="assignments",
            column="experiment_id",
            check="experiment present",
            code="unknown_experiment",
            fields={"experiment": experiment_id, "known": ", ".join(sorted(known["experiment_id"].astype(str)))},
        )
    dup = exp.group_by("fan_id").aggregate(rows=exp.count())
    dup = dup.filter(dup.rows > 1)
    n_dup = int(run_query(fd, dup.count(), f"ab:{experiment_id}:dups"))
    if n_dup:
        ex = exp.join(dup.select("fan_id"), "fan_id").select("fan_id", "variant", "assigned_time")
        examples = run_query(fd, ex.order_by(["fan_id", "assigned_time"]).limit(10), f"ab:{experiment_id}:dup-rows")
        raise ABInputError(
            f"{n_dup:,} fans are assigned more than once in experiment {experiment_id!r} "
            f"(a fan must see exactly one variant); fix the assignment log or exclude them",
            table="assignments",
            column="fan_id",
            check="one assignment per fan",
            examples=examples,
            code="duplicate_assignment",
            fields={"n": n_dup, "experiment": experiment_id},
        )
    return _check_variants(counts, planned_split, "assignments", "variant", f"experiment {experiment_id!r}")


def _check_variants(
    counts: pd.DataFrame, planned_split: dict | None, table: str, column: str, what: str
) -> pd.DataFrame:
    """Variant labels must be planned, and there must be at least two of them."""
    counts = counts.copy()
    counts["variant"] = counts["variant"].astype(str)
    counts = counts.sort_values("variant").reset_index(drop=True)
    if planned_split:
        unknown = counts[~counts["variant"].isin(list(planned_split))]
        if len(unknown):
            raise ABInputError(
                f"variant labels {list(unknown['variant'])} (n = {list(unknown['n'])}) are not in "
                f"the planned split {sorted(planned_split)}; correct planned_split or the labels",
                table=table,
                column=column,
                check="variant in planned split",
                examples=unknown,
                code="unknown_variants",
                fields={"labels": ", ".join(unknown["variant"]), "planned": ", ".join(sorted(planned_split))},
            )
    if len(counts) < 2:
        raise ABInputError(
            f"{what} has only one variant ({counts['variant'].iloc[0]!r}, "
            f"n = {int(counts['n'].iloc[0]):,}); a comparison needs at least two",
            table=table,
            column=column,
            check="at least two variants",
            code="one_variant",
            fields={"variant": counts["variant"].iloc[0], "n": int(counts["n"].iloc[0])},
        )
    return counts


def unit_table(
    fd: FanData, name: str, *, variant: str = "variant", fan_id: str | None = None, planned_split: dict | None = None
) -> ir.Table:
    """A user's one-row-per-fan table (variant, outcomes, covariates), renamed to ``variant``.

    ``fan_id`` names the fan id column (None: ``fan_id`` if the table has one).

    Checked in the engine: not empty, one row per fan (when it has a fan id column), variant
    labels in ``planned_split`` and at least two variants.
    """
    t = read_unit_table(fd, name, keep_text=(variant, fan_id or "fan_id"))
    if variant not in t.columns:
        raise ABInputError(
            f"no variant column {variant!r}; columns are {list(t.columns)}",
            table=name,
            column=variant,
            check="column present",
            code="no_column",
            fields={"column": variant, "columns": ", ".join(t.columns)},
        )
    if variant != "variant":
        t = t.rename(variant=variant)
    if fan_id and fan_id not in t.columns:
        raise ABInputError(
            f"no fan id column {fan_id!r}; columns are {list(t.columns)}",
            table=name,
            column=fan_id,
            check="column present",
            code="no_column",
            fields={"column": fan_id, "columns": ", ".join(t.columns)},
        )
    if fan_id and fan_id != "fan_id":
        t = t.rename(fan_id=fan_id)
    counts = run_query(fd, t.group_by("variant").aggregate(n=t.count()), f"ab:{name}:counts")
    if counts.empty:
        raise ABInputError(
            "the table is empty: no fans to compare",
            table=name,
            check="non-empty table",
            code="empty_table",
            fields={"table": name},
        )
    if "fan_id" in t.columns:
        dup = t.group_by("fan_id").aggregate(rows=t.count())
        dup = dup.filter(dup.rows > 1)
        n_dup = int(run_query(fd, dup.count().name("n").as_table(), f"ab:{name}:dups")["n"].iloc[0])
        if n_dup:
            ex = t.join(dup.select("fan_id"), "fan_id").select("fan_id", "variant").order_by(["fan_id", "variant"])
            raise ABInputError(
                f"{n_dup:,} fans appear in more than one row (a fan must be in exactly one variant); "
                f"remove the duplicates from the export",
                table=name,
                column=fan_id or "fan_id",
                check="one row per fan",
                examples=run_query(fd, ex.limit(10), f"ab:{name}:dup-rows"),
                code="duplicate_rows",
                fields={"n": n_dup, "table": name},
            )
    _check_variants(counts, planned_split, name, variant, f"table {name!r}")
    return t


def read_unit_table(fd: FanData, name: str, keep_text: tuple[str | None, ...] = ()) -> ir.Table:
    """The user's table ``name`` from any kind of source (``fd.raw_table``), or an error listing the tables found
    and why the named one was not read; text columns that hold only numbers (a CSV's) become numbers, and
    only dates or times, timestamps, but for the labels and ids in ``keep_text`` (the variant and fan id)."""
    reader = getattr(fd, "raw_table", None)
    try:
        table = reader(name) if reader is not None else fd.con.table(name)
    except Exception as err:  # noqa: BLE001 - whatever the source says, the report says which table and why
        found = list(getattr(err, "found", None) or _tables_found(fd))
        why = str(err)
        raise ABInputError(
            f"the data source has no table {name!r} (tables found: {', '.join(found) or 'none'}; {why})",
            table=name,
            check="table present",
            code="no_unit_table",
            fields={"table": name, "found": ", ".join(found) or "–", "why": why},
        ) from None
    return _typed(fd, table, name, keep_text)


def _typed(fd: FanData, table: ir.Table, name: str, keep_text: tuple = ()) -> ir.Table:
    """Text columns whose every value reads as a number (or as a time) cast to it, in one engine query."""
    text = [c for c, t in table.schema().items() if t.is_string() and c not in keep_text]
    if not text:
        return table
    aggs = {}
    for i, c in enumerate(text):
        col = table[c].strip().nullif("")
        aggs[f"v{i}"] = col.count()
        aggs[f"n{i}"] = col.try_cast("float64").count()
        aggs[f"t{i}"] = col.try_cast("timestamp").count()
    got = run_query(fd, table.aggregate(**aggs), f"ab:{name}:types").iloc[0]
    casts = {}
    for i, c in enumerate(text):
        seen = int(got[f"v{i}"])
        if seen and int(got[f"n{i}"]) == seen:
            casts[c] = table[c].strip().nullif("").try_cast("float64")
        elif seen and int(got[f"t{i}"]) == seen:
            casts[c] = table[c].strip().nullif("").try_cast("timestamp")
    return table.mutate(**casts) if casts else table


def _tables_found(fd: FanData) -> list[str]:
    """The tables (and views) the source holds, as far as it can list them."""
    lister = getattr(fd, "source_tables", None)
    try:
        if lister is not None:
            return sorted(lister())
        return sorted(str(r[0]) for r in fd.con.raw_sql("SELECT table_name FROM information_schema.tables").fetchall())
    except Exception:  # noqa: BLE001 - a source that cannot list its tables
        return []


def time_column(units: ir.Table, name: str, column: str) -> None:
    """The unit table's time column (parameter ``unit_time_column``) must exist and hold dates or times."""
    if column not in units.columns:
        raise ABInputError(
            f"no time column {column!r}; columns are {list(units.columns)}",
            table=name,
            column=column,
            check="column present",
            code="no_column",
            fields={"column": column, "columns": ", ".join(units.columns)},
        )
    dtype = units[column].type()
    if not (dtype.is_timestamp() or dtype.is_date()):
        raise ABInputError(
            f"time column {column!r} holds {dtype}, not dates or times",
            table=name,
            column=column,
            check="time column",
            code="not_time_column",
            fields={"column": column, "type": str(dtype)},
        )


def infer_proportions(fd: FanData, table: ir.Table, metrics: dict[str, Metric]) -> dict[str, Metric]:
    """Mark mean metrics whose column only holds 0 and 1 as proportions (one engine query)."""
    means = [m for m in metrics.values() if m.kind == "mean"]
    if not means:
        return metrics
    aggs = {}
    for m in means:
        c = table[m.column].cast("float64")
        aggs[f"{m.name}__bin"] = ((c == 0) | (c == 1) | c.isnull()).ifelse(0, 1).sum()
    got = run_query(fd, table.aggregate(**aggs), "ab:unit:binary").iloc[0]
    out = dict(metrics)
    for m in means:
        if int(got[f"{m.name}__bin"]) == 0:
            out[m.name] = Metric(
                m.name,
                "proportion",
                m.column,
                covariates=m.covariates,
                label=m.label,
                unit="pct",
                higher_is_better=m.higher_is_better,
            )
    return out
