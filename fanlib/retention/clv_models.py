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

from .errors import CLVInputError

#: Per-customer values: a list, an array or a column.
Values = float | np.ndarray | pd.Series | list[float]

__all__ = [
    "BetaGeoModel",
    "GammaGammaModel",
    "simulate_bgnbd",
    "simulate_gamma_gamma",
]


def _check_rft(frequency, recency, T) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = np.asarray(frequency, dtype=float)
    tx = np.asarray(recency, dtype=float)
    T = np.broadcast_to(np.asarray(T, dtype=float), x.shape).astype(float)
    if not (x.shape == tx.shape == T.shape):
        raise CLVInputError("frequency, recency and T must have the same length")
    if x.size == 0:
        raise CLVInputError("BG/NBD needs at least one customer; the RFM summary is empty")
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
        raise CLVInputError("invalid RFM input: " + "; ".join(problems) + f" (example rows: {bad.tolist()})")
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

    def fit(self, frequency: Values, recency: Values, T: Values, weights: Values | None = None) -> BetaGeoModel:
        """Fit by MLE; ``weights`` lets you pass counts of identical (x, t_x, T) rows."""
        x, tx, T = _check_rft(frequency, recency, T)
        w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
        if np.sum(w * (x > 0)) == 0:
            raise CLVInputError(
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

    def p_alive(self, frequency: Values, recency: Values, T: Values) -> np.ndarray:
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

    def p_no_purchase(self, t: Values, frequency: Values, recency: Values, T: Values) -> np.ndarray:
        """The "will not buy again within t" score: 1 − P(alive) + P(alive)·((α+T)/(α+T+t))^(r+x).

        Unlike 1 − P(alive), which is 0 for every customer with no repeat
        purchase, this ranks one-time buyers by how long they have been quiet.
        """
        self._require_fit()
        r, alpha, _, _ = self.params_.to_numpy()
        x, tx, T = _check_rft(frequency, recency, T)
        pa = self.p_alive(x, tx, T)
        return 1.0 - pa + pa * ((alpha + T) / (alpha + T + t)) ** (r + x)

    def expected_purchases(self, t: Values, frequency: Values, recency: Values, T: Values) -> np.ndarray:
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

    def expected_purchases_new(self, t: Values) -> np.ndarray:
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

    def fit(self, frequency: Values, monetary: Values, weights: Values | None = None) -> GammaGammaModel:
        """Fit by MLE on customers with at least one repeat purchase (others are ignored)."""
        x = np.asarray(frequency, dtype=float)
        m = np.asarray(monetary, dtype=float)
        w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
        keep = x > 0
        if np.any(keep & ~(m > 0)):
            bad = np.flatnonzero(keep & ~(m > 0))[:5]
            raise CLVInputError(
                "Gamma-Gamma needs a positive average repeat-order value for every repeat buyer; "
                f"{int(np.sum(keep & ~(m > 0)))} have none or ≤ 0 (example rows: {bad.tolist()})"
            )
        if keep.sum() < 3:
            raise CLVInputError(f"Gamma-Gamma needs repeat buyers to fit; found {int(keep.sum())}")
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

    def expected_order_value(self, frequency: Values, monetary: Values) -> np.ndarray:
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


# --------------------------------------------------------------------------- simulation


def simulate_bgnbd(n: int, r: float, alpha: float, a: float, b: float, T: Values, seed: int = 0) -> pd.DataFrame:
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


def simulate_gamma_gamma(frequency: Values, p: float, q: float, gamma: float, seed: int = 0) -> np.ndarray:
    """Mean order value for each customer with x ≥ 1 repeat purchases (0 where x = 0)."""
    rng = np.random.default_rng(seed)
    x = np.asarray(frequency, dtype=float)
    nu = rng.gamma(q, 1.0 / gamma, x.shape)
    m = np.zeros_like(x)
    has = x > 0
    m[has] = rng.gamma(p * x[has], 1.0 / nu[has]) / x[has]
    return m
