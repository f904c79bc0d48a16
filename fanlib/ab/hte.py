"""Heterogeneous effects by segment, with an interaction test and correction across all segments.

Every segment of every requested dimension is reported (no picking the best-looking
ones). Per dimension, Cochran's Q tests whether the effects differ between segments:
Q = Σ w_s (Δ_s - Δ̄)², w_s = 1 / se_s², Δ̄ the precision-weighted mean, χ² with k - 1
degrees of freedom -- the Wald test of all treatment × segment interaction terms with
variant-and-segment-specific variances. Interaction p-values are Holm-corrected across
dimensions; per-segment p-values are corrected across every segment shown.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import stats as _st

from fanlib.ab.lifts import absolute_lift
from fanlib.ab.multiple import adjust

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from fanlib.ab.metrics import Metric
    from fanlib.data.tables import FanData

#: Segments with fewer units per variant are shown but left out of the interaction test.
MIN_SEGMENT_N = 100


def segment_effects(
    stats_by_segment: dict, control: str, treatment: str, *, alpha: float = 0.05, min_n: int = MIN_SEGMENT_N
) -> pd.DataFrame:
    """Absolute lift per segment. ``stats_by_segment`` maps segment -> {variant: SampleStats/RatioStats}."""
    rows = []
    for seg, by_variant in stats_by_segment.items():
        c, t = by_variant.get(control), by_variant.get(treatment)
        n_c, n_t = (c.n if c else 0), (t.n if t else 0)
        row = {
            "segment": seg,
            "n_control": n_c,
            "n_treatment": n_t,
            "control_mean": c.mean if c else math.nan,
            "treatment_mean": t.mean if t else math.nan,
        }
        if min(n_c, n_t) >= 2:
            lift = absolute_lift(t, c, alpha)
            row.update(estimate=lift.estimate, low=lift.low, high=lift.high, se=lift.se, p_value=lift.p_value)
        else:
            row.update(estimate=math.nan, low=math.nan, high=math.nan, se=math.nan, p_value=math.nan)
        row["tested"] = bool(min(n_c, n_t) >= min_n and np.isfinite(row["se"]) and row["se"] > 0)
        rows.append(row)
    return pd.DataFrame(rows)


def interaction_test(effects: pd.DataFrame) -> tuple[float, int, float]:
    """Cochran's Q heterogeneity test over the tested segments: (Q, df, p-value)."""
    e = effects[effects["tested"]]
    if len(e) < 2:
        return math.nan, 0, math.nan
    w = 1 / e["se"].to_numpy(float) ** 2
    d = e["estimate"].to_numpy(float)
    pooled = (w * d).sum() / w.sum()
    q = float((w * (d - pooled) ** 2).sum())
    df = len(e) - 1
    return q, df, float(_st.chi2.sf(q, df))


def heterogeneity(
    stats_by_dimension: dict,
    control: str,
    treatment: str,
    *,
    alpha: float = 0.05,
    correction: str = "holm",
    min_n: int = MIN_SEGMENT_N,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-segment effects and per-dimension interaction tests, both with corrected p-values.

    ``stats_by_dimension`` maps dimension -> segment -> {variant: stats}. Returns (segments, tests).
    """
    seg_frames, tests = [], []
    for dim, by_seg in stats_by_dimension.items():
        eff = segment_effects(by_seg, control, treatment, alpha=alpha, min_n=min_n)
        eff.insert(0, "dimension", dim)
        seg_frames.append(eff)
        q, df, p = interaction_test(eff)
        tests.append(
            {
                "dimension": dim,
                "segments": len(eff),
                "segments_tested": int(eff["tested"].sum()),
                "q": q,
                "df": df,
                "p_value": p,
            }
        )
    segments = pd.concat(seg_frames, ignore_index=True) if seg_frames else pd.DataFrame()
    tests = pd.DataFrame(tests)
    if not segments.empty:
        segments["p_adjusted"] = adjust(segments["p_value"].where(segments["tested"]), correction)
    if not tests.empty:
        tests["p_adjusted"] = adjust(tests["p_value"], correction)
        tests["heterogeneous"] = tests["p_adjusted"] < alpha
    return segments, tests


def segment_readout(
    fd: FanData,
    units: ir.Table,
    metric: Metric,
    dimensions: Sequence[str],
    *,
    control: str,
    treatment: str,
    alpha: float = 0.05,
    correction: str = "holm",
    min_n: int = MIN_SEGMENT_N,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Segment effects of one metric for every dimension, aggregated in the engine (one query per dimension)."""
    from fanlib.ab.errors import ABInputError
    from fanlib.ab.queries import variant_moments
    from fanlib.ab.stats import variant_stats

    missing = [d for d in dimensions if d not in units.columns]
    if missing:
        raise ABInputError(
            f"segment columns {missing} are not available; available: "
            f"{[c for c in units.columns if units[c].type().is_string()]}",
            check="segment columns",
            code="segment_columns",
            fields={
                "columns": ", ".join(missing),
                "available": ", ".join(c for c in units.columns if units[c].type().is_string()),
            },
        )
    by_dim = {}
    for dim in dimensions:
        mom = variant_moments(fd, units, {metric.name: metric}, by=[dim], label=f"ab:segments:{dim}")
        by_seg: dict = {}
        for (seg, variant), per_metric in mom.items():
            m = per_metric[metric.name]
            by_seg.setdefault(seg, {})[variant] = variant_stats(m, metric.kind, metric.column, metric.denominator)
        by_dim[dim] = dict(sorted(by_seg.items()))
    return heterogeneity(by_dim, control, treatment, alpha=alpha, correction=correction, min_n=min_n)
