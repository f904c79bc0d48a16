"""Customer lifetime value as the report computes it: each buying fan's purchase history (from the
engine), the BG/NBD and Gamma-Gamma fits of :mod:`.clv_models`, a calibration-versus-holdout check, and
the discounted value of every buyer over the horizon.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any

import ibis
import numpy as np
import pandas as pd

from .activity import analysis_date
from .clv_models import BetaGeoModel, GammaGammaModel, Values
from .errors import CLVInputError

__all__ = [
    "customer_lifetime_value",
    "calibration_holdout",
    "rfm_from_fandata",
    "CLVResult",
    "clv_analysis",
    "no_purchase_bands",
    "top_buyers",
]

# --------------------------------------------------------------------------- value and checks


def customer_lifetime_value(
    bgnbd: BetaGeoModel,
    gamma_gamma: GammaGammaModel,
    frequency: Values,
    recency: Values,
    T: Values,
    monetary: Values,
    *,
    horizon: float,
    period: float,
    discount_rate: float,
    margin: float = 1.0,
) -> np.ndarray:
    """Discounted expected value over ``horizon`` time units, summed per ``period``.

    Each period's expected purchases (from BG/NBD) times the expected order
    value (Gamma-Gamma) times ``margin`` is discounted at ``discount_rate`` per
    period: value = Σ_k ΔE[purchases]_k · E[value] · margin / (1 + d)^k.
    """
    if discount_rate < 0:
        raise CLVInputError("discount_rate must be ≥ 0")
    if period <= 0 or horizon < period:
        raise CLVInputError("need 0 < period ≤ horizon")
    value = gamma_gamma.expected_order_value(frequency, monetary) * margin
    n_steps = int(round(horizon / period))
    total = np.zeros(len(np.asarray(frequency)))
    previous = 0.0
    for k in range(1, n_steps + 1):
        cumulative = bgnbd.expected_purchases(k * period, frequency, recency, T)
        total += (cumulative - previous) * value / (1 + discount_rate) ** k
        previous = cumulative
    return total


def calibration_holdout(model: BetaGeoModel, rfm: pd.DataFrame, max_frequency: int = 7) -> pd.DataFrame:
    """Mean predicted vs actual holdout purchases, by calibration-period frequency (capped)."""
    if "holdout_frequency" not in rfm:
        raise CLVInputError("the RFM table has no holdout columns; build it with observation_end")
    t = float(rfm["holdout_length"].iloc[0])
    pred = model.expected_purchases(t, rfm["frequency"], rfm["recency"], rfm["T"])
    bucket = np.minimum(rfm["frequency"].to_numpy(), max_frequency).astype(int)
    df = pd.DataFrame({"frequency": bucket, "predicted": pred, "actual": rfm["holdout_frequency"].to_numpy()})
    out = (
        df.groupby("frequency")
        .agg(customers=("actual", "size"), predicted=("predicted", "mean"), actual=("actual", "mean"))
        .reset_index()
    )
    out["frequency"] = out["frequency"].astype(str)
    out.loc[out.index[-1], "frequency"] = (
        f"{max_frequency}+" if bucket.max() >= max_frequency else out.loc[out.index[-1], "frequency"]
    )
    return out


def rfm_from_fandata(
    fd: Any, *, calibration_end: Any, observation_end: Any = None, unit_days: float = 1.0
) -> pd.DataFrame:
    """The BG/NBD inputs per buying fan, aggregated in the engine (orders on one day count once).

    frequency = active order days − 1 up to ``calibration_end``; recency and T
    in units of ``unit_days`` from the first order day; monetary = mean value
    of the repeat order days. With ``observation_end``, also the holdout order
    days and value in (calibration_end, observation_end].
    """
    cal_end = pd.Timestamp(calibration_end).date()
    o = fd.orders
    # amounts are summed as exact decimals: a parallel sum of doubles adds in a varying order, and the
    # fitted CLV would then differ between two runs on the same data in its last digits
    daily = o.group_by([o.fan_id, o.order_time.date().name("day")]).aggregate(
        amount=o.amount_cny.cast("decimal(38, 6)").sum()
    )
    cal = daily.filter(daily.day <= ibis.date(cal_end))
    per = cal.group_by("fan_id").aggregate(
        first_day=cal.day.min(),
        last_day=cal.day.max(),
        n_days=cal.count(),
        total=cal.amount.sum().cast("float64"),
        first_amount=cal.amount.argmin(cal.day).cast("float64"),
    )
    per = per.mutate(
        recency_days=per.last_day.delta(per.first_day, unit="day"),
        T_days=ibis.date(cal_end).delta(per.first_day, unit="day"),
    )
    if observation_end is not None:
        obs_end = pd.Timestamp(observation_end).date()
        hold = daily.filter((daily.day > ibis.date(cal_end)) & (daily.day <= ibis.date(obs_end)))
        hold = hold.group_by("fan_id").aggregate(
            holdout_frequency=hold.count(), holdout_value=hold.amount.sum().cast("float64")
        )
        per = per.left_join(hold, "fan_id").select(per, hold.holdout_frequency, hold.holdout_value)
    df = fd.execute(per, label="retention:rfm")
    if df.empty:
        raise CLVInputError(f"no orders on or before {cal_end}; CLV needs order history")
    n = df["n_days"].astype(float)
    out = pd.DataFrame(
        {
            "fan_id": df["fan_id"].astype(str),
            "frequency": n - 1,
            "recency": df["recency_days"].astype(float) / unit_days,
            "T": df["T_days"].astype(float) / unit_days,
            "monetary": np.where(n > 1, (df["total"] - df["first_amount"]) / (n - 1).clip(lower=1), 0.0),
        }
    )
    if observation_end is not None:
        out["holdout_frequency"] = df["holdout_frequency"].fillna(0).astype(float).to_numpy()
        out["holdout_value"] = df["holdout_value"].fillna(0.0).astype(float).to_numpy()
        out["holdout_length"] = (obs_end - cal_end).days / unit_days
    out = out[out["T"] > 0].sort_values("fan_id").reset_index(drop=True)
    return out


@dataclass
class CLVResult:
    """The CLV section of the report: holdout check, fitted models and per-fan values."""

    calibration_end: _dt.date
    holdout_days: int
    holdout_model: BetaGeoModel
    holdout_table: pd.DataFrame
    bgnbd: BetaGeoModel
    gamma_gamma: GammaGammaModel
    fans: pd.DataFrame  # fan_id, frequency, recency, T, monetary, p_alive, p_no_purchase, expected_purchases, clv
    horizon_days: int
    annual_discount_rate: float
    no_purchase_days: int  # window of the "will not buy again" score p_no_purchase

    @property
    def total_clv(self) -> float:
        return float(self.fans["clv"].sum())


def clv_analysis(
    fd: Any,
    *,
    as_of: Any = None,
    holdout_days: int = 90,
    horizon_days: int = 365,
    period_days: int = 30,
    annual_discount_rate: float = 0.10,
    margin: float = 1.0,
) -> CLVResult:
    """Fit BG/NBD on data up to ``as_of − holdout_days`` and check it on the holdout; refit on all data
    up to ``as_of`` and value every buyer over ``horizon_days`` (discounted per ``period_days``)."""
    as_of = analysis_date(fd, as_of).day
    cal_end = as_of - pd.Timedelta(days=holdout_days).to_pytimedelta()
    rfm_cal = rfm_from_fandata(fd, calibration_end=cal_end, observation_end=as_of)
    m_cal = BetaGeoModel().fit(rfm_cal["frequency"], rfm_cal["recency"], rfm_cal["T"])
    table = calibration_holdout(m_cal, rfm_cal)
    rfm = rfm_from_fandata(fd, calibration_end=as_of)
    bg = BetaGeoModel().fit(rfm["frequency"], rfm["recency"], rfm["T"])
    gg = GammaGammaModel().fit(rfm["frequency"], rfm["monetary"])
    args = (rfm["frequency"], rfm["recency"], rfm["T"])
    per_period = (1 + annual_discount_rate) ** (period_days / 365.0) - 1
    fans = rfm.assign(
        p_alive=bg.p_alive(*args),
        p_no_purchase=bg.p_no_purchase(3 * period_days, *args),
        expected_purchases=bg.expected_purchases(horizon_days, *args),
        expected_order_value=gg.expected_order_value(rfm["frequency"], rfm["monetary"]),
        clv=customer_lifetime_value(
            bg,
            gg,
            *args,
            rfm["monetary"],
            horizon=horizon_days,
            period=period_days,
            discount_rate=per_period,
            margin=margin,
        ),
    )
    return CLVResult(
        cal_end, holdout_days, m_cal, table, bg, gg, fans, horizon_days, annual_discount_rate, 3 * period_days
    )


def no_purchase_bands(fans: pd.DataFrame) -> pd.DataFrame:
    """Buyers and their CLV by the chance of no purchase in the next window (<50%, 50–80%, 80–95%, >95%)."""
    band = pd.cut(
        fans["p_no_purchase"],
        [0, 0.5, 0.8, 0.95, 1.0],
        labels=["<50%", "50–80%", "80–95%", ">95%"],
        include_lowest=True,
    )
    by_band = fans.groupby(band, observed=False).agg(buyers=("fan_id", "size"), clv=("clv", "sum"))
    return by_band.reset_index().rename(columns={"p_no_purchase": "no_purchase_band"})


def top_buyers(fans: pd.DataFrame, n: int = 15) -> pd.DataFrame:
    """The ``n`` buyers of highest CLV with their purchase history and forecast."""
    columns = ["fan_id", "frequency", "monetary", "p_alive", "p_no_purchase", "expected_purchases", "clv"]
    return fans.sort_values("clv", ascending=False).head(n)[columns]
