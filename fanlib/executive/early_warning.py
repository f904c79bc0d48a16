"""KPI early warnings: abnormal daily moves against a baseline that knows the week and the holidays.

Daily KPIs are aggregated in the engine (``daily_kpis``), then each series is
decomposed with statsmodels' robust STL on the log scale (weekly period).
Residuals are scored robustly (median and MAD), so one bad day cannot hide
another. Days inside known holiday windows (Spring Festival, Double 11, …) are
bridged before the fit so they neither distort the baseline nor raise
warnings: their moves are expected. Consecutive abnormal days form one
warning, and ``drill_down`` says which channels or communities made the move.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

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

#: KPI name -> (label, how it is computed, higher is better)
KPIS = {
    "active_fans": ("活跃粉丝 Active fans", "distinct fans with any event that day", True),
    "events": ("互动行为 Events", "events that day", True),
    "orders": ("订单 Orders", "orders that day", True),
    "gmv": ("成交额 GMV", "sum of order amounts that day (CNY)", True),
    "new_members": ("新增会员 New members", "fans who joined that day", True),
}


def daily_kpis(fd, by: str | None = None, start=None, end=None) -> pd.DataFrame:
    """Daily KPIs, computed in the engine; ``by`` = 'channel' or 'community_id' splits them.

    Returns one row per day (and group): date, [group], active_fans, events, orders, gmv, new_members,
    with zero-filled days so that a day with no activity is a zero, not a gap.
    """
    if by not in (None, "channel", "community_id"):
        raise ValueError(f"by must be None, 'channel' or 'community_id', not {by!r}")
    fans = fd.fans.select("fan_id", "channel", "community_id", "join_time")
    events = fd.events
    orders = fd.orders
    group = [] if by is None else [by]

    def per_day(t, time_col, **metrics):
        if by is not None and by not in t.columns:
            t = t.join(fans.select("fan_id", by), "fan_id")
        if start is not None:
            t = t.filter(t[time_col] >= pd.Timestamp(start))
        if end is not None:
            t = t.filter(t[time_col] < pd.Timestamp(end) + pd.Timedelta(days=1))
        keys = [t[time_col].date().name("date")] + [t[g] for g in group]
        return fd.execute(
            t.group_by(keys).aggregate(**{k: f(t) for k, f in metrics.items()}),
            label=f"early_warning:{time_col}:{by or 'all'}",
        )

    # Events carry their own community_id; channel comes from the fan.
    ev = per_day(
        events.select("fan_id", "event_time", *([by] if by == "community_id" else [])),
        "event_time",
        active_fans=lambda t: t.fan_id.nunique(),
        events=lambda t: t.count(),
    )
    od = per_day(
        orders.select("fan_id", "order_time", "amount_cny"),
        "order_time",
        orders=lambda t: t.count(),
        gmv=lambda t: t.amount_cny.sum(),
    )
    nm = per_day(fans.select("fan_id", "join_time", *group), "join_time", new_members=lambda t: t.count())
    out = ev
    for part in (od, nm):
        out = out.merge(part, on=["date", *group], how="outer")
    if out.empty:
        return pd.DataFrame(columns=["date", *group, *KPIS])
    out["date"] = pd.to_datetime(out["date"])
    days = pd.date_range(out["date"].min(), out["date"].max(), freq="D", name="date")
    if group:
        index = pd.MultiIndex.from_product([days, sorted(out[by].dropna().unique())], names=["date", by])
    else:
        index = days
    out = out.set_index(["date", *group]).reindex(index).fillna(0.0).reset_index()
    return out[["date", *group, *KPIS]].sort_values(["date", *group]).reset_index(drop=True)


def holiday_mask(dates: pd.DatetimeIndex, holidays=DEFAULT_HOLIDAYS) -> np.ndarray:
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
    holidays=DEFAULT_HOLIDAYS,
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
        raise ValueError(f"{kpi}: {len(s)} days of data; early warnings need at least {min_days}")
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
        raise ValueError(f"{kpi}: too few days with an expected value of at least {min_expected} to judge moves")
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
    holidays=DEFAULT_HOLIDAYS,
    since=None,
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
    kpis: pd.DataFrame, threshold: float = 5.0, holidays=DEFAULT_HOLIDAYS, since=None, columns=None
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


def drill_down(by_group: pd.DataFrame, group: str, kpi: str, start, end, reference_weeks: int = 4) -> pd.DataFrame:
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


def warning_chart(daily: pd.DataFrame, warning, since, T, title: str):
    """One warning's KPI over the four weeks before ``since`` and after: actual against expected (dashed),
    the warned days shaded. ``warning``: a row of ``scan``; ``T``: the overview's catalogue. Returns the axes."""
    from fanlib.present import plotting

    base = baseline(daily.set_index("date")[warning.kpi], warning.kpi).frame
    recent = base[base.date >= since - pd.Timedelta(days=28)]
    ax = plotting.line(recent.rename(columns={"value": T("actual")}), "date", T("actual"), title=title)
    ax.lines[0].set_label(T("actual"))
    ax.plot(recent.date, recent.expected, color=plotting.NEUTRAL, linestyle="--", label=T("expected"))
    ax.axvspan(
        warning.start - pd.Timedelta(hours=12), warning.end + pd.Timedelta(hours=12), color=plotting.BAD, alpha=0.15
    )
    ax.legend(frameon=False)
    return ax
