"""The crisis detector: alerts when negative volume *and* negative share both rise well above
a rolling baseline.

For every time bin t the baseline is the ``baseline_bins`` earlier bins of the same phase
(``season`` bins apart: 1 for daily bins, 24 for hourly bins, so an hour is compared with
the same hour of earlier days), leaving out bins that belonged to an alert.

* Negative volume: z_vol = (x_t − mean_b) / sqrt(max(var_b, mean_b, 1) × (1 + 1/m)), where x
  is the negative count, mean_b and var_b its baseline mean and variance over m bins: a
  Poisson-or-wider prediction interval, so ordinary overdispersion does not alert.
* Negative share: z_share = (s_t − p_b) / sqrt(p_b(1 − p_b)(1/n_t + 1/N_b)), with p_b the
  pooled baseline share over N_b comments; and the jump s_t − p_b must reach ``min_share_jump``.

A bin *exceeds* when z_vol ≥ ``z_volume``, z_share ≥ ``z_share``, the share jump is large
enough and at least ``min_negatives`` negatives were seen. Exceeding bins less than
``cooldown_bins`` apart form one alert. A positive campaign spike raises volume (even the
count of misread negatives) but lowers the negative share, so it does not alert.

Levels (thresholds in params): evidence = min(z_vol, z_share) of the strongest bin; spread =
channels whose own negatives exceed ``channel_z`` on both tests.

* Level I (most severe: start the emergency plan): evidence ≥ ``level_I_z`` and spread ≥
  ``level_I_channels``;
* Level II (partial adjustment): evidence ≥ ``level_II_z`` or spread ≥ ``level_II_channels``;
* Level III (routine handling): any other alert.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

import numpy as np
import pandas as pd

LEVELS = ("I", "II", "III")


@dataclass
class CrisisParams:
    """Detector thresholds; every field can be set from the report's params."""

    baseline_bins: int = 28
    season: int = 1
    min_baseline_bins: int = 7
    z_volume: float = 4.0
    z_share: float = 4.0
    min_share_jump: float = 0.05
    min_negatives: int = 5
    cooldown_bins: int = 2
    channel_z: float = 3.0
    level_II_z: float = 6.0
    level_I_z: float = 10.0
    level_II_channels: int = 2
    level_I_channels: int = 3

    @classmethod
    def from_dict(cls, values: dict | None) -> CrisisParams:
        """Build from a params dict; unknown keys are an error naming the known ones."""
        values = dict(values or {})
        known = {f.name: f.type for f in fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f"unknown crisis threshold(s) {unknown}; the known ones are {', '.join(known)}")
        out = {}
        for f in fields(cls):
            if f.name in values:
                v = values[f.name]
                out[f.name] = int(v) if isinstance(f.default, int) and not isinstance(f.default, bool) else float(v)
        p = cls(**out)
        if p.baseline_bins < p.min_baseline_bins or p.min_baseline_bins < 2:
            raise ValueError("crisis thresholds: need baseline_bins >= min_baseline_bins >= 2")
        if p.season < 1 or p.cooldown_bins < 0:
            raise ValueError("crisis thresholds: season must be >= 1 and cooldown_bins >= 0")
        return p

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Alert:
    """One crisis alert: when, how severe, where, and why."""

    start: pd.Timestamp
    end: pd.Timestamp  # start of the last exceeding bin
    level: str
    evidence_z: float
    z_volume: float
    z_share: float
    negatives: int
    expected_negatives: float
    share: float
    baseline_share: float
    channels: list[str] = field(default_factory=list)
    open: bool = False
    communities: list[dict] = field(default_factory=list)
    drivers: list[str] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["start"], d["end"] = str(self.start), str(self.end)
        return d


def _baseline_stats(x: np.ndarray, n: np.ndarray, ok: np.ndarray, t: int, p: CrisisParams):
    idx = t - p.season * np.arange(1, p.baseline_bins + 1)
    idx = idx[idx >= 0]
    idx = idx[ok[idx]]
    if len(idx) < p.min_baseline_bins:
        return None
    xb, nb = x[idx], n[idx]
    return len(idx), xb.mean(), xb.var(ddof=1) if len(idx) > 1 else 0.0, xb.sum(), nb.sum()


def _z_scores(x_t, n_t, base):
    m, mean_b, var_b, xsum, nsum = base
    z_vol = (x_t - mean_b) / np.sqrt(max(var_b, mean_b, 1.0) * (1 + 1 / m))
    if n_t <= 0 or nsum <= 0:
        return z_vol, -np.inf, 0.0, mean_b, np.nan
    p_b = min(max(xsum / nsum, 0.5 / nsum), 1 - 0.5 / nsum)
    s_t = x_t / n_t
    z_share = (s_t - p_b) / np.sqrt(p_b * (1 - p_b) * (1 / n_t + 1 / nsum))
    return z_vol, z_share, s_t - p_b, mean_b, p_b


def _level(evidence: float, spread: int, p: CrisisParams) -> str:
    if evidence >= p.level_I_z and spread >= p.level_I_channels:
        return "I"
    if evidence >= p.level_II_z or spread >= p.level_II_channels:
        return "II"
    return "III"


def _wide(counts: pd.DataFrame, value: str) -> pd.DataFrame:
    return counts.pivot_table(index="bin", columns="channel", values=value, aggfunc="sum", fill_value=0)


def detect(
    counts: pd.DataFrame,
    params: CrisisParams | dict | None = None,
    mode: str = "sentiment",
    bins: pd.DatetimeIndex | None = None,
) -> tuple[list[Alert], pd.DataFrame]:
    """Run the detector over per-bin, per-channel counts.

    ``counts`` has columns bin, channel, n (volume) and n_neg (negatives); missing bins count
    as zero (pass ``bins`` to fix the full range). ``mode="volume"`` is the volume-only
    comparison detector: it alerts on total volume alone. Returns the alerts and a per-bin
    table (n, n_neg, z_volume, z_share, share_jump, spread, exceed, level)."""
    p = params if isinstance(params, CrisisParams) else CrisisParams.from_dict(params)
    if mode not in ("sentiment", "volume"):
        raise ValueError("mode must be 'sentiment' or 'volume'")
    missing = {"bin", "channel", "n", "n_neg"} - set(counts.columns)
    if missing:
        raise ValueError(f"counts needs columns bin, channel, n, n_neg; missing {sorted(missing)}")
    vol_w, neg_w = _wide(counts, "n"), _wide(counts, "n_neg")
    if bins is not None:
        vol_w, neg_w = vol_w.reindex(bins, fill_value=0), neg_w.reindex(bins, fill_value=0)
    channels = list(vol_w.columns)
    N, X = vol_w.to_numpy(float), neg_w.to_numpy(float)
    n_tot, x_tot = N.sum(axis=1), X.sum(axis=1)
    T = len(n_tot)
    ok = np.ones(T, dtype=bool)  # bins usable as baseline (not part of an alert)
    rows = []
    for t in range(T):
        row = {
            "z_volume": np.nan,
            "z_share": np.nan,
            "share_jump": np.nan,
            "expected": np.nan,
            "baseline_share": np.nan,
            "spread": 0,
            "exceed": False,
            "level": None,
            "channels": [],
        }
        if mode == "volume":
            base = _baseline_stats(n_tot, n_tot, ok, t, p)
            if base is not None:
                z_vol, _, _, mean_b, _ = _z_scores(n_tot[t], n_tot[t], base)
                row.update(z_volume=z_vol, expected=mean_b)
                if z_vol >= p.z_volume and n_tot[t] >= p.min_negatives:
                    row.update(exceed=True, level=_level(z_vol, 0, p))
        else:
            base = _baseline_stats(x_tot, n_tot, ok, t, p)
            if base is not None:
                z_vol, z_share, jump, mean_b, p_b = _z_scores(x_tot[t], n_tot[t], base)
                row.update(z_volume=z_vol, z_share=z_share, share_jump=jump, expected=mean_b, baseline_share=p_b)
                if (
                    z_vol >= p.z_volume
                    and z_share >= p.z_share
                    and jump >= p.min_share_jump
                    and x_tot[t] >= p.min_negatives
                ):
                    spread = []
                    for c in range(len(channels)):
                        bc = _baseline_stats(X[:, c], N[:, c], ok, t, p)
                        if bc is None:
                            continue
                        zc_vol, zc_share, _, _, _ = _z_scores(X[t, c], N[t, c], bc)
                        if zc_vol >= p.channel_z and zc_share >= p.channel_z:
                            spread.append(channels[c])
                    evidence = float(min(z_vol, z_share))
                    row.update(exceed=True, spread=len(spread), channels=spread, level=_level(evidence, len(spread), p))
        if row["exceed"]:
            ok[t] = False
        rows.append(row)
    table = pd.DataFrame(rows, index=vol_w.index).rename_axis("bin").reset_index()
    table.insert(1, "n", n_tot.astype(int))
    table.insert(2, "n_neg", x_tot.astype(int))
    return _episodes(table, p, mode), table


def _episodes(table: pd.DataFrame, p: CrisisParams, mode: str) -> list[Alert]:
    hits = np.flatnonzero(table["exceed"].to_numpy())
    if len(hits) == 0:
        return []
    groups, current = [], [hits[0]]
    for h in hits[1:]:
        if h - current[-1] <= p.cooldown_bins * p.season + p.season:
            current.append(h)
        else:
            groups.append(current)
            current = [h]
    groups.append(current)
    last_bin = len(table) - 1
    alerts = []
    for g in groups:
        rows = table.iloc[g]
        strength = rows[["z_volume", "z_share"]].min(axis=1) if mode == "sentiment" else rows["z_volume"]
        peak = rows.loc[strength.idxmax()]
        channels = sorted({c for cs in rows["channels"] for c in cs})
        level = min(rows["level"], key=LEVELS.index)
        alerts.append(
            Alert(
                start=pd.Timestamp(rows["bin"].iloc[0]),
                end=pd.Timestamp(rows["bin"].iloc[-1]),
                level=level,
                evidence_z=float(strength.max()),
                z_volume=float(peak["z_volume"]),
                z_share=float(peak["z_share"]) if mode == "sentiment" else float("nan"),
                negatives=int(rows["n_neg"].sum()),
                expected_negatives=float(rows["expected"].sum()),
                share=float(rows["n_neg"].sum() / max(rows["n"].sum(), 1)),
                baseline_share=float(rows["baseline_share"].mean()) if mode == "sentiment" else float("nan"),
                channels=channels,
                open=bool(last_bin - g[-1] <= p.cooldown_bins * p.season),
            )
        )
    return alerts


def alerts_frame(alerts: list[Alert]) -> pd.DataFrame:
    """The alerts as a table, one row each."""
    cols = [
        "start",
        "end",
        "level",
        "evidence_z",
        "negatives",
        "expected_negatives",
        "share",
        "baseline_share",
        "channels",
        "open",
    ]
    if not alerts:
        return pd.DataFrame(columns=cols)
    df = pd.DataFrame([a.as_dict() for a in alerts])
    df["channels"] = df["channels"].map(lambda cs: ", ".join(cs))
    return df[cols]
