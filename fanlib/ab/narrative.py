"""Plain-language sentences for the report, written from the computed figures."""

from __future__ import annotations

import math

import pandas as pd

from fanlib.ab.verdict import format_lift


def lift_sentence(row) -> str:
    """'转化率 conversion: +2.9 pp [0.1, 5.7] (relative +11.6% [0.4%, 24.0%]), adjusted p = 0.04'."""
    rel = (f"{row['relative']:+.1%} [{row['relative_low']:.1%}, {row['relative_high']:.1%}]"
           if all(math.isfinite(row[k]) for k in ("relative", "relative_low", "relative_high")) else "not estimable")
    flag = "" if row.get("relative_trusted", True) else " (relative interval not to be trusted: sample too small)"
    return (f"{row['label']} ({row['variant']}): {format_lift(row['absolute'], row['absolute_low'], row['absolute_high'], row['unit'])}, "
            f"relative {rel}{flag}, adjusted p = {row['p_adjusted']:.3g}")


def segments_sentence(tests: pd.DataFrame, alpha: float = 0.05) -> str:
    if tests.empty:
        return "No segment dimension could be tested."
    het = tests[tests["heterogeneous"]]
    if het.empty:
        return ("The effect does not differ detectably between segments of any dimension (corrected interaction "
                "tests: " + ", ".join(f"{r.dimension} p = {r.p_adjusted:.2g}" for r in tests.itertuples()) +
                "). Read single-segment lifts as noise around the overall effect.")
    return ("The effect differs between segments of " + ", ".join(het["dimension"]) + " (corrected interaction p < "
            f"{alpha}); see the segment table for where it is larger or smaller.")


def did_sentence(res, alpha: float = 0.05) -> str:
    trend = ("The treated and comparison communities moved in parallel before the start (pre-trend test p = "
             f"{res.pretrend_p:.2f}), which supports the comparison." if res.pretrend_ok else
             f"Warning: the groups already drifted apart before the start (pre-trend test p = {res.pretrend_p:.3f}); "
             "the estimate below is likely biased.")
    sig = "significant" if res.p_value < alpha else "not significant"
    return (f"{trend} Difference-in-differences: events per active fan changed by {res.relative:+.1%} "
            f"[{res.relative_low:+.1%}, {res.relative_high:+.1%}] in the {res.n_treated} treated communities relative "
            f"to the other {res.n_units - res.n_treated} (p = {res.p_value:.3g}, {sig}).")


def sequential_sentence(table: pd.DataFrame, alpha: float = 0.05) -> str:
    if table.empty:
        return "No look had enough fans in both variants."
    last = table.iloc[-1]
    first_naive = table[table["naive_p"] < alpha]
    first_valid = table[table["always_valid_p"] < alpha]
    naive = (f"a naive daily test first showed p < {alpha} on {pd.Timestamp(first_naive['look'].iloc[0]).date()}"
             if len(first_naive) else f"a naive daily test never reached p < {alpha}")
    valid = (f"the peeking-safe test did on {pd.Timestamp(first_valid['look'].iloc[0]).date()}"
             if len(first_valid) else "the peeking-safe test never did")
    return (f"After {len(table)} looks the estimate is {last['estimate']:+.4g} with always-valid interval "
            f"[{last['cs_low']:.4g}, {last['cs_high']:.4g}]; {naive}, {valid}.")
