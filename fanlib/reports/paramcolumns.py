"""The A/B report's unit table, checked before any kernel starts: the columns its parameters name.

Named fan columns of the contract tables are checked by :mod:`fanlib.reports.datacheck`; when the A/B report
reads a unit table (``unit_table``), its parameters name that table's columns instead, checked here.
"""

from __future__ import annotations

from typing import Any


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
