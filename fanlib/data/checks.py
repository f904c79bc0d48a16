"""The contract's value checks, counted in the engine, and the one call that refuses data breaking them.

``validate(fd)`` raises ``ContractError`` listing every problem. The value checks are counted with one
aggregate query per table (all column checks of a table in one scan), plus one query for duplicate
keys and one anti-join per foreign key; only problem counts and at most five example rows per problem
leave the engine. The structure (columns and types) is ``fanlib.data.structure``'s check, run first.
Inside ``fanlib run`` a pass is recorded for the run, so later reports on the same data skip the scan.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fanlib.data import contract, derived, orders, vocabulary
from fanlib.data.errors import ContractError, Problem
from fanlib.data.examples import MAX_EXAMPLES, example_columns, example_rows, examples
from fanlib.io import write_atomic

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pandas as pd

    from fanlib.data.tables import FanData


@dataclass
class _Rule:
    column: str | None
    check: str
    cond: Any  # ibis boolean: True where the row fails
    detail: str


def _column_rules(fd: FanData, name: str) -> list[_Rule]:
    """Every per-row check of a table, as ibis conditions over the renamed raw table."""
    from fanlib.data.columns import present as _present

    plan = fd.plans[name]
    table = contract.table(name)
    now = fd.now
    rules = _order_rules(plan, fd.order_columns()) if name == "orders" else []
    for c in table.columns:
        if c.name not in plan.present or not plan.castable[c.name]:
            continue
        raw, x = plan.raw[c.name], plan.exprs[c.name]
        given = _present(raw)
        refused = plan.refusals.get(c.name, [])
        for refusal in refused:
            rules.append(_Rule(c.name, refusal.check, refusal.cond, refusal.detail))
        if c.name in plan.cast_from_text:
            unreadable = given & x.isnull()
            for refusal in refused:  # counted under their own check
                unreadable = unreadable & ~refusal.cond.fill_null(False)
            rules.append(_Rule(c.name, "parse", unreadable, f"values of {c.name!r} that cannot be read as {c.dtype}"))
        if c.dtype == "float":
            rules.append(
                _Rule(
                    c.name,
                    "finite",
                    given & (x.isinf() | x.isnan()),
                    f"{c.name!r} must be a finite number, not infinity or NaN",
                )
            )
        if not c.nullable:
            rules.append(_Rule(c.name, "not_null", ~given, f"{c.name!r} must not be missing"))
        allowed = vocabulary.allowed_codes(fd.mapping, name, c.name)
        if allowed:
            codes = ", ".join(map(str, allowed))
            rules.append(
                _Rule(
                    c.name,
                    "allowed_values",
                    x.notnull() & ~x.isin(list(allowed)),
                    f"{c.name!r} must be one of {codes}{vocabulary.hint(name, c.name)}",
                )
            )
        if name == "orders" and c.name == "amount_cny":
            continue  # its checks are the order rules
        if c.min_value is not None:
            rules.append(_Rule(c.name, "min_value", x < c.min_value, f"{c.name!r} must be >= {c.min_value:g}"))
        if c.max_value is not None:
            rules.append(_Rule(c.name, "max_value", x > c.max_value, f"{c.name!r} must be <= {c.max_value:g}"))
        if c.not_in_future:
            import ibis

            bound = ibis.literal(now, type="timestamp")
            rules.append(
                _Rule(c.name, "not_in_future", x > bound, f"{c.name!r} must not be after {now:%Y-%m-%d %H:%M:%S}")
            )
    return rules


def _count(value: Any) -> int:
    """An engine count as int; an empty sum (NULL, NaN) is 0."""
    return 0 if value is None or value != value else int(value)


def _order_rules(plan: Any, present: list[str]) -> list[_Rule]:
    """The amount's checks: given (or computable from quantity × unit_price) and not negative, except on
    the rows left out as cancelled or returned (``fanlib.data.orders``). ``present``: the columns given."""
    x = plan.exprs
    parts = [c for c in ("amount_cny", "quantity", "unit_price") if c in present]
    if not parts or not all(plan.castable[c] for c in parts):
        return []
    rules = []
    cancelled = orders.status_left_out(x, present)
    if "amount_cny" in present or {"quantity", "unit_price"} <= set(present):
        amount = orders.line_amount(x)
        how = " (or give quantity and unit_price)" if "amount_cny" in present else ""
        rules.append(
            _Rule("amount_cny", "not_null", amount.isnull() & ~cancelled, f"'amount_cny' must not be missing{how}")
        )
        if not orders.uses_lines(present):
            rules.append(
                _Rule(
                    "amount_cny",
                    "min_value",
                    (amount < 0) & ~cancelled,
                    "'amount_cny' must be >= 0; a negative amount is a return only on order lines (with "
                    "quantity) or with a status of cancelled or refunded",
                )
            )
    return rules


def _key_expr(t: ir.Table, cols: list[str]) -> ir.Value:
    """One value per row for a (possibly composite) key; NULL if any part is NULL."""
    if len(cols) == 1:
        return t[cols[0]]
    import ibis

    key = t[cols[0]].cast("string")
    for c in cols[1:]:
        key = key.concat("\x1f", t[c].cast("string"))
    return ibis.ifelse(ibis.and_(*[t[c].notnull() for c in cols]), key, ibis.null("string"))


def _key_usable(fd: FanData, name: str, cols: list[str]) -> bool:
    plan = fd.plans[name]
    return all(c in plan.present and plan.castable[c] for c in cols)


def table_checks(fd: FanData, name: str) -> list[Problem]:
    """Run every value check of one table; returns one record per check, passing ones with 0 rows."""
    import ibis

    plan = fd.plans[name]
    table = contract.table(name)
    results: list[Problem] = []
    rules = _column_rules(fd, name)
    metrics = {f"r{i}": ibis.ifelse(rule.cond.fill_null(False), 1, 0).sum() for i, rule in enumerate(rules)}
    metrics["n_rows"] = plan.raw.count()
    if name == "fans" and "join_time" in plan.present and plan.castable["join_time"]:
        metrics["gap_time"] = plan.exprs["join_time"].isnull().sum()
    pk = list(table.primary_key)
    lines = name == "orders" and orders.uses_lines(fd.order_columns())
    if lines:
        pk = []  # lines share their order's id; one order's lines must name one fan (below)
    check_pk = bool(pk) and _key_usable(fd, name, pk)
    if check_pk:
        key = _key_expr(plan.exprs, pk)
        # Duplicates exist exactly when non-null keys outnumber distinct keys.
        metrics["pk_given"] = key.count()
        metrics["pk_distinct"] = key.nunique()
    row = fd.execute(plan.raw.aggregate(**metrics), label=f"validate:{name}:checks").iloc[0]
    n_rows = int(row["n_rows"])
    if n_rows == 0:
        return [Problem(name, None, "not_empty", None, [], f"the table {name!r} has no rows")]
    results.append(Problem(name, None, "not_empty", 0))
    for i, rule in enumerate(rules):
        failing = int(row[f"r{i}"])
        shown = []
        if failing:
            cols = example_columns(name, plan.present, rule.column)
            shown = examples(
                fd.execute,
                plan.raw,
                rule.cond.fill_null(False),
                cols,
                f"validate:{name}:{rule.column}:{rule.check}:examples",
            )
        results.append(Problem(name, rule.column, rule.check, failing, shown, rule.detail if failing else ""))
    if check_pk:
        results.append(_primary_key_check(fd, name, pk, int(row["pk_given"]) - int(row["pk_distinct"])))
    if lines and _key_usable(fd, name, ["order_id", "fan_id"]):
        results.append(_order_lines_check(fd))
    if name == "fans" and ("join_time" not in plan.present or _count(row.get("gap_time"))):
        results.append(_join_time_check(fd))
    for fk in table.foreign_keys:
        if not fd.is_derived(fk.table):  # derived fans hold every fan of the activity tables
            results.extend(_foreign_key_check(fd, name, fk))
    return results


def _order_lines_check(fd: FanData) -> Problem:
    """The lines of one order must name one fan."""
    t = fd.plans["orders"].typed
    per = t.filter(t.order_id.notnull()).group_by("order_id").aggregate(fans=t.fan_id.nunique())
    bad = per.filter(per.fans > 1)
    n = int(fd.execute(bad.count(), label="validate:orders:order_lines:count"))
    if not n:
        return Problem("orders", "order_id", "order_lines", 0)
    columns = example_columns("orders", fd.plans["orders"].present)
    q = t.semi_join(bad.select("order_id"), "order_id").select(columns).order_by(columns).limit(MAX_EXAMPLES)
    found = example_rows(fd.execute, q, "validate:orders:order_lines:examples")
    return Problem("orders", "order_id", "order_lines", n, found, f"{n:,} order(s) have lines naming different fans")


def _join_time_check(fd: FanData) -> Problem:
    """A fan without a join time needs an order or event to take it from."""
    counts = fd.join_times()
    if not counts.unfillable:
        return Problem("fans", "join_time", "not_null", 0)
    found = derived.unfillable_examples(fd.plans["fans"], fd.plans, fd.execute)
    return Problem(
        "fans",
        "join_time",
        "not_null",
        counts.unfillable,
        found,
        "'join_time' is missing and the fan has no order or event to take it from",
    )


def _primary_key_check(fd: FanData, name: str, pk: list[str], surplus: int) -> Problem:
    cols = ", ".join(pk)
    if surplus == 0:
        return Problem(name, cols, "primary_key", 0)
    t = fd.plans[name].typed
    counted = t.filter(_key_expr(t, pk).notnull()).group_by(pk).aggregate(_copies=lambda g: g.count())
    dups = counted.filter(counted._copies > 1)
    row = fd.execute(
        dups.aggregate(keys=dups.count(), rows=dups._copies.sum()), label=f"validate:{name}:primary_key:count"
    ).iloc[0]
    columns = example_columns(name, fd.plans[name].present)
    examples_q = t.semi_join(dups.select(pk), pk).select(columns).order_by(columns).limit(MAX_EXAMPLES)
    found = example_rows(fd.execute, examples_q, f"validate:{name}:primary_key:examples")
    return Problem(
        name,
        cols,
        "primary_key",
        int(row["rows"]),
        found,
        f"{int(row['keys']):,} value(s) of ({cols}) occur more than once; the primary key must be unique",
    )


def _foreign_key_check(fd: FanData, name: str, fk: contract.ForeignKey) -> list[Problem]:
    if not (fd.has(fk.table) and _key_usable(fd, name, [fk.column]) and _key_usable(fd, fk.table, [fk.ref_column])):
        return []  # the missing table or column is reported already
    child = fd.plans[name].typed
    parent = fd.plans[fk.table].typed.select(fk.ref_column)
    given = child.filter(child[fk.column].notnull())
    orphans = given.anti_join(parent, given[fk.column] == parent[fk.ref_column])
    failing = int(fd.execute(orphans.count(), label=f"validate:{name}:foreign_key:count"))
    shown = []
    if failing:
        columns = example_columns(name, fd.plans[name].present)
        shown = example_rows(
            fd.execute,
            orphans.select(columns).order_by(columns).limit(MAX_EXAMPLES),
            f"validate:{name}:foreign_key:examples",
        )
    detail = f"{fk.column!r} values not found in {fk.table}.{fk.ref_column}" if failing else ""
    return [Problem(name, fk.column, "foreign_key", failing, shown, detail)]


# --------------------------------------------------------------------------- entry points


def run_checks(fd: FanData) -> list[Problem]:
    """Every contract check on ``fd``: structural problems, then one record per value check
    (``failing_rows == 0`` for the checks that pass)."""
    results: list[Problem] = list(fd.mapping_problems)
    if not any(fd.has(name) for name in contract.FAN_SOURCES):
        results.append(_no_fans_problem(fd))
    for name, table in contract.TABLES.items():
        if fd.is_derived(name):
            continue  # made from checked tables; nothing of the source's own to check
        if not fd.has(name):
            if table.required:
                results.append(
                    Problem(name, None, "missing_table", None, [], f"the required table {name!r} is missing")
                )
            continue
        results.extend(fd.structure_problems(name))
        try:
            results.extend(table_checks(fd, name))
        except Exception as e:  # e.g. a text date the engine's regex guard let through
            if not _is_engine_error(e):
                raise
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            results.append(
                Problem(
                    name, None, "engine", None, [], f"the engine could not evaluate the checks of {name!r}: {first}"
                )
            )
    return results


def _no_fans_problem(fd: FanData) -> Problem:
    found = fd.source_tables()
    listed = ", ".join(found) if found else "no tables"
    return Problem(
        "fans",
        None,
        "missing_table",
        None,
        [],
        "the source has no fans, orders or events table; give at least one (without fans, every fan of the "
        f"orders and events is a fan, joining at the first order or event). The source has: {listed}",
    )


def _is_engine_error(e: Exception) -> bool:
    module = type(e).__module__.split(".")[0]
    return module in ("duckdb", "_duckdb", "psycopg", "psycopg2", "pyspark", "sqlalchemy")


def problems(fd: FanData) -> list[Problem]:
    """The contract violations of ``fd`` (empty when the data meets the contract)."""
    return [p for p in run_checks(fd) if p.failing_rows != 0]


def check_summary(fd: FanData) -> pd.DataFrame:
    """Every check as a small DataFrame (table, column, check, failing_rows, passed), for reports."""
    import pandas as pd

    rows = [
        {
            "table": p.table,
            "column": p.column,
            "check": p.check,
            "failing_rows": p.failing_rows,
            "passed": p.failing_rows == 0,
        }
        for p in run_checks(fd)
    ]
    return pd.DataFrame(rows, columns=["table", "column", "check", "failing_rows", "passed"])


#: Set by ``fanlib run`` for its kernels: a private folder of the run where a passed contract check is
#: recorded, so the other reports of the same run do not scan the same data again.
PASSED_DIR_ENV = "FANLIB_VALIDATED_DIR"


def _passed_record(fd: FanData) -> Path | None:
    """Where a passed check of this data would be recorded in this run (None outside a run).

    The key is the source, the column mapping, the contract and the data's fingerprint (row counts,
    time ranges and column types of every table), so changed data is checked again. Only passes are
    recorded: data that fails is checked, and its problems shown, every time.
    """
    folder = os.environ.get(PASSED_DIR_ENV)
    if not folder or not Path(folder).is_dir():
        return None
    key = {
        "source": fd.describe_source(),
        "mapping": fd.mapping,
        "fingerprint": fd.fingerprint(),
        "timezone": fd.timezone,
        "contract": hashlib.sha256(Path(contract.__file__).read_bytes()).hexdigest(),
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode("utf-8")).hexdigest()[:32]
    return Path(folder) / f"{digest}.passed"


def validate(fd: FanData) -> None:
    """Raise ``ContractError`` listing every problem if ``fd`` does not meet the contract.

    Inside ``fanlib run``, a pass is recorded for the run (see ``PASSED_DIR_ENV``) and the later
    reports reading the same data accept it instead of checking again; ``fd.validated`` says which.
    """
    record = _passed_record(fd)
    if record is not None and record.exists():
        fd.validated = "earlier in this run"
        return
    found = problems(fd)
    if found:
        raise ContractError(found, fd.describe_source())
    fd.validated = "checked"
    if record is not None:
        write_atomic(record, fd.describe_source())
