"""A/B campaign evaluation: did the campaign work, by how much, how surely, and is the experiment healthy?

``analyse(fd, params)`` answers it for ``notebooks/02_ab_campaign.ipynb``: the split check of every
experiment, the readout of one (per-variant statistics, lifts with intervals and corrected p-values,
CUPED, guardrails, power and a plain verdict), its segments, a peeking-safe daily monitoring and a
difference-in-differences estimate for a campaign that was not randomised.

The flow: ``metrics`` (what is measured) → ``checks`` and ``outcomes`` (engine-side queries: only
per-variant sums leave the engine) → ``comparison`` with the statistics ``srm``, ``lifts``, ``multiple``,
``cuped``, ``guardrails``, ``power``, ``verdict``, and ``hte``, ``sequential``, ``did`` → ``readout``
(the engine-to-readout path) → ``narrative``, ``tables``, ``plots`` and ``summary`` (the page and its
summary JSON) → ``sections`` (each section of the page, filling the ``result``) → ``analysis`` (the one call).
"""

from fanlib.ab.analysis import analyse
from fanlib.ab.errors import ABInputError
from fanlib.ab.result import ABResult, SegmentView, SequentialView

__all__ = ["ABInputError", "ABResult", "SegmentView", "SequentialView", "analyse"]
