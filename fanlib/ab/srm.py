"""Sample-ratio mismatch: do the realised variant counts match the planned split?"""

from __future__ import annotations

from dataclasses import dataclass

from scipy import stats as _st

#: The conventional SRM threshold: a mismatch this unlikely means the assignment is broken.
SRM_ALPHA = 0.001
#: Below this expected count in a variant the χ² check can hardly detect a mismatch (the usual rule of 5).
SRM_MIN_EXPECTED = 5


@dataclass(frozen=True)
class SRMResult:
    counts: dict[str, int]
    planned: dict[str, float]  # planned shares, normalised to sum to 1
    expected: dict[str, float]
    chi2: float
    df: int
    p_value: float
    alpha: float

    @property
    def failed(self) -> bool:
        return self.p_value < self.alpha

    @property
    def observed_shares(self) -> dict[str, float]:
        total = sum(self.counts.values())
        return {k: v / total for k, v in self.counts.items()}

    @property
    def message(self) -> str:
        shares = " / ".join(f"{k} {v:.1%}" for k, v in self.observed_shares.items())
        plan = " / ".join(f"{k} {v:.1%}" for k, v in self.planned.items())
        if self.failed:
            return (
                f"Sample ratio mismatch: realised split {shares} vs planned {plan} "
                f"(χ² = {self.chi2:.1f}, p = {self.p_value:.2g} < {self.alpha}). The assignment or the "
                f"logging is broken, so every comparison below is biased; the verdict is withheld."
            )
        return f"Split as planned: {shares} vs planned {plan} (χ² p = {self.p_value:.3g})."


def srm_check(counts: dict[str, int], planned: dict[str, float], alpha: float = SRM_ALPHA) -> SRMResult:
    """χ² goodness-of-fit test of variant counts against the planned split.

    ``planned`` maps each variant to its planned weight (shares or ratios, e.g. {"control": 1, "treatment": 1}).
    Variants present in ``counts`` but not planned (or the reverse) are a usage error.
    """
    from fanlib.ab.errors import ABInputError

    unknown = sorted(set(counts) - set(planned))
    if unknown:
        raise ABInputError(
            f"variants {unknown} are in the data but not in the planned split "
            f"{sorted(planned)}; fix planned_split or the assignments",
            check="variant in planned split",
            code="unknown_variants",
            fields={"labels": ", ".join(unknown), "planned": ", ".join(sorted(planned))},
        )
    total_w = float(sum(planned.values()))
    if total_w <= 0 or any(w < 0 for w in planned.values()):
        raise ABInputError(
            f"planned split {planned} must have non-negative weights with a positive sum",
            check="planned split",
            code="bad_split",
            fields={"planned": ", ".join(f"{k}: {w}" for k, w in planned.items())},
        )
    shares = {k: w / total_w for k, w in planned.items()}
    obs = [int(counts.get(k, 0)) for k in shares]
    n = sum(obs)
    exp = [n * s for s in shares.values()]
    chi2, p = _st.chisquare(obs, exp)
    return SRMResult(
        counts={k: int(counts.get(k, 0)) for k in shares},
        planned=shares,
        expected=dict(zip(shares, exp, strict=True)),
        chi2=float(chi2),
        df=len(obs) - 1,
        p_value=float(p),
        alpha=alpha,
    )
