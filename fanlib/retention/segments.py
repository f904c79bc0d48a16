"""The segments of the retention curves and of the churn breakdown (Kaplan–Meier, log-rank): the fans'
channel, community and city tier, or any declared fan column (``fans`` extras, ``fan_attributes``),
categorical as it is and numeric in quantile bins (:func:`fanlib.data.attributes.segment_labels`).

Left to its default (None), a report segments by the built-in columns the data gives with at least two
values among the fans, so a shop whose fans carry no channel gets no empty chart; a list names exactly
the segments wanted (the run's parameter check refuses an unknown column or one with a single level).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ibis.expr.types as ir
import pandas as pd

from fanlib.data.attributes import UNKNOWN, declared_columns, fan_attributes, segment_labels
from fanlib.data.errors import AttributeProblem

__all__ = ["BUILTIN", "declared_kinds", "choose_segments", "grouping", "fan_segments"]

#: The fans' own columns every report could segment by before fan attributes existed.
BUILTIN = ("channel", "community_id", "city_tier")


def declared_kinds(fd: Any, columns: Sequence[str]) -> dict[str, str]:
    """The kind (numeric, categorical) of each declared fan column named; refuses one that is not
    declared, naming those that are."""
    if not columns:
        return {}
    declared = declared_columns(fd)
    for col in columns:
        if col not in declared:
            raise AttributeProblem(
                col, "missing", "no such column in fans or fan_attributes", available=sorted(declared)
            )
    return {col: declared[col] for col in columns}


def choose_segments(fd: Any, names: Sequence[str] | None, defaults: Sequence[str] = BUILTIN) -> list[str]:
    """``names`` as given, or (None) the ``defaults`` that hold at least two known values among the fans."""
    if names is not None:
        return list(dict.fromkeys(names))
    f = fd.fans
    counts = fd.execute(f.aggregate(**{c: f[c].nunique() for c in defaults}), label="retention:segment_levels")
    return [c for c in defaults if int(counts[c].iloc[0]) >= 2]


def grouping(fd: Any, by: str, kind: str | None, bins: int) -> Any:
    """The grouping of one segment over a table of fans with the column (for the cohort counts)."""
    if by in BUILTIN:
        return lambda s: s[by]
    return lambda s: segment_labels(fd, s, by, kind, bins)


def fan_segments(fd: Any, names: Sequence[str], *, as_of: Any = None, bins: int = 4) -> pd.DataFrame:
    """fan_id and one label column per segment named (missing values ``unknown``), one row per fan."""
    own = [c for c in names if c not in BUILTIN]
    kinds = declared_kinds(fd, own)
    f = fd.fans
    t: ir.Table = f.select("fan_id", *[c for c in names if c in BUILTIN])
    if own:
        a = fan_attributes(fd, own, as_of=as_of)
        t = t.left_join(a, "fan_id").select(t, *[a[c] for c in own])
    labels = {c: grouping(fd, c, kinds.get(c), bins)(t).cast("string").fill_null(UNKNOWN) for c in names}
    return fd.execute(t.select("fan_id", **labels), label="retention:fan_segments")
