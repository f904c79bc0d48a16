"""The community KPIs against the planning documents' figures: today's figure, the target, met or not,
and the largest shortfalls in plain words."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from fanlib.metrics import METRICS
from fanlib.metrics import name as metric_name

#: KPI → (unit, today's figure or None, target or None, higher is better), in scorecard order: the
#: scorecard KPIs of the catalogue (fanlib.metrics), which holds the planning documents' figures.
BENCHMARKS: dict[str, tuple[str, float | None, float | None, bool]] = {
    m.key: (m.unit, m.benchmark, m.target, bool(m.higher_is_better))
    for m in METRICS
    if f"01_fan_profiling:kpis.{m.key}" in m.sources
}


def scorecard(overall: dict, T: Any = None) -> pd.DataFrame:
    """KPI values against today's figure and the target, with a good/bad flag and the relative gap.

    ``label`` is in the language of ``T`` (the fan_profiling :class:`fanlib.present.i18n.Messages`; Chinese if omitted).
    """
    from fanlib.present.i18n import messages

    T = T or messages("fan_profiling")
    rows = []
    for key, (unit, today, target, hib) in BENCHMARKS.items():
        label = metric_name(key, T.lang)
        v = overall.get(key)
        v = None if v is None or (isinstance(v, float) and not np.isfinite(v)) else float(v)
        good = None
        gap = None
        if v is not None and target is not None:
            good = v >= target if hib else v <= target
            gap = (v - target) / target if hib else (target - v) / target
        rows.append(
            {
                "kpi": key,
                "label": label,
                "unit": unit,
                "value": v,
                "today": today,
                "target": target,
                "higher_is_better": hib,
                "good": good,
                "relative_gap": gap,
            }
        )
    return pd.DataFrame(rows)


def biggest_gaps(card: pd.DataFrame, n: int = 3, T: Any = None) -> list[str]:
    """The ``n`` KPIs furthest short of their targets (largest relative shortfall first), in plain words in
    the language of ``T`` (Chinese if omitted); empty when every KPI with a target meets it."""
    from fanlib.present.i18n import fmt_number, messages

    T = T or messages("fan_profiling")
    short = card[(card.good == False) & card.relative_gap.notna()].sort_values("relative_gap")  # noqa: E712
    out = []
    for _, r in short.head(n).iterrows():
        out.append(
            T(
                "gap_sentence_low" if r.higher_is_better else "gap_sentence_high",
                label=r.label,
                value=T.fmt(r.value, r.unit),
                target=T.fmt(r.target, r.unit),
                gap=fmt_number(abs(r.relative_gap), "pct", T.lang, 0),
            )
        )
    return out
