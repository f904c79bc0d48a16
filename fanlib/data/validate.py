"""Check a data source against the fan data contract (``fanlib.data.contract``): ``fanlib validate``.

Every rule comes from the contract: required tables and columns, types,
nullability, allowed values, minimum and maximum, timestamps not in the
future, primary keys, foreign keys to ``fans``, and non-empty tables.

How the checks run:

* The structure (column presence and types) is checked by pandera
  (``pandera.ibis``) against a schema derived from the contract
  (``pandera_schema(name)``, in ``fanlib.data.structure``), on the typed tables, without scanning data.
* The value checks (``fanlib.data.checks``) are counted in the engine with one aggregate query per
  table (all column checks of a table in one scan), plus one query for
  duplicate keys and one anti-join per foreign key. The same rules are in the
  pandera schema, and pandera can run them directly
  (``pandera_schema("orders").validate(fd.orders)``); fanlib counts them itself
  because pandera issues one query per check and pulls a whole column of
  check results into pandas when a check fails, which does not scale to tens
  of millions of events.
* Only problem counts and at most 5 example rows per problem leave the engine.

A violation raises one error type, ``ContractError`` (``fanlib.data.errors``), whose ``problems`` list
says for each problem the table, column, check, number of failing rows and
example rows, and whose text is a readable report.

This module is the checks' public face and the command line:
``fanlib validate [SOURCE] [--mapping FILE.yaml] [--now TIME] [--timezone ZONE]``
prints "OK" and the row counts, or the report and exits with code 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fanlib.data import contract
from fanlib.data.checks import (
    problems,
)
from fanlib.data.errors import ContractError, SourceError
from fanlib.data.fandata import DEFAULT_SOURCE, FanData, connect

# --------------------------------------------------------------------------- CLI


def load_mapping(path: str | Path) -> dict:
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


def _order_note(fd: FanData, name: str) -> str:
    """What the rows of ``orders`` count as: orders or lines, and the rows left out as cancelled or returned;
    for ``fans``, the join times filled from a first order or event."""
    if name == "fans" and fd.join_times().filled:
        return f"  ({fd.join_times().filled:,} join times taken from the first order or event)"
    if name != "orders":
        return ""
    c = fd.order_cleaning()
    if c is None or (not c.lines and not c.left_out_rows):
        return ""
    what = f"{c.orders:,} paid orders" + (" in lines" if c.lines else "")
    if c.left_out_rows:
        what += f"; {c.left_out_rows:,} rows left out as cancelled, refunded or returned"
    return f"  ({what})"


def main(argv: list[str] | None = None) -> int:
    """``fanlib validate [SOURCE] [--mapping FILE.yaml] [--now TIME] [--timezone ZONE]``."""
    parser = argparse.ArgumentParser(
        prog="fanlib validate",
        description="Check a data source against the fan data contract. Exits 0 when it meets the "
        "contract, 2 when it does not (or cannot be read).",
    )
    parser.add_argument(
        "source",
        nargs="?",
        default=DEFAULT_SOURCE,
        help=f"DuckDB file, data folder, Excel workbook or database URL (default {DEFAULT_SOURCE})",
    )
    parser.add_argument(
        "--mapping", help="YAML file with per-table column renames, or a params file with a 'mapping' key"
    )
    parser.add_argument(
        "--now",
        help="validation time for 'not in the future', as YYYY-MM-DD[ HH:MM:SS] (default: now in the --timezone zone)",
    )
    parser.add_argument(
        "--timezone",
        default=contract.TIMEZONE,
        help=f"IANA time zone of the data's timestamps (default {contract.TIMEZONE}); "
        "time-zone-aware values are converted to it",
    )
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
            if fd.is_derived(name):
                print(f"  {name:<12} {counts[name]:>12,} rows  (derived from {' and '.join(fd.derived[name])})")
            elif name in counts:
                print(f"  {name:<12} {counts[name]:>12,} rows" + _order_note(fd, name))
            else:
                print(
                    f"  {name:<12} {'absent':>12}" + ("  (no rows, a header only)" if name in fd.empty_tables else "")
                )
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
