"""Difference-in-differences for campaigns that were NOT randomised.

A panel of units (communities) × periods (weeks from the campaign start) is built in
the engine; the small panel is fitted here by two-way fixed-effects OLS with
cluster-robust standard errors (clustered by unit), plus an event study whose pre-period
coefficients give the pre-trend test. The fits are ``fanlib.stats.ols.OLSResult``s.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats as _st

from fanlib.ab.errors import ABInputError
from fanlib.stats.ols import OLSResult

if TYPE_CHECKING:
    from fanlib.data.tables import FanData


def _absorb(
    M: np.ndarray, effects: list[np.ndarray], w: np.ndarray, tol: float = 1e-12, max_iter: int = 1000
) -> np.ndarray:
    """M minus its weighted least-squares projection on the dummies of every fixed effect.

    Alternating weighted demeaning (one pass for a balanced panel with unit-constant weights;
    a few more when rows are missing) instead of one dummy column per level.
    """
    M = np.array(M, dtype=float, copy=True)
    groups = [(codes, np.bincount(codes, weights=w)) for codes in effects]
    scale = max(float(np.abs(M).max()), 1.0)
    for _ in range(max_iter):
        moved = 0.0
        for codes, wsum in groups:
            for j in range(M.shape[1]):
                means = np.bincount(codes, weights=w * M[:, j], minlength=len(wsum)) / wsum
                M[:, j] -= means[codes]
                moved = max(moved, float(np.abs(means).max()))
        if moved <= tol * scale:
            break
    return M


def ols_fe(
    y: np.ndarray | Sequence[float],
    X: np.ndarray,
    *,
    names: Sequence[str],
    effects: Sequence[np.ndarray | Sequence],
    groups: np.ndarray | Sequence,
    weights: np.ndarray | Sequence[float] | None = None,
) -> OLSResult:
    """``ols`` of y on X plus a constant and a dummy set per array in ``effects`` (e.g. unit and week),
    with unit-clustered errors; returns X's coefficients only.

    The fixed effects are absorbed (Frisch–Waugh–Lovell), so the cost grows with rows, not with
    rows × units: the same estimates and cluster covariance as the dummy regression, whose
    residual degrees of freedom it keeps (n − rank of X − levels + number of effects − 1 + 1).
    """
    y = np.asarray(y, dtype=float)
    X = np.asarray(X, dtype=float).reshape(len(y), -1)
    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=float)
    codes = [pd.factorize(np.asarray(e))[0] for e in effects]
    absorbed = _absorb(np.column_stack([y, X]), codes, w)
    root = np.sqrt(w)
    ys, Xs = absorbed[:, 0] * root, absorbed[:, 1:] * root[:, None]
    n = len(y)
    xtx_inv = np.linalg.pinv(Xs.T @ Xs)
    params = xtx_inv @ (Xs.T @ ys)
    resid = ys - Xs @ params
    levels = sum(int(c.max()) + 1 for c in codes)
    rank = np.linalg.matrix_rank(Xs) + levels - (len(codes) - 1)  # the constant and all but one set's base
    df = n - rank
    gcodes, uniq = pd.factorize(np.asarray(groups))
    n_groups = len(uniq)
    if df <= 0 or n_groups < 2:  # nothing left to estimate the noise from
        n_periods = len(set(np.asarray(effects[-1]).tolist())) if len(effects) > 1 else 0
        raise ABInputError(
            f"the panel is too small: {n_groups} units over {n_periods} periods leave no residual "
            f"degrees of freedom after the fixed effects",
            check="panel size",
            code="did_too_small",
            fields={"units": n_groups, "periods": n_periods},
        )
    scores = np.zeros((n_groups, Xs.shape[1]))
    np.add.at(scores, gcodes, Xs * resid[:, None])
    cov = xtx_inv @ (scores.T @ scores) @ xtx_inv
    cov *= n_groups / (n_groups - 1) * (n - 1) / df
    return OLSResult(tuple(names), params, cov, n, df, "cluster", n_groups, float(resid @ resid))


# --- the panel, built in the engine --------------------------------------------------------


def build_panel(
    fd: FanData,
    start: _dt.date | str,
    *,
    pre_weeks: int = 12,
    post_weeks: int = 12,
    unit: str = "community_id",
    event_types: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Weekly event counts per community, weeks counted from the campaign ``start`` (week 0 starts on it).

    Aggregated in the engine; only units × weeks come back. Communities come from
    ``events.community_id`` when present, else from the fan's community.
    """

    start = pd.Timestamp(start)
    ev = fd.events
    if unit not in ev.columns:
        fans = fd.fans
        if unit not in fans.columns:
            raise ABInputError(
                f"neither events nor fans have the column {unit!r} needed for the panel",
                table="events",
                column=unit,
                check="column present",
                code="did_no_unit_column",
                fields={"column": unit},
            )
        ev = ev.join(fans.select("fan_id", fans[unit].name(f"{unit}_fan")), "fan_id")
        ev = ev.mutate(**{unit: ev[f"{unit}_fan"]})
    lo = start - pd.Timedelta(weeks=pre_weeks)
    hi = start + pd.Timedelta(weeks=post_weeks)
    ev = ev.filter((ev.event_time >= lo.to_pydatetime()) & (ev.event_time < hi.to_pydatetime()) & ev[unit].notnull())
    if event_types:
        ev = ev.filter(ev.event_type.isin(list(event_types)))
    secs = ev.event_time.epoch_seconds() - int((start - pd.Timestamp("1970-01-01")).total_seconds())
    ev = ev.mutate(period=(secs / (7 * 86400)).floor().cast("int64"))
    agg = ev.group_by([ev[unit].name("unit"), "period"]).aggregate(events=ev.count(), fans=ev.fan_id.nunique())
    panel = fd.execute(agg)
    if panel.empty:
        raise ABInputError(
            f"no events between {lo.date()} and {hi.date()} with a {unit}",
            table="events",
            column="event_time",
            check="non-empty window",
            code="did_no_events",
            fields={"first": lo.date().isoformat(), "last": hi.date().isoformat(), "column": unit},
        )
    units = sorted(panel["unit"].astype(str).unique())
    periods = range(-pre_weeks, post_weeks)
    full = pd.MultiIndex.from_product([units, periods], names=["unit", "period"]).to_frame(index=False)
    panel["unit"] = panel["unit"].astype(str)
    panel = full.merge(panel, on=["unit", "period"], how="left").fillna({"events": 0, "fans": 0})
    panel["events"] = panel["events"].astype(int)
    panel["fans"] = panel["fans"].astype(int)
    # events per active fan: fans joining or leaving a community do not move it, only behaviour does
    panel["events_per_fan"] = np.where(panel["fans"] > 0, panel["events"] / panel["fans"].clip(lower=1), np.nan)
    panel["week_start"] = [(start + pd.Timedelta(weeks=int(p))).date() for p in panel["period"]]
    return panel


@dataclass(frozen=True)
class DiDResult:
    effect: float  # coefficient on treated × post, on the log scale of the outcome
    se: float
    low: float
    high: float
    p_value: float
    relative: float  # exp(effect) - 1
    relative_low: float
    relative_high: float
    n_units: int
    n_treated: int
    n_periods: int
    pretrend_t: float  # t statistic of the differential pre-period slope
    pretrend_p: float
    pretrend_q: int
    event_study: pd.DataFrame
    fit: OLSResult

    @property
    def pretrend_ok(self) -> bool:
        return self.pretrend_p >= 0.05

    @property
    def pretrend_tested(self) -> bool:
        """False when the panel has too few weeks or communities before the start for the test."""
        return math.isfinite(self.pretrend_p)


def unit_weights(panel: pd.DataFrame) -> np.ndarray | None:
    """Each row's weight: its unit's mean active fans per week before the start (fixed before treatment).

    Big communities' weekly rates are less noisy, so they count more; a panel without fan
    counts is unweighted.
    """
    if "fans" not in panel.columns:
        return None
    pre = panel[panel["period"] < 0]
    size = pre.groupby(pre["unit"].astype(str))["fans"].mean()
    w = panel["unit"].astype(str).map(size).to_numpy(float)
    return np.where(np.isfinite(w) & (w > 0), w, 1.0)


def _positive(panel: pd.DataFrame, outcome: str) -> pd.DataFrame:
    if outcome not in panel.columns:
        raise ABInputError(
            f"the panel has no column {outcome!r}",
            column=outcome,
            check="column present",
            code="did_no_outcome",
            fields={"column": outcome},
        )
    values = panel[outcome].astype(float)
    return panel[np.isfinite(values) & (values > 0)]


def fit_did(
    panel: pd.DataFrame, treated: Iterable[str], *, alpha: float = 0.05, outcome: str = "events_per_fan"
) -> DiDResult:
    """Two-way fixed-effects DiD on log(outcome), clustered by unit, with an event study.

    Rows are weighted by the unit's pre-period size (``unit_weights``).
    The default outcome is weekly events per active fan, so the effect is relative
    (exp(β) - 1). Period 0 is the first week of the campaign; the event study's reference week is -1.
    Inference uses t with G - 1 degrees of freedom (G = number of units).
    """
    panel = _positive(panel, outcome)
    treated = {str(t) for t in treated}
    units = panel["unit"].astype(str).to_numpy()
    missing = treated - set(units)
    if missing:
        raise ABInputError(
            f"treated units {sorted(missing)} have no events in the panel window",
            table="events",
            column="community_id",
            check="treated units present",
            code="did_treated_missing",
            fields={"units": ", ".join(sorted(missing))},
        )
    n_treated = len(treated)
    n_units = len(set(units))
    if n_treated == 0 or n_treated == n_units:
        raise ABInputError(
            "difference-in-differences needs both treated and untreated units",
            check="treated and control groups",
            code="did_no_groups",
        )
    period = panel["period"].to_numpy()
    if not ((period < 0).any() and (period >= 0).any()):
        raise ABInputError(
            "the panel needs weeks before and after the campaign start",
            check="pre and post periods",
            code="did_no_periods",
        )
    y = np.log(panel[outcome].to_numpy(float))
    w = unit_weights(panel)
    d = np.isin(units, list(treated)).astype(float)
    post = (period >= 0).astype(float)
    # Unit and week effects are absorbed rather than written as dummies: thousands of communities
    # would make a dense design matrix of rows x units.
    res = ols_fe(y, d * post, names=["treated_post"], effects=[units, period], groups=units, weights=w)
    b, se = res.coef("treated_post")
    G = res.n_groups
    if not (math.isfinite(se) and se > 0):  # a perfect fit is no evidence of an effect
        raise ABInputError(
            "the panel is too small to estimate the uncertainty of the effect",
            check="panel size",
            code="did_too_small",
            fields={"units": n_units, "periods": len(set(period.tolist()))},
        )
    crit = float(_st.t.ppf(1 - alpha / 2, G - 1))
    p = float(2 * _st.t.sf(abs(b / se), G - 1))
    # event study: treated × each week except the reference week -1
    weeks = sorted(int(w) for w in pd.unique(period) if w != -1)
    E = np.column_stack([d * (period == w) for w in weeks])
    enames = [f"treated_week[{w}]" for w in weeks]
    es = ols_fe(y, E, names=enames, effects=[units, period], groups=units, weights=w)
    rows = []
    for w, nm in zip(weeks, enames, strict=True):
        c, s = es.coef(nm)
        rows.append({"period": w, "estimate": c, "low": c - crit * s, "high": c + crit * s, "se": s})
    rows.append({"period": -1, "estimate": 0.0, "low": 0.0, "high": 0.0, "se": 0.0})
    study = pd.DataFrame(rows).sort_values("period").reset_index(drop=True)
    f, fp, q = pretrend_test(panel, treated, outcome)
    return DiDResult(
        b,
        se,
        b - crit * se,
        b + crit * se,
        p,
        math.expm1(b),
        math.expm1(b - crit * se),
        math.expm1(b + crit * se),
        n_units,
        n_treated,
        len(set(period.tolist())),
        f,
        fp,
        q,
        study,
        res,
    )


def pretrend_test(
    panel: pd.DataFrame, treated: Iterable[str], outcome: str = "events_per_fan"
) -> tuple[float, float, int]:
    """Test for a differential linear trend before the start: (t statistic, p-value, 1).

    Pre-period weeks only: log(outcome) ~ unit FE + week FE + treated × week, clustered by
    unit, t with G - 1 degrees of freedom. One slope is estimated far more stably than a joint
    Wald test of every pre-period week when only a few units are treated (that test over-rejects).
    """
    panel = _positive(panel, outcome)
    pre = panel[panel["period"] < 0]
    if pre["period"].nunique() < 3:
        return math.nan, math.nan, 0
    units = pre["unit"].astype(str).to_numpy()
    period = pre["period"].to_numpy()
    d = np.isin(units, [str(t) for t in treated]).astype(float)
    y = np.log(pre[outcome].to_numpy(float))
    try:
        res = ols_fe(y, d * period, names=["slope"], effects=[units, period], groups=units, weights=unit_weights(pre))
    except ABInputError:  # too few weeks or units before the start: no test, said as such
        return math.nan, math.nan, 0
    if not (math.isfinite(res.bse[0]) and res.bse[0] > 0):
        return math.nan, math.nan, 0
    t = float(res.params[0] / res.bse[0])
    return t, float(2 * _st.t.sf(abs(t), res.n_groups - 1)), 1


def trends(panel: pd.DataFrame, treated: Iterable[str], outcome: str = "events_per_fan") -> pd.DataFrame:
    """Mean log(outcome) per week for treated and comparison communities (the pre-trend chart's data)."""
    frame = _positive(panel, outcome).copy()
    frame["group"] = np.where(frame["unit"].astype(str).isin({str(t) for t in treated}), "treated", "comparison")
    frame["log_outcome"] = np.log(frame[outcome].astype(float))
    return frame.groupby(["group", "period", "week_start"], as_index=False)["log_outcome"].mean()


def as_date(value: Any) -> _dt.date:
    return pd.Timestamp(value).date()
