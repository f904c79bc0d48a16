"""From the engine's per (fan, cut-off) aggregates to the churn models' feature columns: counts from bit
masks, shares, one 0/1 column per channel, and the declared fan attributes (numeric as they are, missing
values at the median; categorical one 0/1 column per level, the rarest levels together as ``other``).

The attributes themselves are read in the engine as of the day before each cut-off
(:func:`attribute_expr`, from :func:`fanlib.data.attributes.fan_attributes`), so a value recorded after a
cut-off never explains the churn that follows it.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

__all__ = ["ATTRIBUTE_PREFIX", "MAX_LEVELS", "OTHER", "attribute_expr", "attribute_feature", "finish_features"]

#: Feature columns of declared fan attributes start with this: ``attr:age``, ``attr:segment=gold``.
ATTRIBUTE_PREFIX = "attr:"
#: Levels of a categorical attribute kept as their own column (the most frequent); the rest are ``other``.
MAX_LEVELS = 20
OTHER = "other"
_NUMERIC = "numeric"


def _engine_name(i: int) -> str:
    return f"attr__{i}"


def attribute_expr(fd: Any, kinds: dict[str, str], cutoffs: list[_dt.date]) -> ir.Table:
    """(fan_id, position, attr__0 …): the declared attributes ``kinds`` of each fan as of the day before each
    cut-off (position i is ``cutoffs[i]``); numeric ones as float64, categorical ones as text."""
    from fanlib.data.attributes import fan_attributes

    columns = list(kinds)
    parts = []
    for position, cutoff in enumerate(cutoffs):
        a = fan_attributes(fd, columns, as_of=cutoff - _dt.timedelta(days=1))
        values = {
            _engine_name(i): a[c].cast("float64") if kinds[c] == _NUMERIC else a[c].cast("string")
            for i, c in enumerate(columns)
        }
        parts.append(a.select("fan_id", position=ibis.literal(position, "int64"), **values))
    return parts[0] if len(parts) == 1 else ibis.union(*parts, distinct=False)


def attribute_feature(column: str, level: str | None = None) -> str:
    """The feature column of a numeric attribute (``attr:age``) or of one level of a categorical one."""
    return f"{ATTRIBUTE_PREFIX}{column}" if level is None else f"{ATTRIBUTE_PREFIX}{column}={level}"


def _attribute_columns(df: pd.DataFrame, kinds: dict[str, str]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for i, (column, kind) in enumerate(kinds.items()):
        values = df.pop(_engine_name(i))
        if kind == _NUMERIC:
            x = pd.to_numeric(values, errors="coerce").astype(float)
            out[attribute_feature(column)] = x.fillna(x.median() if x.notna().any() else 0.0).to_numpy()
            continue
        text = values.astype("string").fillna("unknown")
        keep = text.value_counts().index[:MAX_LEVELS]
        text = text.where(text.isin(keep), OTHER)
        for level in sorted(text.unique()):
            out[attribute_feature(column, str(level))] = (text == level).to_numpy(dtype=float)
    return out


def _ordered(position: np.ndarray, fan_id: np.ndarray) -> bool:
    """Whether rows are sorted by position, then fan id as Python orders strings."""
    if position.size < 2:
        return True
    step = np.diff(position)
    same = step == 0
    return bool((step >= 0).all() and (fan_id[1:][same] > fan_id[:-1][same]).all())


def finish_features(
    df: pd.DataFrame,
    cutoffs: list,
    channels: Sequence[str] | None,
    *,
    features: Sequence[str],
    attributes: dict[str, str] | None = None,
    extra: Sequence[str] = (),
) -> tuple[pd.DataFrame, list]:
    """Engine aggregates to model features (missing counts are 0), ordered by (position, fan_id): the named
    ``features`` (those the source can give), the channels' and the attributes' columns, then ``extra``."""
    for mask, col in (("active_mask_30", "active_days_30"), ("checkin_mask_30", "checkin_days_30")):
        if mask in df:
            df[col] = np.bitwise_count(df.pop(mask).fillna(0).to_numpy(dtype=np.int64))
    for col in (
        "active_days_30",
        "events_30",
        "events_90",
        "inter_30",
        "checkin_days_30",
        "checkin_ever",
        "orders_90",
        "orders_total",
        "comments_total",
        "negative_comments",
    ):
        if col not in df:
            df[col] = 0
        df[col] = df[col].fillna(0).astype(float)
    df["spend_90"] = df["spend_90"].fillna(0.0).astype(float)
    df["spend_total"] = df["spend_total"].fillna(0.0).astype(float)
    df["interactive_share_30"] = np.where(df["events_30"] > 0, df["inter_30"] / df["events_30"].clip(lower=1), 0.0)
    df["negative_share"] = np.where(
        df["comments_total"] > 0, df["negative_comments"] / df["comments_total"].clip(lower=1), 0.0
    )
    # never ordered: as long ago as the fan's tenure (a neutral, finite value for the models)
    df["days_since_order"] = df["days_since_order"].fillna(df["tenure_days"] + 1).astype(float)
    df["days_since_active"] = df["days_since_active"].astype(float)
    df["tenure_days"] = df["tenure_days"].astype(float)
    channels = list(channels) if channels is not None else sorted(df["channel"].dropna().unique())
    for ch in channels:
        df[f"channel_{ch}"] = (df["channel"] == ch).astype(float)
    encoded = _attribute_columns(df, attributes or {})
    if encoded:
        df = pd.concat([df, pd.DataFrame(encoded, index=df.index)], axis=1)
    keep = ["fan_id", "channel", "days_since_active", *features, *[f"channel_{ch}" for ch in channels]]
    keep += [*encoded, *extra]
    if not _ordered(df["position"].to_numpy(), df["fan_id"].to_numpy()):  # the engine's collation may differ
        df = df.sort_values(["position", "fan_id"], kind="stable")
    out = df[keep].reset_index(drop=True)
    out.insert(0, "cutoff", np.asarray(cutoffs, dtype=object)[df["position"].to_numpy()])
    return out, channels
