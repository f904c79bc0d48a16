"""The programme's targets: the KPIs the overview tracks, and the milestone targets month by month
(``params/targets.yaml``)."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from fanlib.executive.errors import TargetsError


@dataclass(frozen=True)
class KPI:
    name: str
    report: str
    key: str
    unit: str
    labels: dict  # lang -> label

    def label(self, lang: str) -> str:
        return self.labels.get(lang) or self.name


@dataclass(frozen=True)
class Milestone:
    month: int
    names: dict
    targets: dict  # kpi name -> target value (higher is better)

    def name(self, lang: str) -> str:
        return self.names.get(lang) or f"M{self.month}"


@dataclass(frozen=True)
class Targets:
    programme_start: _dt.date
    kpis: dict[str, KPI]
    milestones: list[Milestone]

    def programme_month(self, as_of: Any) -> int:
        """1 in the programme's first month, 2 in the second, …; 0 before it starts."""
        as_of = pd.Timestamp(as_of).date()
        start = self.programme_start
        if as_of < start:
            return 0
        return (as_of.year - start.year) * 12 + (as_of.month - start.month) + (1 if as_of.day >= start.day else 0)


def load_targets(path: str | Path) -> Targets:
    """Read ``params/targets.yaml``; every milestone target must name a declared KPI."""
    from fanlib.paths import resolve

    path = resolve(path)
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    for field in ("programme_start", "kpis", "milestones"):
        if field not in raw:
            raise TargetsError(f"{path}: '{field}' is missing")
    kpis = {}
    for name, spec in raw["kpis"].items():
        missing = {"report", "key", "unit"} - set(spec)
        if missing:
            raise TargetsError(f"{path}: KPI {name!r} lacks {', '.join(sorted(missing))}")
        kpis[name] = KPI(
            name, spec["report"], spec["key"], spec["unit"], {k: v for k, v in spec.items() if k in ("zh", "en")}
        )
    milestones = []
    for m in raw["milestones"]:
        unknown = set(m["targets"]) - set(kpis)
        if unknown:
            raise TargetsError(
                f"{path}: milestone month {m['month']} targets unknown KPIs {', '.join(sorted(unknown))}; "
                f"declare them under 'kpis'"
            )
        milestones.append(Milestone(int(m["month"]), m.get("name", {}), dict(m["targets"])))
    start = raw["programme_start"]
    start = start if isinstance(start, _dt.date) else pd.Timestamp(start).date()
    return Targets(start, kpis, sorted(milestones, key=lambda m: m.month))
