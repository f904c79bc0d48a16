"""Parameters that name columns the data declares, checked against the source before any kernel starts.

A rule of ``fanlib.reports.paramcheck`` with ``or_declared`` ("numeric" or "any") accepts, besides its fixed
choices, a column of ``fans`` or ``fan_attributes`` (``fanlib.data.attributes``): the A/B report's
``covariates`` (pre-period metrics or numeric fan attributes) and ``segments`` (built-in dimensions or any
declared column with at least two levels, numeric ones cut into ``segment_bins`` quantile bins).
"""

from __future__ import annotations

from typing import Any


def declared_problems(stem: str, values: dict[str, Any], rules: dict[str, Any]) -> list[str]:
    """Each named column of a rule ``or_declared`` (02_ab_campaign's ``covariates`` and ``segments``) that is
    neither a fixed choice nor a column the source declares of that kind, or (a segment) has one level only.

    Names of a report reading a unit table (``unit_table``) are that table's columns: its readout checks them.
    A source that cannot be opened is the report's (or the source check's) to explain."""
    named = {
        name: [v for v in (value if isinstance(value, (list, tuple)) else [value]) if v not in rules[name].allowed()]
        for name, value in values.items()
        if name in rules and rules[name].or_declared and value
    }
    named = {k: v for k, v in named.items() if v}
    if not named or values.get("unit_table") or not values.get("source"):
        return []
    from fanlib.data.attributes import NUMERIC, check_segment, declared_columns
    from fanlib.data.errors import AttributeProblem
    from fanlib.data.fandata import connect
    from fanlib.errors import FanlibError

    timezone = values.get("timezone")
    try:
        fd = connect(
            values["source"],
            mapping=values.get("mapping"),
            validate=False,
            **({"timezone": timezone} if timezone else {}),
        )
    except Exception:  # noqa: BLE001 - an unreadable source is the report's to explain
        return []
    problems = []
    try:
        declared = declared_columns(fd)
        for name, columns in named.items():
            rule = rules[name]
            fixed = ", ".join(map(str, rule.allowed()))
            kinds = sorted(c for c, k in declared.items() if rule.or_declared == "any" or k == NUMERIC)
            for col in columns:
                if col not in declared:
                    problems.append(
                        f"{stem}: parameter {name!r}: {col!r} is neither one of {fixed} nor a column the data "
                        f"declares (fans or fan_attributes: {', '.join(sorted(declared)) or 'none'})"
                    )
                elif rule.or_declared == NUMERIC and declared[col] != NUMERIC:
                    problems.append(
                        f"{stem}: parameter {name!r}: {col!r} does not hold numbers; the numeric fan attributes "
                        f"are {', '.join(kinds) or 'none'}"
                    )
                elif rule.or_declared == "any":
                    try:
                        check_segment(fd, col, bins=int(values.get("segment_bins") or 4))
                    except AttributeProblem as err:
                        problems.append(f"{stem}: parameter {name!r}: {col!r}: {err}")
    except FanlibError:  # the data cannot say (a broken fans table): the report explains
        return problems
    finally:
        fd.close()
    return problems


#: The file kinds a folder source may hold a unit table in.
UNIT_TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".pq", ".xlsx", ".xlsm")


def unit_table_in_folder(source: Any, unit_table: str | None) -> bool:
    """Whether ``source`` is a folder with a file (or a folder of parts) named after ``unit_table``: a source
    the A/B report reads even when it holds none of the contract's tables."""
    from fanlib.paths import resolve

    if not unit_table:
        return False
    try:
        folder = resolve(str(source))
        entries = list(folder.iterdir()) if folder.is_dir() else []
    except OSError:
        return False
    name = unit_table.lower()
    return any(
        (p.is_file() and p.stem.lower() == name and p.suffix.lower() in UNIT_TABLE_SUFFIXES)
        or (p.is_dir() and p.name.lower() == name)
        for p in entries
    )
