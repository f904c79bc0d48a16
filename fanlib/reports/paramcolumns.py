"""Parameters that name columns the data declares, checked against the source before any kernel starts.

A rule of ``fanlib.reports.paramcheck`` with ``or_declared`` ("numeric" or "any") accepts, besides its fixed
choices, a column of ``fans`` or ``fan_attributes`` (``fanlib.data.attributes``): the A/B report's
``covariates`` (pre-period metrics or numeric fan attributes) and ``segments`` (built-in dimensions or any
declared column with at least two levels, numeric ones cut into ``segment_bins`` quantile bins). When the A/B
report reads a unit table, the columns its parameters name are checked in that table instead.
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
    if values.get("unit_table") and values.get("source"):
        return unit_table_problems(stem, values)
    if not named or not values.get("source"):
        return []
    from fanlib.data.attributes import NUMERIC, check_segment, declared_columns
    from fanlib.data.errors import AttributeProblem
    from fanlib.errors import FanlibError

    fd = _open(values)
    if fd is None:
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


def _open(values: dict[str, Any]) -> Any:
    """The report's source, opened without the contract check (None when it cannot be opened)."""
    from fanlib.data.fandata import connect

    timezone = values.get("timezone")
    try:
        return connect(
            values["source"],
            mapping=values.get("mapping"),
            validate=False,
            **({"timezone": timezone} if timezone else {}),
        )
    except Exception:  # noqa: BLE001 - an unreadable source is the report's to explain
        return None


def unit_table_problems(stem: str, values: dict[str, Any]) -> list[str]:
    """The columns the A/B report's parameters name in its unit table (``unit_table``): the variant, outcome,
    covariate and time columns must exist (outcomes and covariates holding numbers, the time dates or times),
    and so must the segments that are not built-in dimensions. A table that cannot be read is the report's
    to explain; one that is not there is named, with the tables the source has."""
    from fanlib.ab.checks import read_unit_table
    from fanlib.ab.metrics import SEGMENTS

    fd = _open(values)
    if fd is None:
        return []
    try:
        try:
            keep = (values.get("unit_variant_column") or "variant", values.get("unit_fan_column") or "fan_id")
            table = read_unit_table(fd, values["unit_table"], keep_text=keep)
            schema = dict(table.schema().items())
        except Exception as err:  # noqa: BLE001 - a table that is not there is named; others are the report's
            if getattr(err, "code", None) == "no_unit_table" and getattr(err, "fields", {}).get("found"):
                return [f"{stem}: parameter 'unit_table': {err.fields['why']}"]
            return []
        own = values.get("unit_covariates") or {}
        numeric = {
            "unit_outcomes": [c.strip() for o in values.get("unit_outcomes") or [] for c in str(o).split("/")],
            "covariates": list(values.get("covariates") or []),
            "unit_covariates": [c for v in own.values() for c in ([v] if isinstance(v, str) else list(v or []))],
        }
        present = {
            "unit_variant_column": [values.get("unit_variant_column") or "variant"],
            "unit_fan_column": [values["unit_fan_column"]] if values.get("unit_fan_column") else [],
            "segments": [d for d in values.get("segments") or [] if d not in SEGMENTS],
        }
        where = f"the unit table {values['unit_table']!r}"
        problems = []
        for name, cols in {**present, **numeric}.items():
            for col in dict.fromkeys(cols):
                if col not in schema:
                    problems.append(
                        f"{stem}: parameter {name!r}: {col!r} is not a column of {where} (columns: {', '.join(schema)})"
                    )
                elif name in numeric and not (schema[col].is_numeric() or schema[col].is_boolean()):
                    problems.append(f"{stem}: parameter {name!r}: {col!r} in {where} holds {schema[col]}, not numbers")
        time = values.get("unit_time_column")
        if time and time not in schema:
            problems.append(f"{stem}: parameter 'unit_time_column': {time!r} is not a column of {where}")
        elif time and not (schema[time].is_timestamp() or schema[time].is_date()):
            problems.append(f"{stem}: parameter 'unit_time_column': {time!r} holds {schema[time]}, not dates or times")
        return problems
    finally:
        fd.close()


def unit_table_in_folder(source: Any, unit_table: str | None) -> tuple[bool, list[str]]:
    """Whether ``source`` is a folder holding a table named ``unit_table`` (in any letter case), and the tables
    it holds: a folder the A/B report reads even when it holds none of the contract's tables."""
    from fanlib.data import sources
    from fanlib.paths import resolve

    if not unit_table:
        return False, []
    try:
        folder = resolve(str(source))
        names = sorted(sources._folder_entries(folder)[0]) if folder.is_dir() else []
    except Exception:  # noqa: BLE001 - the source check says what is wrong with the folder
        return False, []
    return unit_table.strip().lower() in {n.strip().lower() for n in names}, names
