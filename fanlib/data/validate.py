"""Check a data source against the fan data contract (``fanlib.data.contract``).

Every rule comes from the contract: required tables and columns, types,
nullability, allowed values, minimum and maximum, timestamps not in the
future, primary keys, foreign keys to ``fans``, and non-empty tables.

How the checks run:

* The structure (column presence and types) is checked by pandera
  (``pandera.ibis``) against a schema derived from the contract
  (``pandera_schema(name)``), on the typed tables, without scanning data.
* The value checks are counted in the engine with one aggregate query per
  table (all column checks of a table in one scan), plus one query for
  duplicate keys and one anti-join per foreign key. The same rules are in the
  pandera schema, and pandera can run them directly
  (``pandera_schema("orders").validate(fd.orders)``); fanlib counts them itself
  because pandera issues one query per check and pulls a whole column of
  check results into pandas when a check fails, which does not scale to tens
  of millions of events.
* Only problem counts and at most 5 example rows per problem leave the engine.

A violation raises one error type, ``ContractError``, whose ``problems`` list
says for each problem the table, column, check, number of failing rows and
example rows, and whose text is a readable report.

Command line: ``fanlib validate [SOURCE] [--mapping FILE.yaml] [--now TIME] [--timezone ZONE]``
prints "OK" and the row counts, or the report and exits with code 2.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fanlib.data import contract
from fanlib.errors import InputError
from fanlib.io import write_atomic

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from fanlib.data.fandata import FanData

#: Examples kept per problem.
MAX_EXAMPLES = 5
#: Example text values are cut to this many characters.
MAX_TEXT = 60

#: check name -> what it means, for the report.
CHECKS = {
    "missing_table": "the required table is missing",
    "missing_column": "the required column is missing",
    "mapping": "the column mapping does not fit the source",
    "dtype": "the column's type cannot be converted to the contract's",
    "parse": "values that cannot be read as the contract's type",
    "number_format": "numbers whose comma or dot is neither the declared decimal mark nor a thousands separator",
    "integer": "values with a fraction in a column of whole numbers",
    "finite": "numbers that are infinite or not a number (inf, NaN)",
    "not_null": "missing values in a column that needs them",
    "allowed_values": "values outside the allowed codes",
    "min_value": "values below the minimum",
    "max_value": "values above the maximum",
    "not_in_future": "timestamps after the validation time",
    "primary_key": "duplicate values of the primary key",
    "foreign_key": "rows that refer to fans not in the fans table",
    "not_empty": "the table has no rows",
    "engine": "the database could not evaluate the checks",
}


@dataclass
class Problem:
    """One failed contract check.

    ``failing_rows`` is None for structural problems (a missing table or
    column, a wrong mapping), where rows do not apply.
    """

    table: str
    column: str | None
    check: str
    failing_rows: int | None
    examples: list[dict] = field(default_factory=list)
    detail: str = ""

    @property
    def where(self) -> str:
        return f"{self.table}.{self.column}" if self.column else self.table

    def describe(self) -> str:
        rows = "" if self.failing_rows is None else f", {self.failing_rows:,} failing row" + (
            "s" if self.failing_rows != 1 else "")
        return f"{self.where} [{self.check}{rows}]: {self.detail or CHECKS.get(self.check, self.check)}"


class ContractError(InputError, ValueError):
    """The data does not meet the fan data contract; ``problems`` lists every violation."""

    def __init__(self, problems: list[Problem], source: str = ""):
        self.problems = list(problems)
        self.source = source
        super().__init__(self.report())

    def report(self) -> str:
        n = len(self.problems)
        where = f" ({self.source})" if self.source else ""
        lines = [f"The data does not meet the fan data contract{where}: {n} problem{'s' if n != 1 else ''}."]
        for i, p in enumerate(self.problems, 1):
            lines.append(f"{i:>3}. {p.describe()}")
            for j, example in enumerate(p.examples):
                lines.append(f"       {'examples:' if j == 0 else '         '} {example}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.report()


# --------------------------------------------------------------------------- the pandera schema


def pandera_schema(name: str, now=None):
    """The pandera (ibis) schema of contract table ``name``: types, nullability and value checks.

    ``now`` bounds the timestamps that must not lie in the future (default:
    now in China Standard Time). Optional columns are listed too, because
    ``FanData`` adds them as typed NULL columns when the source lacks them.
    """
    import pandera.ibis as pa

    from fanlib.data.fandata import IBIS_TYPES, _as_naive

    bound = _as_naive(now)
    table = contract.table(name)
    columns = {}
    for c in table.columns:
        checks = []
        if c.allowed:
            checks.append(pa.Check.isin(list(c.allowed), name="allowed_values"))
        if c.min_value is not None:
            checks.append(pa.Check.ge(c.min_value, name="min_value"))
        if c.max_value is not None:
            checks.append(pa.Check.le(c.max_value, name="max_value"))
        if c.not_in_future:
            checks.append(pa.Check.le(bound, name="not_in_future"))
        columns[c.name] = pa.Column(IBIS_TYPES[c.dtype], checks=checks, nullable=c.nullable,
                                    description=c.description)
    unique = list(table.primary_key) or None
    return pa.DataFrameSchema(columns, unique=unique, name=name, strict=False)


# --------------------------------------------------------------------------- structure


def structure_problems(fd: FanData, name: str) -> list[Problem]:
    """Mapping mistakes, missing required columns and uncastable types of one table (no data scan
    unless a problem is found)."""
    import pandera.errors as pe
    from pandera.config import ValidationDepth, config_context

    plan = fd.plans[name]
    problems = list(plan.mapping_problems)
    schema = pandera_schema(name, fd.now)
    try:
        with config_context(validation_depth=ValidationDepth.SCHEMA_ONLY):
            schema.validate(plan.typed, lazy=True)
        return problems
    except pe.SchemaErrors as e:
        errors = e.schema_errors
    for err in errors:
        reason = err.reason_code
        if reason == pe.SchemaErrorReason.COLUMN_NOT_IN_DATAFRAME:
            column = str(err.failure_cases)
            if any(p.column == column and p.check == "mapping" for p in problems):
                continue  # the mapping problem already explains it
            problems.append(Problem(name, column, "missing_column", None, [],
                                    f"the required column {column!r} is missing; the source has "
                                    f"{', '.join(plan.raw.columns) or 'no columns'}"))
        elif reason == pe.SchemaErrorReason.WRONG_DATATYPE:
            column = err.schema.name
            col = plan.raw[column]
            failing, examples = _count_and_examples(fd, plan.raw, col.notnull(), [column], name, "dtype")
            want = contract.table(name).column(column).dtype
            problems.append(Problem(name, column, "dtype", failing, examples,
                                    f"expected {want}, found {col.type()}, which cannot be converted"))
        else:  # pragma: no cover - schema-only validation reports only the two above
            problems.append(Problem(name, getattr(err.schema, "name", None), str(reason), None, [], str(err)))
    return problems


# --------------------------------------------------------------------------- value checks


def _example_columns(name: str, present: list[str], *extra: str) -> list[str]:
    table = contract.table(name)
    # Tables without a primary key (events) are identified by all their required columns.
    keys = list(table.primary_key) or list(table.required_columns)
    if table.time_column:
        keys.append(table.time_column)
    keys += [fk.column for fk in table.foreign_keys]
    cols = []
    for c in [*keys, *extra]:
        if c in present and c not in cols:
            cols.append(c)
    return cols


def _plain(value: Any) -> Any:
    """A value fit for a readable example dict."""
    import pandas as pd

    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            value = value.item()
        except (ValueError, AttributeError):
            pass
    if isinstance(value, (pd.Timestamp, _dt.datetime)):
        return None if pd.isna(value) else pd.Timestamp(value).isoformat(sep=" ")
    if value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, str) and len(value) > MAX_TEXT:
        return value[: MAX_TEXT - 1] + "…"
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _examples(fd: FanData, t: ir.Table, cond, columns: list[str], label: str) -> list[dict]:
    q = t.filter(cond).select(columns).order_by(columns).limit(MAX_EXAMPLES)
    df = fd.execute(q, label=label)
    return [{k: _plain(v) for k, v in row.items()} for row in df.to_dict("records")]


def _count_and_examples(fd, t, cond, columns, name, check) -> tuple[int, list[dict]]:
    n = int(fd.execute(t.filter(cond).count(), label=f"validate:{name}:{check}:count"))
    return n, _examples(fd, t, cond, columns, f"validate:{name}:{check}:examples") if n else []


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
    rules = []
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
            rules.append(_Rule(c.name, "finite", given & (x.isinf() | x.isnan()),
                               f"{c.name!r} must be a finite number, not infinity or NaN"))
        if not c.nullable:
            rules.append(_Rule(c.name, "not_null", ~given, f"{c.name!r} must not be missing"))
        if c.allowed:
            codes = ", ".join(map(str, c.allowed))
            rules.append(_Rule(c.name, "allowed_values", x.notnull() & ~x.isin(list(c.allowed)),
                               f"{c.name!r} must be one of {codes}"))
        if c.min_value is not None:
            rules.append(_Rule(c.name, "min_value", x < c.min_value, f"{c.name!r} must be >= {c.min_value:g}"))
        if c.max_value is not None:
            rules.append(_Rule(c.name, "max_value", x > c.max_value, f"{c.name!r} must be <= {c.max_value:g}"))
        if c.not_in_future:
            import ibis

            bound = ibis.literal(now, type="timestamp")
            rules.append(_Rule(c.name, "not_in_future", x > bound,
                               f"{c.name!r} must not be after {now:%Y-%m-%d %H:%M:%S}"))
    return rules


def _key_expr(t, cols: list[str]):
    """One value per row for a (possibly composite) key; NULL if any part is NULL."""
    if len(cols) == 1:
        return t[cols[0]]
    import ibis

    key = t[cols[0]].cast("string")
    for c in cols[1:]:
        key = key.concat("\x1f", t[c].cast("string"))
    return ibis.ifelse(ibis.and_(*[t[c].notnull() for c in cols]), key, ibis.null("string"))


def _key_usable(fd: FanData, name: str, cols) -> bool:
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
    pk = list(table.primary_key)
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
        examples = []
        if failing:
            cols = _example_columns(name, plan.present, rule.column)
            examples = _examples(fd, plan.raw, rule.cond.fill_null(False), cols,
                                 f"validate:{name}:{rule.column}:{rule.check}:examples")
        results.append(Problem(name, rule.column, rule.check, failing, examples, rule.detail if failing else ""))
    if check_pk:
        results.append(_primary_key_check(fd, name, pk, int(row["pk_given"]) - int(row["pk_distinct"])))
    for fk in table.foreign_keys:
        results.extend(_foreign_key_check(fd, name, fk))
    return results


def _primary_key_check(fd: FanData, name: str, pk: list[str], surplus: int) -> Problem:
    cols = ", ".join(pk)
    if surplus == 0:
        return Problem(name, cols, "primary_key", 0)
    t = fd.plans[name].typed
    counted = t.filter(_key_expr(t, pk).notnull()).group_by(pk).aggregate(_copies=lambda g: g.count())
    dups = counted.filter(counted._copies > 1)
    row = fd.execute(dups.aggregate(keys=dups.count(), rows=dups._copies.sum()),
                     label=f"validate:{name}:primary_key:count").iloc[0]
    columns = _example_columns(name, fd.plans[name].present)
    examples_q = t.semi_join(dups.select(pk), pk).select(columns).order_by(columns).limit(MAX_EXAMPLES)
    df = fd.execute(examples_q, label=f"validate:{name}:primary_key:examples")
    examples = [{k: _plain(v) for k, v in r.items()} for r in df.to_dict("records")]
    return Problem(name, cols, "primary_key", int(row["rows"]), examples,
                   f"{int(row['keys']):,} value(s) of ({cols}) occur more than once; the primary key must be unique")


def _foreign_key_check(fd: FanData, name: str, fk: contract.ForeignKey) -> list[Problem]:
    if not (fd.has(fk.table) and _key_usable(fd, name, [fk.column]) and _key_usable(fd, fk.table, [fk.ref_column])):
        return []  # the missing table or column is reported already
    child = fd.plans[name].typed
    parent = fd.plans[fk.table].typed.select(fk.ref_column)
    given = child.filter(child[fk.column].notnull())
    orphans = given.anti_join(parent, given[fk.column] == parent[fk.ref_column])
    failing = int(fd.execute(orphans.count(), label=f"validate:{name}:foreign_key:count"))
    examples = []
    if failing:
        columns = _example_columns(name, fd.plans[name].present)
        df = fd.execute(orphans.select(columns).order_by(columns).limit(MAX_EXAMPLES),
                        label=f"validate:{name}:foreign_key:examples")
        examples = [{k: _plain(v) for k, v in r.items()} for r in df.to_dict("records")]
    detail = f"{fk.column!r} values not found in {fk.table}.{fk.ref_column}" if failing else ""
    return [Problem(name, fk.column, "foreign_key", failing, examples, detail)]


# --------------------------------------------------------------------------- entry points


def run_checks(fd: FanData) -> list[Problem]:
    """Every contract check on ``fd``: structural problems, then one record per value check
    (``failing_rows == 0`` for the checks that pass)."""
    results: list[Problem] = list(fd.mapping_problems)
    for name, table in contract.TABLES.items():
        if not fd.has(name):
            if table.required:
                results.append(Problem(name, None, "missing_table", None, [],
                                       f"the required table {name!r} is missing"))
            continue
        results.extend(fd.structure_problems(name))
        try:
            results.extend(table_checks(fd, name))
        except Exception as e:  # e.g. a text date the engine's regex guard let through
            if not _is_engine_error(e):
                raise
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            results.append(Problem(name, None, "engine", None, [],
                                   f"the engine could not evaluate the checks of {name!r}: {first}"))
    return results


def _is_engine_error(e: Exception) -> bool:
    module = type(e).__module__.split(".")[0]
    return module in ("duckdb", "_duckdb", "psycopg", "psycopg2", "pyspark", "sqlalchemy")


def problems(fd: FanData) -> list[Problem]:
    """The contract violations of ``fd`` (empty when the data meets the contract)."""
    return [p for p in run_checks(fd) if p.failing_rows != 0]


def check_summary(fd: FanData):
    """Every check as a small DataFrame (table, column, check, failing_rows, passed), for reports."""
    import pandas as pd

    rows = [
        {"table": p.table, "column": p.column, "check": p.check, "failing_rows": p.failing_rows,
         "passed": p.failing_rows == 0}
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
    import hashlib

    folder = os.environ.get(PASSED_DIR_ENV)
    if not folder or not Path(folder).is_dir():
        return None
    key = {"source": fd.describe_source(), "mapping": fd.mapping, "fingerprint": fd.fingerprint(),
           "timezone": fd.timezone,
           "contract": hashlib.sha256(Path(contract.__file__).read_bytes()).hexdigest()}
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


# --------------------------------------------------------------------------- CLI


def load_mapping(path) -> dict:
    """Read a column mapping from YAML: ``{table: {source_column: contract_column}}``, or a params
    file holding it under ``mapping`` or ``common: {mapping: …}``."""
    import yaml

    from fanlib.paths import resolve

    with open(resolve(path), encoding="utf-8") as f:
        data = yaml.safe_load(f) or {}
    if isinstance(data, dict) and "mapping" in data:
        data = data["mapping"] or {}
    elif isinstance(data, dict) and isinstance(data.get("common"), dict) and "mapping" in data["common"]:
        data = data["common"]["mapping"] or {}  # a params file: common: {mapping: …}
    if not isinstance(data, dict) or not all(isinstance(v, dict) or k == "decimal" for k, v in data.items()):
        raise ValueError(f"{path}: a mapping must look like {{fans: {{用户ID: fan_id}}}}")
    return data


def _print_warnings(fd: FanData) -> None:
    """Data timing warnings (stale data, one-day activity): shown, never a failure of the contract."""
    from fanlib.data.freshness import data_warnings

    found = data_warnings(fd)
    if found:
        print(f"Warnings ({len(found)}; they do not fail the contract):")
        for w in found:
            print(f"  - {w.describe()}")


def main(argv: list[str] | None = None) -> int:
    """``fanlib validate [SOURCE] [--mapping FILE.yaml] [--now TIME] [--timezone ZONE]``."""
    from fanlib.data.fandata import DEFAULT_SOURCE, SourceError, connect

    parser = argparse.ArgumentParser(
        prog="fanlib validate",
        description="Check a data source against the fan data contract. Exits 0 when it meets the "
        "contract, 2 when it does not (or cannot be read).",
    )
    parser.add_argument("source", nargs="?", default=DEFAULT_SOURCE,
                        help=f"DuckDB file, data folder, Excel workbook or database URL (default {DEFAULT_SOURCE})")
    parser.add_argument("--mapping", help="YAML file with per-table column renames, or a params file with "
                        "a 'mapping' key")
    parser.add_argument("--now", help="validation time for 'not in the future', as YYYY-MM-DD[ HH:MM:SS] "
                        "(default: now in the --timezone zone)")
    parser.add_argument("--timezone", default=contract.TIMEZONE,
                        help=f"IANA time zone of the data's timestamps (default {contract.TIMEZONE}); "
                        "time-zone-aware values are converted to it")
    args = parser.parse_args(argv)
    if args.now is not None:
        from fanlib.data.asof import date_problem

        bad = date_problem(args.now, "--now", time=True)
        if bad:
            print(f"fanlib validate: {bad}", file=sys.stderr)
            return 2
    fd = None
    try:
        mapping = load_mapping(args.mapping) if args.mapping else None
        fd = connect(args.source, mapping=mapping, validate=False, now=args.now, timezone=args.timezone)
        found = problems(fd)
        if found:
            print(ContractError(found, fd.describe_source()).report())
            _print_warnings(fd)
            return 2
        counts = fd.row_counts()
        print(f"OK: {fd.describe_source()} meets the fan data contract.")
        for name in contract.TABLE_NAMES:
            if name in counts:
                print(f"  {name:<12} {counts[name]:>12,} rows")
            else:
                print(f"  {name:<12} {'absent':>12}" + ("  (no rows, a header only)" if name in fd.empty_tables else ""))
        _print_warnings(fd)
        return 0
    except (SourceError, ContractError, OSError, ValueError, TypeError) as e:
        print(f"fanlib validate: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # an engine error: say what it is, without a traceback
        print(f"fanlib validate: cannot read the data: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    finally:
        if fd is not None:
            fd.close()


if __name__ == "__main__":
    sys.exit(main())
