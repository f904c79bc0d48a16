"""The KPI catalogue: each KPI once, with its name, definition, unit, benchmark, target and direction.

    >>> from fanlib import metrics
    >>> m = metrics.get("retention_d7")
    >>> metrics.name(m.key, "en"), m.unit, m.target
    ('Day-7 retention (active on day 7)', 'pct', 0.5)
    >>> metrics.lookup("01_fan_profiling", "headline.retention_7d").key
    'retention_7d'

The entries are in :mod:`fanlib.metrics.catalogue`; names and definitions in words are in the
message catalogues (``fanlib/present/locales``). This package imports no analysis code, so every analysis
may read its benchmarks and targets from here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from fnmatch import fnmatchcase
from typing import Any

from fanlib.metrics.catalogue import METRICS, Metric

__all__ = ["CATALOGUE", "METRICS", "Metric", "computation", "definition", "get", "lookup", "name"]

#: Every KPI by its catalogue key.
CATALOGUE: dict[str, Metric] = {m.key: m for m in METRICS}


def get(key: str) -> Metric:
    """The catalogue entry ``key``; a clear error naming the known keys if there is none."""
    try:
        return CATALOGUE[key]
    except KeyError:
        raise KeyError(
            f"no KPI {key!r} in the catalogue (fanlib/metrics/catalogue.py); known: {', '.join(CATALOGUE)}"
        ) from None


def lookup(report: str, path: str) -> Metric | None:
    """The entry of the figure at ``path`` in ``report``'s summary (``headline.dau_rate``, ``kpis.aov``,
    ``retention.d1.on`` …): an exact source first, else one whose ``*`` matches; None if none does."""
    where = f"{report}:{path}"
    for m in METRICS:
        if where in m.sources:
            return m
    for m in METRICS:
        if any("*" in s and fnmatchcase(where, s) for s in m.sources):
            return m
    return None


def name(key: str, lang: str = "zh", **fields: Any) -> str:
    """The KPI's name in ``lang``, as every report labels it (``fields`` fill a name such as
    "Predicted CLV ({days} days)")."""
    from fanlib.present.i18n import messages

    domain, message = get(key).name.split(":", 1)
    text = messages(domain, lang)(message)
    return text.format(**fields) if fields else text


def definition(key: str, lang: str = "zh") -> str:
    """The KPI's definition in words, in ``lang``."""
    from fanlib.present.i18n import messages

    return messages("metrics", lang)(f"def_{get(key).key}")


def computation(key: str) -> Callable:
    """The function (or class, or method) that computes the KPI."""
    module, attr = get(key).computed_by.split(":", 1)
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj
