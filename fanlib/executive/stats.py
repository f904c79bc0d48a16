"""KPI early warnings: abnormal daily moves against a baseline that knows the week and the holidays.

Daily KPIs are aggregated in the engine (:func:`fanlib.executive.queries.daily_kpis`), then each
series is decomposed with statsmodels' robust STL on the log scale (weekly period).
Residuals are scored robustly (median and MAD), so one bad day cannot hide
another. Days inside known holiday windows (Spring Festival, Double 11, …) are
bridged before the fit so they neither distort the baseline nor raise
warnings: their moves are expected. Consecutive abnormal days form one
warning, and ``drill_down`` says which channels or communities made the move.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from fanlib.executive.errors import EarlyWarningError

#: Holiday windows that move every KPI and are not anomalies (China; extend in params).
DEFAULT_HOLIDAYS = (
    ("2024-02-09", "2024-02-17", "spring_festival"),
    ("2025-01-28", "2025-02-04", "spring_festival"),
    ("2026-02-16", "2026-02-23", "spring_festival"),
    ("2024-11-01", "2024-11-11", "double11"),
    ("2025-11-01", "2025-11-11", "double11"),
    ("2026-11-01", "2026-11-11", "double11"),
    ("2024-06-01", "2024-06-18", "618"),
    ("2025-06-01", "2025-06-18", "618"),
    ("2026-06-01", "2026-06-18", "618"),
)


#: The daily KPIs the early warnings judge (names in the ``executive`` catalogue as ``kpi_<name>``,
#: definitions in the KPI catalogue, ``fanlib.metrics``); higher is better for each.
KPIS = ("active_fans", "events", "orders", "gmv", "new_members")


def holiday_mask(dates: pd.DatetimeIndex, holidays: Sequence[tuple] = DEFAULT_HOLIDAYS) -> np.ndarray:
    mask = np.zeros(len(dates), dtype=bool)
    for start, end, *_ in holidays:
        mask |= (dates >= pd.Timestamp(start)) & (dates <= pd.Timestamp(end))
    return mask


@dataclass
class Baseline:
    """A KPI series with its STL baseline and robust residual scores."""

    kpi: str
    frame: pd.DataFrame  # date, value, expected, score, holiday, judged

    @property
    def scale(self) -> float:
        return float(self.frame.attrs.get("scale", np.nan))


def baseline(
    series: pd.Series,
    kpi: str = "kpi",
    period: int = 7,
    holidays: Sequence[tuple] = DEFAULT_HOLIDAYS,
    min_days: int = 28,
    min_expected: float = 20.0,
    seasonal: int = 15,
    trend: int = 29,
) -> Baseline:
    """Fit a robust weekly STL baseline to a daily series (index = dates) on the log scale.

    Each day gets an expected value and a score: its Pearson residual divided by the square root
    of a robust (median-based) dispersion, so a score of -5 means far below what the week, the
    trend and the holidays explain. Days whose expected value is below ``min_expected`` are too
    small to judge.
    """
    from statsmodels.tsa.seasonal import STL

    s = series.astype(float).sort_index()
    s.index = pd.DatetimeIndex(s.index)
    if len(s) < min_days:
        raise EarlyWarningError(f"{kpi}: {len(s)} days of data; early warnings need at least {min_days}")
    dates = s.index
    hol = holiday_mask(dates, holidays)
    log = np.log1p(s.clip(lower=0))
    bridged = log.mask(hol).interpolate(limit_direction="both")
    # A smooth seasonal and a four-week trend: flexible enough for growth, too stiff to absorb a bad day.
    fit = STL(bridged.to_numpy(), period=period, seasonal=seasonal, trend=trend, robust=True).fit()
    expected_log = fit.trend + fit.seasonal
    expected = np.expm1(expected_log).clip(min=0)
    # KPIs are counts (or sums of amounts): their noise grows like sqrt(level), so score Pearson
    # residuals with a robustly estimated dispersion (quasi-Poisson) rather than one global scale.
    pearson = (s.to_numpy() - expected) / np.sqrt(np.maximum(expected, 1.0))
    usable = ~hol & (expected >= min_expected)
    if usable.sum() < min_days // 2:
        raise EarlyWarningError(f"{kpi}: too few days with an expected value of at least {min_expected} to judge moves")
    # median of a chi-square(1) variable is 0.4549
    dispersion = float(np.median(pearson[usable] ** 2) / 0.4549) or 1.0
    scale = float(np.sqrt(dispersion))
    frame = pd.DataFrame(
        {
            "date": dates,
            "value": s.to_numpy(),
            "expected": expected,
            "score": pearson / scale,
            "holiday": hol,
            "judged": usable,
        }
    )
    frame.attrs["scale"] = scale
    return Baseline(kpi, frame)


def detect(
    series: pd.Series,
    kpi: str = "kpi",
    threshold: float = 5.0,
    period: int = 7,
    holidays: Sequence[tuple] = DEFAULT_HOLIDAYS,
    since: Any = None,
    min_relative_change: float = 0.05,
    min_expected: float = 50.0,
    warmup_days: int = 28,
) -> pd.DataFrame:
    """Abnormal moves of one daily KPI: one row per run of consecutive abnormal days.

    A day is abnormal when its robust residual score exceeds ``threshold`` in absolute value, its
    relative change against the baseline exceeds ``min_relative_change``, and it is not a holiday.
    ``since`` limits warnings to recent days (the baseline still uses the whole history); the first
    ``warmup_days`` after the series first reaches ``min_expected`` are never flagged, because the
    baseline has no history to stand on there.
    """
    b = baseline(series, kpi, period=period, holidays=holidays, min_expected=min_expected).frame
    b["change"] = b["value"] / b["expected"].where(b["expected"] > 0) - 1
    flag = (b["score"].abs() > threshold) & (b["change"].abs() > min_relative_change) & b["judged"]
    # The warm-up counts from the first day big enough to judge: a young programme's first weeks of
    # small counts give the baseline nothing to stand on.
    judged_dates = b.loc[b["judged"], "date"]
    first_judged = judged_dates.min() if len(judged_dates) else b["date"].max()
    flag &= b["date"] >= max(
        b["date"].min() + pd.Timedelta(days=warmup_days), first_judged + pd.Timedelta(days=warmup_days)
    )
    if since is not None:
        flag &= b["date"] >= pd.Timestamp(since)
    rows = []
    run_id = (flag != flag.shift()).cumsum()
    for _, run in b[flag].groupby(run_id[flag]):
        direction = "drop" if run["score"].mean() < 0 else "rise"
        worst = run.loc[run["score"].abs().idxmax()]
        rows.append(
            {
                "kpi": kpi,
                "start": run["date"].min(),
                "end": run["date"].max(),
                "days": len(run),
                "direction": direction,
                "actual": run["value"].sum(),
                "expected": run["expected"].sum(),
                "change": run["value"].sum() / run["expected"].sum() - 1 if run["expected"].sum() else np.nan,
                "worst_score": float(worst["score"]),
            }
        )
    return pd.DataFrame(
        rows, columns=["kpi", "start", "end", "days", "direction", "actual", "expected", "change", "worst_score"]
    )


def scan(
    kpis: pd.DataFrame,
    threshold: float = 5.0,
    holidays: Sequence[tuple] = DEFAULT_HOLIDAYS,
    since: Any = None,
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Run ``detect`` on every KPI column of an ungrouped ``daily_kpis`` frame.

    A KPI too short or too small to judge (e.g. a small community's few daily orders) is left out
    rather than stopping the scan; ``result.attrs["not_judged"]`` maps it to the reason, for the report
    to show.
    """
    series = kpis.set_index("date")
    found, not_judged = [], {}
    for k in columns or [c for c in KPIS if c in series.columns]:
        try:
            found.append(detect(series[k], k, threshold=threshold, holidays=holidays, since=since))
        except ValueError as exc:
            not_judged[k] = str(exc)
    found = [f for f in found if len(f)]
    if not found:
        out = pd.DataFrame(
            columns=["kpi", "start", "end", "days", "direction", "actual", "expected", "change", "worst_score"]
        )
    else:
        out = pd.concat(found, ignore_index=True).sort_values(["start", "kpi"]).reset_index(drop=True)
    out.attrs["not_judged"] = not_judged
    return out


def drill_down(
    by_group: pd.DataFrame, group: str, kpi: str, start: Any, end: Any, reference_weeks: int = 4
) -> pd.DataFrame:
    """Which groups made a move: each group's change over [start, end] against the same weekdays of the
    previous ``reference_weeks`` weeks, and its share of the total change (largest contributions first)."""
    frame = by_group[["date", group, kpi]].copy()
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    window = frame[(frame.date >= start) & (frame.date <= end)]
    refs = []
    for w in range(1, reference_weeks + 1):
        shifted = frame[(frame.date >= start - pd.Timedelta(weeks=w)) & (frame.date <= end - pd.Timedelta(weeks=w))]
        refs.append(shifted.groupby(group)[kpi].sum())
    expected = pd.concat(refs, axis=1).mean(axis=1) if refs else pd.Series(dtype=float)
    actual = window.groupby(group)[kpi].sum()
    out = pd.DataFrame({"actual": actual, "expected": expected}).fillna(0.0)
    out["difference"] = out["actual"] - out["expected"]
    out["change"] = out["actual"] / out["expected"].where(out["expected"] > 0) - 1
    total = out["difference"].sum()
    out["share_of_change"] = out["difference"] / total if total else np.nan
    out = out.reindex(out["difference"].abs().sort_values(ascending=False).index)
    return out.rename_axis(group).reset_index()
