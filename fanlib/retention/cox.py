"""Cox proportional hazards with Efron ties, a proportional-hazards check and concordance.

Churn times are recorded in whole days, so many fans churn on the same day:
Efron's approximation handles those ties far better than Breslow's (which is
statsmodels' default). The baseline cumulative hazard is Breslow's estimator
evaluated *at* each event time — not lagged one event time behind, as
statsmodels 0.15's ``PHReg.baseline_cumulative_hazard`` is — so predicted
survival curves drop at the right moment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats

from .errors import SurvivalInputError
from .survival import check_survival_input

__all__ = ["CoxPH", "design_matrix", "concordance_index", "reference_levels"]


def design_matrix(
    df: pd.DataFrame, numeric: Sequence[str] = (), categorical: dict[str, str] | None = None
) -> pd.DataFrame:
    """Covariates for a Cox model: numeric columns as they are, categoricals as 0/1 columns
    against a named reference level (``{"channel": "wechat"}`` gives ``channel[douyin]`` …)."""
    parts = [df[list(numeric)].astype(float)] if numeric else []
    for col, ref in (categorical or {}).items():
        values = df[col].astype("string").fillna("unknown")
        levels = sorted(set(values.dropna()))
        if ref not in levels:
            raise SurvivalInputError(
                f"reference level {ref!r} of {col!r} does not occur in the data (levels: {', '.join(levels)})"
            )
        for level in levels:
            if level != ref:
                parts.append((values == level).astype(float).rename(f"{col}[{level}]").to_frame())
    X = pd.concat(parts, axis=1) if parts else pd.DataFrame(index=df.index)
    constant = [c for c in X.columns if X[c].nunique() < 2]
    if constant:
        raise SurvivalInputError(f"covariates without variation cannot be estimated: {', '.join(constant)}")
    return X


def reference_levels(surv: pd.DataFrame) -> dict[str, str]:
    """The reference level of each categorical Cox driver: when fans come from more than one known
    channel, WeChat (else the first channel), and when they come from more than one known city tier, the
    first tier. A source that gives neither (fans derived from orders) has no categorical driver."""
    channels = set(surv["channel"].dropna())
    references = {}
    if len(channels) > 1:
        references["channel"] = "wechat" if "wechat" in channels else sorted(channels)[0]
    if surv["city_tier"].notna().any() and surv["city_tier"].nunique() > 1:
        references["city_tier"] = sorted(surv["city_tier"].dropna().unique())[0]
    return references


def _block_cross(wx: np.ndarray, X: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Σ_i w_i x_i x_iᵀ over each block of rows [starts[b], starts[b + 1]) (the last block to the end), as
    ``np.add.reduceat`` of the n×p×p outer products would give for strictly increasing ``starts``, but one
    matrix product per block instead of an n×p×p array (which at a million fans is gigabytes)."""
    ends = np.append(starts[1:], X.shape[0])
    out = np.empty((starts.size, X.shape[1], X.shape[1]))
    for b, (lo, hi) in enumerate(zip(starts, ends, strict=True)):
        out[b] = wx[lo:hi].T @ X[lo:hi]
    return out


@dataclass
class _RiskSets:
    """Per-event Efron quantities for one β (all vectorised over events)."""

    ll: float
    grad: np.ndarray
    hess: np.ndarray


class CoxPH:
    """Cox proportional-hazards regression by Newton–Raphson with Efron (default) or Breslow ties.

    ``fit(X, durations, events)`` returns self. Fitted attributes: ``params_``
    (log hazard ratios), ``standard_errors_``, ``covariance_``, ``loglik_``,
    ``baseline_cumulative_hazard_`` (a DataFrame of time and H0 at covariates
    = 0), ``concordance_``. ``summary`` is a DataFrame with hazard ratios and
    confidence intervals; ``check_proportional_hazards()`` runs the
    Grambsch–Therneau test on scaled Schoenfeld residuals.
    """

    def __init__(self, ties: str = "efron", alpha: float = 0.05, tol: float = 1e-10, max_iter: int = 100) -> None:
        if ties not in ("efron", "breslow"):
            raise ValueError("ties must be 'efron' or 'breslow'")
        self.ties, self.alpha, self.tol, self.max_iter = ties, alpha, tol, max_iter

    # ------------------------------------------------------------------ fitting
    def _prepare(self, X, durations, events):
        if isinstance(X, pd.DataFrame):
            names = [str(c) for c in X.columns]
            X = X.to_numpy(dtype=float)
        else:
            X = np.asarray(X, dtype=float)
            X = X[:, None] if X.ndim == 1 else X
            names = [f"x{i}" for i in range(X.shape[1])]
        t, e = check_survival_input(durations, events, "Cox model")
        if X.shape[0] != t.size:
            raise SurvivalInputError("Cox model: covariates and durations have different numbers of fans")
        if not np.isfinite(X).all():
            rows = np.flatnonzero(~np.isfinite(X).all(axis=1))[:5]
            raise SurvivalInputError(f"Cox model: covariates have missing values (example rows: {rows.tolist()})")
        if not e.any():
            raise SurvivalInputError(
                "Cox model: no churn events at all, so hazard ratios cannot be estimated; "
                "use a shorter churn window or a later analysis date"
            )
        order = np.argsort(t, kind="stable")
        return X[order], t[order], e[order], names

    def _risk_sets(self, beta, need_hess=True) -> _RiskSets:
        X = self._X
        eta = X @ beta
        w = np.exp(eta - eta.max())  # a common factor cancels in every ratio below
        ev = self._ev_index  # indices (in sorted order) of events
        grp, first, k, d = self._ev_group, self._grp_first, self._ev_k, self._grp_d
        wx = w[:, None] * X
        # sums over each risk set: per block between consecutive event-time starts, then reverse cumsum
        S0 = np.add.reduceat(w, first)[::-1].cumsum()[::-1]
        S1 = np.add.reduceat(wx, first, axis=0)[::-1].cumsum(axis=0)[::-1]
        S0_R, S1_R = S0, S1
        ev_starts = self._ev_starts  # events are time-sorted, so each tie group is contiguous
        S0_D = np.add.reduceat(w[ev], ev_starts)
        S1_D = np.add.reduceat(wx[ev], ev_starts, axis=0)
        frac = k / d[grp] if self.ties == "efron" else np.zeros_like(k, dtype=float)
        phi = S0_R[grp] - frac * S0_D[grp]
        s1 = S1_R[grp] - frac[:, None] * S1_D[grp]
        ll = float(np.sum(eta[ev]) - np.sum(np.log(phi)) - ev.size * eta.max())
        grad = X[ev].sum(axis=0) - np.sum(s1 / phi[:, None], axis=0)
        hess = None
        if need_hess:
            S2 = _block_cross(wx, X, first)[::-1].cumsum(axis=0)[::-1]
            S2_D = _block_cross(wx[ev], X[ev], ev_starts)
            s2 = S2[grp] - frac[:, None, None] * S2_D[grp]
            hess = -(
                np.sum(s2 / phi[:, None, None], axis=0) - np.einsum("ei,ej->ij", s1 / phi[:, None], s1 / phi[:, None])
            )
        return _RiskSets(ll, grad, hess)

    def fit(self, X: pd.DataFrame | np.ndarray, durations: ArrayLike, events: ArrayLike) -> CoxPH:
        """Fit by Newton–Raphson with step halving; returns self."""
        X, t, e, names = self._prepare(X, durations, events)
        self._mean = X.mean(axis=0)
        self._X, self._t, self._e = X - self._mean, t, e
        ev = np.flatnonzero(e)
        ev_t = t[ev]
        grp_times, grp, d = np.unique(ev_t, return_inverse=True, return_counts=True)
        self._ev_index, self._ev_group, self._grp_d = ev, grp, d
        self._grp_first = np.searchsorted(t, grp_times, side="left")
        # position of each event inside its tie group (0 … d−1)
        self._ev_k = np.arange(ev.size) - np.searchsorted(ev_t, ev_t, side="left")
        self._ev_starts = np.searchsorted(ev_t, grp_times, side="left")
        self.event_times_ = grp_times
        beta = np.zeros(X.shape[1])
        rs = self._risk_sets(beta)
        self.loglik_null_ = rs.ll
        converged = False
        for _ in range(self.max_iter):
            try:
                step = np.linalg.solve(-rs.hess, rs.grad)
            except np.linalg.LinAlgError as err:
                raise SurvivalInputError(
                    "Cox model: the covariates are collinear or a covariate perfectly "
                    f"separates churners from stayers ({', '.join(names)})"
                ) from err
            new_beta, scale = beta + step, 1.0
            new = self._risk_sets(new_beta)
            while new.ll < rs.ll - 1e-12 and scale > 1e-6:
                scale /= 2
                new_beta = beta + scale * step
                new = self._risk_sets(new_beta)
            done = np.max(np.abs(new_beta - beta)) < self.tol or abs(new.ll - rs.ll) < 1e-14
            beta, rs = new_beta, new
            if done:
                converged = True
                break
        if not np.all(np.isfinite(beta)) or np.max(np.abs(beta)) > 20:
            raise SurvivalInputError(
                "Cox model did not converge to finite hazard ratios; a covariate may "
                f"perfectly predict churn ({', '.join(names)})"
            )
        self.converged_ = converged
        self.names_ = names
        self.params_ = pd.Series(beta, index=names, name="coef")
        self.covariance_ = pd.DataFrame(np.linalg.inv(-rs.hess), index=names, columns=names)
        self.standard_errors_ = pd.Series(np.sqrt(np.diag(self.covariance_)), index=names, name="se")
        self.loglik_ = rs.ll
        self.n_, self.n_events_ = int(t.size), int(e.sum())
        self.baseline_cumulative_hazard_ = self._breslow_baseline(beta)
        self.concordance_ = concordance_index(t, -(self._X @ beta), e)
        return self

    def _breslow_baseline(self, beta) -> pd.DataFrame:
        """H0(t) = Σ_{t_j ≤ t} d_j / Σ_{i ∈ R(t_j)} exp(x_i β), at covariates 0 (not centred)."""
        eta = self._X @ beta
        S0 = np.cumsum(np.exp(eta)[::-1])[::-1][self._grp_first]
        # back from centred to raw covariates: exp(xβ) = exp((x − m)β)·exp(mβ)
        increments = self._grp_d / (S0 * np.exp(self._mean @ beta))
        return pd.DataFrame({"time": self.event_times_, "cumulative_hazard": np.cumsum(increments)})

    # ------------------------------------------------------------------ results
    @property
    def summary(self) -> pd.DataFrame:
        """Coefficients, standard errors, z, p and hazard ratios with (1 − alpha) intervals."""
        z = stats.norm.ppf(1 - self.alpha / 2)
        b, se = self.params_, self.standard_errors_
        return pd.DataFrame(
            {
                "coef": b,
                "se": se,
                "z": b / se,
                "p": 2 * stats.norm.sf(np.abs(b / se)),
                "hazard_ratio": np.exp(b),
                "hr_low": np.exp(b - z * se),
                "hr_high": np.exp(b + z * se),
            }
        )

    def _as_matrix(self, X) -> np.ndarray:
        if isinstance(X, pd.DataFrame):
            missing = [c for c in self.names_ if c not in X.columns]
            if missing:
                raise ValueError(f"covariates missing for prediction: {', '.join(missing)}")
            return X[self.names_].to_numpy(dtype=float)
        X = np.asarray(X, dtype=float)
        return X[:, None] if X.ndim == 1 else X

    def predict_partial_hazard(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """exp(x β): each fan's hazard relative to the baseline (covariates = 0)."""
        return np.exp(self._as_matrix(X) @ self.params_.to_numpy())

    def cumulative_hazard_at(self, times: ArrayLike) -> np.ndarray:
        """The (non-lagged) baseline cumulative hazard H0 at arbitrary times (right-continuous step)."""
        bch = self.baseline_cumulative_hazard_
        idx = np.searchsorted(bch["time"].to_numpy(), np.asarray(times, dtype=float), side="right") - 1
        return np.where(idx >= 0, bch["cumulative_hazard"].to_numpy()[np.clip(idx, 0, None)], 0.0)

    def predict_survival(self, X: pd.DataFrame | np.ndarray, times: ArrayLike) -> pd.DataFrame:
        """S(t | x) = exp(−H0(t)·exp(xβ)); rows are times, columns are fans."""
        H0 = self.cumulative_hazard_at(times)
        return pd.DataFrame(np.exp(-np.outer(H0, self.predict_partial_hazard(X))), index=np.asarray(times))

    def schoenfeld_residuals(self) -> pd.DataFrame:
        """Schoenfeld residuals per churn event: x_i minus the risk-set mean at its time (Efron-averaged over ties)."""
        beta = self.params_.to_numpy()
        X = self._X
        w = np.exp(X @ beta)
        ev, grp, first, k, d = self._ev_index, self._ev_group, self._grp_first, self._ev_k, self._grp_d
        S0 = np.cumsum(w[::-1])[::-1][first]
        S1 = np.cumsum((w[:, None] * X)[::-1], axis=0)[::-1][first]
        S0_D = np.bincount(grp, weights=w[ev], minlength=first.size)
        S1_D = np.zeros_like(S1)
        np.add.at(S1_D, grp, w[ev][:, None] * X[ev])
        frac = k / d[grp] if self.ties == "efron" else np.zeros(ev.size)
        mean_k = (S1[grp] - frac[:, None] * S1_D[grp]) / (S0[grp] - frac * S0_D[grp])[:, None]
        mean_grp = np.zeros_like(S1)
        np.add.at(mean_grp, grp, mean_k)
        mean_grp /= d[:, None]
        return pd.DataFrame(X[ev] - mean_grp[grp], columns=self.names_, index=self._t[ev])

    def check_proportional_hazards(self) -> pd.DataFrame:
        """Grambsch–Therneau test per covariate: do scaled Schoenfeld residuals trend with rank(time)?

        A small p-value says the hazard ratio changes over time, so the single
        hazard ratio in ``summary`` is an average over follow-up.
        """
        r = self.schoenfeld_residuals()
        n_ev = len(r)
        V = self.covariance_.to_numpy()
        scaled = self.params_.to_numpy() + n_ev * r.to_numpy() @ V
        g = stats.rankdata(r.index.to_numpy())
        gc = g - g.mean()
        stat = (gc @ scaled) ** 2 / (n_ev * np.diag(V) * np.sum(gc**2))
        p = stats.chi2.sf(stat, 1)
        return pd.DataFrame({"statistic": stat, "p": p, "proportional": p >= self.alpha}, index=self.names_)


def concordance_index(durations: ArrayLike, risk_scores_for_survival: ArrayLike, events: ArrayLike) -> float:
    """Harrell's C: among comparable pairs (the earlier time is an observed churn), the share
    where the fan who churned first has the lower predicted survival score (ties count ½).

    ``risk_scores_for_survival`` are scores where higher means longer survival
    (pass −η for a Cox model's linear predictor).
    """
    t = np.asarray(durations, dtype=float)
    s = np.asarray(risk_scores_for_survival, dtype=float)
    e = np.asarray(events).astype(bool)
    order = np.argsort(-t, kind="stable")
    t, s, e = t[order], s[order], e[order]
    times, starts = np.unique(-t, return_index=True)
    ends = np.append(starts[1:], t.size)
    later = np.empty(0)
    concordant = tied = comparable = 0.0
    for a, b in zip(starts, ends, strict=True):
        grp_s, grp_e = s[a:b], e[a:b]
        if later.size and grp_e.any():
            se = grp_s[grp_e]
            lo = np.searchsorted(later, se, side="left")
            hi = np.searchsorted(later, se, side="right")
            concordant += float(np.sum(later.size - hi))  # later fans with a higher survival score
            tied += float(np.sum(hi - lo))
            comparable += float(later.size * se.size)
        later = np.insert(later, np.searchsorted(later, np.sort(grp_s)), np.sort(grp_s))
    if comparable == 0:
        raise SurvivalInputError("concordance needs at least one churn event followed by a later fan")
    return (concordant + 0.5 * tied) / comparable
