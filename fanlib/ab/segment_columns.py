"""The segment dimensions of the A/B segment effects: the built-in ones and any column the data declares.

Built-in dimensions (``fanlib.ab.metrics.SEGMENTS``: activity tier, channel, tenure, city tier) are columns of
the readout's per-fan rows when the data can give them (activity tier needs ``events``, the others their
``fans`` column). Any other name is a declared fan attribute (``fanlib.data.attributes``: a column of
``fans`` or ``fan_attributes``, as known at the experiment's first assignment) or, for a unit table, a
column of that table: categories are segments as they are, numbers are cut into ``bins`` quantile bins
(``segment_labels``), computed in the engine. A dimension the data cannot give, or with one level only, is
left out with a caveat naming it; none left is an error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fanlib.ab.errors import ABInputError
from fanlib.ab.metrics import SEGMENTS

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from fanlib.data.tables import FanData

#: What each built-in dimension is made from, for the caveat when the data cannot give it.
BUILT_FROM = {
    "activity_tier": "events",
    "channel": "fans.channel",
    "tenure": "fans.join_time",
    "city_tier": "fans.city_tier",
}


def segment_units(
    fd: FanData, units: ir.Table, dimensions: list[str], *, bins: int = 4, unit_table: bool = False
) -> tuple[ir.Table, list[str], list[tuple[str, dict]]]:
    """The per-fan rows with a string label column per dimension; returns (rows, dimensions kept, caveats).

    ``unit_table``: the rows are a user's unit table, whose own columns are the dimensions (no fan attributes).
    """
    from fanlib.data.attributes import segment_labels

    notes: list[tuple[str, dict]] = []
    dims = list(dict.fromkeys(dimensions))
    if unit_table:  # the built-in dimensions (the parameter's default) only if the table has such columns
        absent = [d for d in dims if d in SEGMENTS and d not in units.columns]
        if absent:
            notes.append(("segments_not_in_table", {"dimensions": ", ".join(absent)}))
        own = [d for d in dims if d not in absent and d != "variant"]
        missing = [d for d in own if d not in units.columns]
        if missing:
            raise _unknown(missing, [c for c in units.columns if c != "variant"])
    else:
        unavailable = [d for d in dims if d in SEGMENTS and d not in units.columns]
        if unavailable:
            notes.append(
                ("segments_unavailable", {"dimensions": ", ".join(f"{d} ({BUILT_FROM[d]})" for d in unavailable)})
            )
        own = [d for d in dims if d not in SEGMENTS]
        units = _with_attributes(fd, units, own)
    labelled = {d: segment_labels(fd, units, d, None, bins) for d in own}
    if labelled:
        units = units.mutate(**labelled)
    candidates = [d for d in dims if d in units.columns and d != "variant"]
    kept = _with_two_levels(fd, units, candidates, notes)
    if not kept:
        raise ABInputError(
            f"no segment dimension can be used: {', '.join(dims)}",
            check="segment columns",
            code="segments_none_left",
            fields={"dimensions": ", ".join(dims)},
        )
    return units, kept, notes


def _with_attributes(fd: FanData, units: ir.Table, own: list[str]) -> ir.Table:
    """The units with the declared fan attributes ``own``, as known at the experiment's first assignment."""
    if not own:
        return units
    from fanlib.data.attributes import declared_columns, fan_attributes

    declared = declared_columns(fd)
    missing = [d for d in own if d not in declared]
    if missing:
        raise _unknown(missing, [*SEGMENTS, *sorted(declared)])
    clash = [d for d in own if d in units.columns]
    if clash:
        raise ABInputError(
            f"fan attributes {clash} have the names of readout columns; rename them in the mapping",
            column=clash[0],
            check="segment columns",
            code="covariate_name_taken",
            fields={"name": ", ".join(clash)},
        )
    first = fd.execute(units.assigned_time.min().name("first").as_table(), label="ab:segments:first")["first"]
    attrs = fan_attributes(fd, own, as_of=first.iloc[0]).rename(_seg_fan="fan_id")
    return units.left_join(attrs, units.fan_id == attrs._seg_fan).drop("_seg_fan")


def _with_two_levels(fd: FanData, units: ir.Table, dims: list[str], notes: list) -> list[str]:
    if not dims:
        return []
    levels = fd.execute(
        units.aggregate(**{f"n{i}": units[d].nunique() for i, d in enumerate(dims)}), label="ab:segments:levels"
    ).iloc[0]
    one = [d for i, d in enumerate(dims) if int(levels[f"n{i}"]) < 2]
    if one:
        notes.append(("segment_one_level", {"dimensions": ", ".join(one)}))
    return [d for d in dims if d not in one]


def _unknown(missing: list[str], available: list[str]) -> Any:
    return ABInputError(
        f"segment columns {missing} are not available; available: {available}",
        check="segment columns",
        code="segment_columns",
        fields={"columns": ", ".join(missing), "available": ", ".join(available)},
    )
