"""The fans and their latent truth, and the experiments and DiD communities decided before any activity."""

from __future__ import annotations

import numpy as np

from fanlib.demo.config import (
    AGE_YEAR,
    CHANNEL_P,
    CHANNELS,
    CHECKIN_P,
    CHECKIN_RATE,
    CITIES,
    COASTAL,
    COASTAL_BOOST,
    COUPON,
    DID_COMMUNITIES,
    EVENT_RATES,
    EVENT_TYPES,
    FANS_PER_COMMUNITY,
    GENDER_P,
    HAZARD_BASE,
    HR_CHANNEL,
    HR_CHECKIN,
    HR_NEGATIVE,
    JOIN_GROWTH,
    LAUNCH_DAYS,
    LAUNCH_SHARE,
    MIN_COMMUNITIES,
    N_HOURS,
    NEGATIVE_P,
    OCCUPATION_P,
    ORDER_AMOUNT,
    ORDER_RATES,
    PUSH,
    SEGMENT_P,
    SEGMENTS,
    TIER_P,
    _choice,
    _hour,
    _lognormal_mean,
)
from fanlib.demo.curves import Curve, _base_modulation

# ---------------------------------------------------------------------------
# Fans and their latent truth
# ---------------------------------------------------------------------------


def _make_fans(rng, n: int, curves: dict[str, Curve]) -> dict[str, np.ndarray]:
    f: dict[str, np.ndarray] = {}
    f["segment"] = _choice(rng, SEGMENT_P, n).astype(np.int8)
    f["channel"] = _choice(rng, CHANNEL_P, n).astype(np.int8)
    f["gender"] = _choice(rng, GENDER_P, n).astype(np.int8)

    core = rng.random(n) < 0.8
    age = np.where(core, np.clip(np.round(rng.normal(30, 7, n)), 18, 45), 0)
    young = rng.random(n) < 0.25
    age = np.where(~core & young, rng.integers(15, 18, n), age)
    age = np.where(~core & ~young, rng.integers(46, 66, n), age).astype(np.int64)
    f["age"] = age
    f["birth_year"] = AGE_YEAR - age
    band = np.where(age < 23, 0, np.where(age < 55, 1, 2))
    occ = np.empty(n, dtype=np.int8)
    for b, key in enumerate(("young", "adult", "senior")):
        m = band == b
        occ[m] = _choice(rng, OCCUPATION_P[key], int(m.sum()))
    f["occupation"] = occ

    city_rows = [(c, p, t) for t, rows in CITIES.items() for c, p in rows]
    w = np.array([TIER_P[t] / len(CITIES[t]) * (COASTAL_BOOST if p in COASTAL else 1.0) for _, p, t in city_rows])
    # keep each tier's total share while boosting its coastal cities
    tiers = np.array([t for *_, t in city_rows])
    for t in CITIES:
        w[tiers == t] *= TIER_P[t] / w[tiers == t].sum()
    f["city"] = _choice(rng, w, n).astype(np.int16)

    n_comm = max(MIN_COMMUNITIES, round(n / FANS_PER_COMMUNITY))
    comm_w = rng.lognormal(0.0, 0.9, n_comm)
    f["community"] = _choice(rng, comm_w, n).astype(np.int32)

    # joins ramp up over the programme (JOIN_GROWTH-fold from start to end), with the daily and weekly rhythm
    ramp = Curve(_base_modulation() * np.exp(np.log(JOIN_GROWTH) * np.arange(N_HOURS) / N_HOURS))
    join = ramp.sample(rng, np.zeros(n), np.full(n, float(N_HOURS)), np.ones(n, dtype=np.int64))
    # founding members (existing groups brought into the programme) join in the launch week
    launch = Curve(_base_modulation()).sample(
        rng, np.zeros(n), np.full(n, LAUNCH_DAYS * 24.0), np.ones(n, dtype=np.int64)
    )
    join = np.where(rng.random(n) < LAUNCH_SHARE, launch, join)
    f["join"] = np.floor(join * 3600) / 3600  # whole seconds

    seg = f["segment"]
    f["checkin"] = rng.random(n) < np.array([CHECKIN_P[s] for s in SEGMENTS])[seg]
    f["negative"] = rng.random(n) < NEGATIVE_P
    hr_ch = np.array([HR_CHANNEL[c] for c in CHANNELS])[f["channel"]]
    lam = HAZARD_BASE * np.where(f["checkin"], HR_CHECKIN, 1.0) * np.where(f["negative"], HR_NEGATIVE, 1.0) * hr_ch
    f["hazard"] = lam
    churn = f["join"] + rng.exponential(1.0, n) / lam * 24.0
    f["churn"] = np.floor(churn * 3600) / 3600
    f["end"] = np.minimum(f["churn"], float(N_HOURS))  # end of activity (hours)
    return f


def _segment_tables():
    """Per (segment, check-in) key: total event rate and cumulative type mix."""
    rates = np.zeros((8, len(EVENT_TYPES)))
    for s, seg in enumerate(SEGMENTS):
        for c in (0, 1):
            for t, r in EVENT_RATES[seg].items():
                rates[2 * s + c, EVENT_TYPES.index(t)] = r
            if c:
                rates[2 * s + c, EVENT_TYPES.index("checkin")] = CHECKIN_RATE
    total = rates.sum(axis=1)
    return total, np.cumsum(rates / total[:, None], axis=1)


# ---------------------------------------------------------------------------
# Experiments and the DiD campaign (decided before any activity is drawn)
# ---------------------------------------------------------------------------


def _assign_experiments(rng, f, curves):
    n = len(f["join"])
    seg = f["segment"]
    order_rate = np.array([ORDER_RATES[s] for s in SEGMENTS])[seg]
    order_mean = np.array([_lognormal_mean(*ORDER_AMOUNT[s]) for s in SEGMENTS])[seg]
    douyin = f["channel"] == CHANNELS.index("douyin")

    # exp_coupon: a random half of the fans alive on the start day
    t0 = _hour(COUPON["start"])
    alive = (f["join"] <= t0) & (f["churn"] > t0)
    sel = np.flatnonzero(alive & (rng.random(n) < COUPON["eligible_share"]))
    treat = rng.random(sel.size) < COUPON["treatment_share"]
    assigned = t0 + np.floor(rng.random(sel.size) * COUPON["days"] * 24 * 3600) / 3600
    w_end = assigned + COUPON["window_days"] * 24
    alive_end = np.minimum(np.maximum(f["end"][sel], assigned), w_end)
    lam = np.zeros(sel.size)  # expected organic orders in the outcome window
    for d in (0, 1):
        m = douyin[sel] == d
        lam[m] = order_rate[sel][m] * curves[f"orders_{d}"].integral(assigned[m], alive_end[m])
    frac = (alive_end - assigned) / (w_end - assigned)  # alive share of the window
    base_conv = np.exp(-lam)

    def lift(mu):
        return float(np.mean(base_conv * (1 - np.exp(-mu * frac))))

    lo, hi = 0.0, 5.0
    for _ in range(100):  # bisection: the extra-order mean giving the target lift
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if lift(mid) < COUPON["target_lift"] else (lo, mid)
    mu = (lo + hi) / 2
    extra = mu * frac
    camp_mean = _lognormal_mean(*COUPON["amount"])
    p_c = 1 - np.exp(-lam)
    p_t = 1 - np.exp(-(lam + extra))
    rev_c = lam * order_mean[sel]
    rev_t = rev_c + extra * camp_mean
    coupon = dict(
        fans=sel,
        treatment=treat,
        assigned=assigned,
        window_end=w_end,
        extra=extra,
        mu=mu,
        p_control=p_c,
        p_treatment=p_t,
        rev_control=rev_c,
        rev_treatment=rev_t,
        campaign_mean=camp_mean,
    )

    # exp_checkin_push: everyone alive on the start day, 50/50, 12 % of treatment rows lost
    t1 = _hour(PUSH["start"])
    sel2 = np.flatnonzero((f["join"] <= t1) & (f["churn"] > t1))
    treat2 = rng.random(sel2.size) < PUSH["treatment_share"]
    assigned2 = t1 + np.floor(rng.random(sel2.size) * PUSH["days"] * 24 * 3600) / 3600
    lost = treat2 & (rng.random(sel2.size) < PUSH["lost_treatment"])
    push = dict(
        fans=sel2[~lost],
        treatment=treat2[~lost],
        assigned=assigned2[~lost],
        planned_treatment=int(treat2.sum()),
        planned_control=int((~treat2).sum()),
        lost=int(lost.sum()),
    )
    return coupon, push


def _pick_did_communities(rng, f) -> np.ndarray:
    sizes = np.bincount(f["community"])
    order = np.argsort(-sizes, kind="stable")
    pool = order[5:]  # not the very largest, so the treated group stays a minority
    return np.sort(rng.choice(pool, DID_COMMUNITIES, replace=False))
