"""Sentiment and public-opinion monitoring: what fans are saying, and whether a crisis is starting.

The report answers: how do fans feel now (a sentiment index and the negative share, against their
rolling baseline)? Is a crisis starting, how severe (levels I–III), where, and what to do? Which
channels, communities, content, city tiers and fan layers are most negative, and which words drive
it? Do fans who write negative comments churn more? How good is the model that scores them?

``analyse(fd, params)`` computes it all (section by section, a failed one named in the summary);
``narrative`` turns the result into sentences, ``tables`` into the tables a page shows, ``plots`` into
charts. Inside: ``queries`` (the engine reads), ``monitor`` (the index), ``crisis`` (the detector),
``alerts`` and ``drivers`` (what is behind an alert), ``stats`` (two churn rates compared), the model
(``features``, ``model``, ``corpus``, ``card``, ``store``) and ``summary``.

The main answer is the sentiment index and the crisis alerts, read from the comments. On data without an
``events`` table the fan-layer breakdown is left out (said where it would be) and the churn comparison,
which needs the fans' activity, is named among the sections not given: the report is partial.
"""

from __future__ import annotations

import importlib
from typing import Any

from fanlib.sentiment.analysis import analyse, needs_training
from fanlib.sentiment.errors import ChurnComparisonError, CorpusError, ModelFormatError, NoCommentsError
from fanlib.sentiment.result import SentimentResult
from fanlib.sentiment.tables import alerts_table, write_exports

#: The charts, reached through the package (``sentiment.plots``): loaded when first used,
#: so the command line's ``fanlib sentiment train`` does not load matplotlib.
_ON_DEMAND = ("plots",)


def __getattr__(name: str) -> Any:
    if name in _ON_DEMAND:
        return importlib.import_module(f"fanlib.sentiment.{name}")
    raise AttributeError(f"module 'fanlib.sentiment' has no attribute {name!r}")


__all__ = [
    "ChurnComparisonError",
    "CorpusError",
    "ModelFormatError",
    "NoCommentsError",
    "SentimentResult",
    "alerts_table",
    "analyse",
    "needs_training",
    "write_exports",
]
