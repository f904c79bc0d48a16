"""Customer lifetime value for non-contractual e-commerce: BG/NBD and Gamma-Gamma.

BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way")
models repeat purchases as a Poisson process with a gamma-distributed rate
(r, alpha) and a beta-distributed chance (a, b) of dropping out after each
repeat purchase. Gamma-Gamma (Fader, Hardie & Lee 2005, "RFM and CLV") models
the average order value of repeat buyers (p, q, gamma).

Both are fitted by maximum likelihood with analytic gradients (L-BFGS-B on the
log-parameters), fully vectorised over customers, so a million customers fit
in seconds.

Inputs per customer, in one time unit (days for fanlib data, weeks for CDNOW):

* ``frequency`` x: number of repeat purchases (purchases after the first);
* ``recency`` t_x: time from the first to the last purchase (0 if x = 0);
* ``T``: time from the first purchase to the end of the calibration period;
* ``monetary`` m_x: mean value of the repeat purchases (Gamma-Gamma only).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, special

__all__ = [
    "no_purchase_bands",
    "top_buyers",
    "BetaGeoModel",
    "GammaGammaModel",
    "calibration_holdout",
    "customer_lifetime_value",
    "simulate_bgnbd",
    "simulate_gamma_gamma",
]


def _check_rft(frequency, recency, T) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = np.asarray(frequency, dtype=float)
    tx = np.asarray(recency, dtype=float)
    T = np.broadcast_to(np.asarray(T, dtype=float), x.shape).astype(float)
    if not (x.shape == tx.shape == T.shape):
        raise ValueError("frequency, recency and T must have the same length")
    if x.size == 0:
        raise ValueError("BG/NBD needs at least one customer; the RFM summary is empty")
    problems = []
    if np.any(~np.isfinite(x) | ~np.isfinite(tx) | ~np.isfinite(T)):
        problems.append("missing or infinite values")
    if np.any(x < 0) or np.any(x != np.round(x)):
        problems.append("frequency must be a non-negative whole number")
    if np.any(tx < 0) or np.any(tx > T + 1e-9):
        problems.append("recency must lie between 0 and T")
    if np.any((x == 0) & (tx != 0)):
        problems.append("recency must be 0 when frequency is 0")
    if np.any(T <= 0):
        problems.append("T must be positive")
    if problems:
        bad = np.flatnonzero(
            (x < 0) | (tx < 0) | (tx > T + 1e-9) | (T <= 0) | ((x == 0) & (tx != 0)) | ~np.isfinite(x + tx + T)
        )[:5]
        raise ValueError("invalid RFM input: " + "; ".join(problems) + f" (example rows: {bad.tolist()})")
    return x, tx, T


# --------------------------------------------------------------------------- BG/NBD


def _bgnbd_prepare(x, tx, T, w):
    """Split customers into one-time buyers (x = 0: closed-form terms) and repeat buyers, and
    index repeat buyers by their distinct frequency (special functions depend only on x)."""
    zero = x == 0
    x1, tx1, T1, w1 = x[~zero], tx[~zero], T[~zero], w[~zero]
    xu, inv = np.unique(x1, return_inverse=True)
    wu = np.bincount(inv, weights=w1, minlength=xu.size)
    return (T[zero], w[zero], x1, tx1, T1, w1, xu, inv, wu)


def _bgnbd_negll_and_grad(logp, x, tx, T, w, prepared=None):
    """Negative log-likelihood and its analytic gradient on the log-parameters (FHL 2005, eq. 6)."""
    T0, w0, x1, tx1, T1, w1, xu, inv, wu = prepared if prepared is not None else _bgnbd_prepare(x, tx, T, w)
    params = np.exp(logp)
    r, alpha, a, b = params
    la = np.log(alpha)
    # one-time buyers: L = (α/(α+T))^r
    log0 = np.log(alpha + T0)
    ll = np.sum(w0 * (r * la - r * log0))
    dr = np.sum(w0 * (la - log0))
    dalpha = np.sum(w0 * (r / alpha - r / (alpha + T0)))
    da = db = 0.0
    if x1.size:
        # per distinct x: Σ w · f(x) = Σ_u wu · f(xu)
        g = (
            special.gammaln(r + xu)
            - special.gammaln(r)
            + special.gammaln(a + b)
            + special.gammaln(b + xu)
            - special.gammaln(b)
            - special.gammaln(a + b + xu)
        )
        psi_ab, psi_abx = special.digamma(a + b), special.digamma(a + b + xu)
        ll += np.sum(wu * g) + r * la * np.sum(w1)
        dr += np.sum(wu * (special.digamma(r + xu) - special.digamma(r))) + la * np.sum(w1)
        da += np.sum(wu * (psi_ab - psi_abx))
        db += np.sum(wu * (psi_ab + special.digamma(b + xu) - special.digamma(b) - psi_abx))
        log_T, log_tx = np.log(alpha + T1), np.log(alpha + tx1)
        rx = r + x1
        A3 = -rx * log_T
        A4 = np.log(a) - np.log(b + x1 - 1) - rx * log_tx
        L = np.logaddexp(A3, A4)
        w4 = np.exp(A4 - L)
        w3 = 1.0 - w4
        ll += np.sum(w1 * L)
        dr += -np.sum(w1 * (w3 * log_T + w4 * log_tx))
        dalpha += np.sum(w1 * (r / alpha - w3 * rx / (alpha + T1) - w4 * rx / (alpha + tx1)))
        da += np.sum(w1 * w4) / a
        db += -np.sum(w1 * w4 / (b + x1 - 1))
    grad = np.array([dr, dalpha, da, db]) * params
    return -ll, -grad


def _fit(fun, x0, args, names):
    res = optimize.minimize(
        fun, np.log(x0), args=args, jac=True, method="L-BFGS-B", options={"maxiter": 2000, "ftol": 1e-14, "gtol": 1e-9}
    )
    if not np.all(np.isfinite(res.x)):
        raise RuntimeError(f"the fit of {', '.join(names)} diverged: {res.message}")
    return res


@dataclass
class BetaGeoModel:
    """BG/NBD purchase-frequency and dropout model, fitted by maximum likelihood.

    ``fit(frequency, recency, T)`` returns self; fitted attributes are
    ``params_`` (a Series r, alpha, a, b), ``loglik_``, ``n_customers_`` and
    ``converged_``. ``summary`` gives the parameters with standard errors from
    the observed information (numerical Hessian of the analytic gradient).
    """

    init: tuple[float, float, float, float] = (0.5, 1.0, 0.5, 1.0)

    def fit(self, frequency, recency, T, weights=None) -> BetaGeoModel:
        """Fit by MLE; ``weights`` lets you pass counts of identical (x, t_x, T) rows."""
        x, tx, T = _check_rft(frequency, recency, T)
        w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
        if np.sum(w * (x > 0)) == 0:
            raise ValueError(
                "BG/NBD cannot be fitted: no customer made a repeat purchase, so the dropout "
                "process is not identified; use a longer calibration period"
            )
        # Start alpha at the scale of the data so the optimiser is unit-free.
        init = np.array(self.init, dtype=float)
        init[1] = max(np.average(T, weights=w) / 10, 1e-3) if self.init[1] == 1.0 else init[1]
        data = (x, tx, T, w, _bgnbd_prepare(x, tx, T, w))
        res = _fit(_bgnbd_negll_and_grad, init, data, ("r", "alpha", "a", "b"))
        self.params_ = pd.Series(np.exp(res.x), index=["r", "alpha", "a", "b"], name="estimate")
        self.loglik_ = -float(res.fun)
        self.n_customers_ = int(round(np.sum(w)))
        self.converged_ = bool(res.success)
        self._logp = res.x
        self._data = data
        return self

    def _require_fit(self):
        if not hasattr(self, "params_"):
            raise RuntimeError("call fit() first")

    @property
    def summary(self) -> pd.DataFrame:
        """Parameters with standard errors (delta method from the log scale) and 95% intervals."""
        self._require_fit()
        cov = _numerical_cov(_bgnbd_negll_and_grad, self._logp, self._data)
        est = self.params_.to_numpy()
        se_log = np.sqrt(np.clip(np.diag(cov), 0, None))
        return pd.DataFrame(
            {
                "estimate": est,
                "se": est * se_log,
                "ci_low": est * np.exp(-1.959964 * se_log),
                "ci_high": est * np.exp(1.959964 * se_log),
            },
            index=self.params_.index,
        )

    def p_alive(self, frequency, recency, T) -> np.ndarray:
        """P(customer still alive | x, t_x, T); exactly 1 for customers without repeat purchases."""
        self._require_fit()
        r, alpha, a, b = self.params_.to_numpy()
        x, tx, T = _check_rft(frequency, recency, T)
        has = x > 0
        log_ratio = np.full_like(x, -np.inf)  # no repeat purchase: no chance to have dropped out
        log_ratio[has] = (
            np.log(a) - np.log(b + x[has] - 1) + (r + x[has]) * (np.log(alpha + T[has]) - np.log(alpha + tx[has]))
        )
        return 1.0 / (1.0 + np.exp(log_ratio))

    def p_no_purchase(self, t, frequency, recency, T) -> np.ndarray:
        """The "will not buy again within t" score: 1 − P(alive) + P(alive)·((α+T)/(α+T+t))^(r+x).

        Unlike 1 − P(alive), which is 0 for every customer with no repeat
        purchase, this ranks one-time buyers by how long they have been quiet.
        """
        self._require_fit()
        r, alpha, _, _ = self.params_.to_numpy()
        x, tx, T = _check_rft(frequency, recency, T)
        pa = self.p_alive(x, tx, T)
        return 1.0 - pa + pa * ((alpha + T) / (alpha + T + t)) ** (r + x)

    def expected_purchases(self, t, frequency, recency, T) -> np.ndarray:
        """Expected number of purchases in (T, T + t] given the customer's history (FHL 2005, eq. 10)."""
        self._require_fit()
        r, alpha, a, b = self.params_.to_numpy()
        x, tx, T = _check_rft(frequency, recency, T)
        t = np.broadcast_to(np.asarray(t, dtype=float), x.shape)
        z = t / (alpha + T + t)
        hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, z)
        first = (a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp)
        has = x > 0
        denom = np.ones_like(x)
        denom[has] += a / (b + x[has] - 1) * ((alpha + T[has]) / (alpha + tx[has])) ** (r + x[has])
        return first / denom

    def expected_purchases_new(self, t) -> np.ndarray:
        """Expected repeat purchases in (0, t] of a newly acquired customer (FHL 2005, eq. 7)."""
        self._require_fit()
        r, alpha, a, b = self.params_.to_numpy()
        t = np.asarray(t, dtype=float)
        return (
            (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * special.hyp2f1(r, b, a + b - 1, t / (alpha + t)))
        )


# --------------------------------------------------------------------------- Gamma-Gamma


def _gg_negll_and_grad(logp, x, m, w, prepared=None):
    """Gamma-Gamma negative log-likelihood and analytic gradient; special functions per distinct x."""
    if prepared is None:
        prepared = _gg_prepare(x, m, w)
    xu, inv, wu, const, xlogxm, wx = prepared
    p, q, g = np.exp(logp)
    pxu = p * xu
    log_gxm = np.log(g + m * x)
    ll = (
        np.sum(wu * (special.gammaln(pxu + q) - special.gammaln(pxu)))
        - np.sum(w) * (special.gammaln(q) - q * np.log(g))
        + p * xlogxm
        - const
        - np.sum(w * (p * x + q) * log_gxm)
    )
    psi = special.digamma(pxu + q)
    dp = np.sum(wu * xu * (psi - special.digamma(pxu))) + xlogxm - np.sum(wx * log_gxm)
    dq = np.sum(wu * psi) - np.sum(w) * (special.digamma(q) - np.log(g)) - np.sum(w * log_gxm)
    dg = np.sum(w) * q / g - np.sum(w * (p * x + q) / (g + m * x))
    grad = np.array([dp, dq, dg]) * np.exp(logp)
    return -float(ll), -grad


def _gg_prepare(x, m, w):
    xu, inv = np.unique(x, return_inverse=True)
    wu = np.bincount(inv, weights=w, minlength=xu.size)
    const = np.sum(w * np.log(m))  # the (px − 1)·log m term: −Σ log m here, p·Σ x log m below
    xlogxm = np.sum(w * x * (np.log(m) + np.log(x)))
    return xu, inv, wu, const, xlogxm, w * x


@dataclass
class GammaGammaModel:
    """Gamma-Gamma model of average order value for repeat buyers (x ≥ 1)."""

    init: tuple[float, float, float] = (1.0, 1.0, 1.0)

    def fit(self, frequency, monetary, weights=None) -> GammaGammaModel:
        """Fit by MLE on customers with at least one repeat purchase (others are ignored)."""
        x = np.asarray(frequency, dtype=float)
        m = np.asarray(monetary, dtype=float)
        w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
        keep = x > 0
        if np.any(keep & ~(m > 0)):
            bad = np.flatnonzero(keep & ~(m > 0))[:5]
            raise ValueError(
                "Gamma-Gamma needs a positive average repeat-order value for every repeat buyer; "
                f"{int(np.sum(keep & ~(m > 0)))} have none or ≤ 0 (example rows: {bad.tolist()})"
            )
        if keep.sum() < 3:
            raise ValueError(f"Gamma-Gamma needs repeat buyers to fit; found {int(keep.sum())}")
        x, m, w = x[keep], m[keep], w[keep]
        init = np.array(self.init, dtype=float)
        init[2] = np.average(m, weights=w) if self.init[2] == 1.0 else init[2]
        data = (x, m, w, _gg_prepare(x, m, w))
        res = _fit(_gg_negll_and_grad, init, data, ("p", "q", "gamma"))
        self.params_ = pd.Series(np.exp(res.x), index=["p", "q", "gamma"], name="estimate")
        self.loglik_ = -float(res.fun)
        self.n_customers_ = int(round(np.sum(w)))
        self.converged_ = bool(res.success)
        self._logp = res.x
        self._data = data
        return self

    @property
    def summary(self) -> pd.DataFrame:
        """Parameters with standard errors and 95% intervals."""
        cov = _numerical_cov(_gg_negll_and_grad, self._logp, self._data)
        est = self.params_.to_numpy()
        se_log = np.sqrt(np.clip(np.diag(cov), 0, None))
        return pd.DataFrame(
            {
                "estimate": est,
                "se": est * se_log,
                "ci_low": est * np.exp(-1.959964 * se_log),
                "ci_high": est * np.exp(1.959964 * se_log),
            },
            index=self.params_.index,
        )

    def expected_order_value(self, frequency, monetary) -> np.ndarray:
        """E[order value | x, m_x]; customers with x = 0 get the population mean γp/(q−1)."""
        p, q, g = self.params_.to_numpy()
        x = np.asarray(frequency, dtype=float)
        m = np.nan_to_num(np.asarray(monetary, dtype=float))
        pop = g * p / (q - 1)
        weight = (q - 1) / (p * x + q - 1)
        return weight * pop + (1 - weight) * m


def _numerical_cov(fun, logp, data, eps=1e-5):
    """Inverse observed information on the log scale, from central differences of the analytic gradient."""
    k = len(logp)
    H = np.empty((k, k))
    for i in range(k):
        step = np.zeros(k)
        step[i] = eps
        H[:, i] = (fun(logp + step, *data)[1] - fun(logp - step, *data)[1]) / (2 * eps)
    H = (H + H.T) / 2
    return np.linalg.pinv(H)


# --------------------------------------------------------------------------- value and checks


def customer_lifetime_value(
    bgnbd: BetaGeoModel,
    gamma_gamma: GammaGammaModel,
    frequency,
    recency,
    T,
    monetary,
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
        raise ValueError("discount_rate must be ≥ 0")
    if period <= 0 or horizon < period:
        raise ValueError("need 0 < period ≤ horizon")
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
        raise ValueError("the RFM table has no holdout columns; build it with observation_end")
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


# --------------------------------------------------------------------------- simulation


def simulate_bgnbd(n: int, r: float, alpha: float, a: float, b: float, T, seed: int = 0) -> pd.DataFrame:
    """Draw (frequency, recency, T) from the BG/NBD generative story, vectorised.

    Each customer has λ ~ Gamma(r, rate α) and p ~ Beta(a, b); repeat purchases
    follow a Poisson process and after each one the customer drops out with
    probability p. Given n Poisson purchases in (0, T], the k-th purchase time
    is T·Beta(k, n − k + 1), so recency needs no per-customer loop.
    """
    rng = np.random.default_rng(seed)
    T = np.broadcast_to(np.asarray(T, dtype=float), (n,)).copy()
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    n_poisson = rng.poisson(lam * T)
    dropout_after = rng.geometric(p)  # index of the repeat purchase after which the customer leaves
    x = np.minimum(n_poisson, dropout_after)
    tx = np.zeros(n)
    has = x > 0
    tx[has] = T[has] * rng.beta(x[has], n_poisson[has] - x[has] + 1)
    return pd.DataFrame({"frequency": x.astype(float), "recency": tx, "T": T})


def simulate_gamma_gamma(frequency, p: float, q: float, gamma: float, seed: int = 0) -> np.ndarray:
    """Mean order value for each customer with x ≥ 1 repeat purchases (0 where x = 0)."""
    rng = np.random.default_rng(seed)
    x = np.asarray(frequency, dtype=float)
    nu = rng.gamma(q, 1.0 / gamma, x.shape)
    m = np.zeros_like(x)
    has = x > 0
    m[has] = rng.gamma(p * x[has], 1.0 / nu[has]) / x[has]
    return m


def rfm_from_fandata(fd, *, calibration_end, observation_end=None, unit_days: float = 1.0) -> pd.DataFrame:
    """The BG/NBD inputs per buying fan, aggregated in the engine (orders on one day count once).

    frequency = active order days − 1 up to ``calibration_end``; recency and T
    in units of ``unit_days`` from the first order day; monetary = mean value
    of the repeat order days. With ``observation_end``, also the holdout order
    days and value in (calibration_end, observation_end].
    """
    import ibis

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
        raise ValueError(f"no orders on or before {cal_end}; CLV needs order history")
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

    calibration_end: object
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
    fd,
    *,
    as_of=None,
    holdout_days: int = 90,
    horizon_days: int = 365,
    period_days: int = 30,
    annual_discount_rate: float = 0.10,
    margin: float = 1.0,
) -> CLVResult:
    """Fit BG/NBD on data up to ``as_of − holdout_days`` and check it on the holdout; refit on all data
    up to ``as_of`` and value every buyer over ``horizon_days`` (discounted per ``period_days``)."""
    from .activity import resolve_as_of

    as_of, _ = resolve_as_of(fd, as_of)
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
