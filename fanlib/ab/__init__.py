"""A/B campaign evaluation: a trustworthy experiment readout.

Per-variant sufficient statistics are aggregated in the engine (``outcomes``); the
statistics are computed from them in small modules: ``srm``, ``lifts``, ``multiple``,
``cuped``, ``guardrails``, ``power``, ``hte``, ``sequential``, ``did`` and ``verdict``.
``readout.experiment_readout`` puts them together; ``plots`` draws the charts.
"""

from fanlib.ab.errors import ABInputError
from fanlib.ab.readout import Readout, analyze, experiment_readout

__all__ = ["ABInputError", "Readout", "analyze", "experiment_readout"]
