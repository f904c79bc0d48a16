"""Fan profiling and community health (report ``01_fan_profiling``): who the fans are, how valuable
they are, and how healthy the communities are against the planning documents' targets.

Portraits, RFM, fan classes, layers, behaviour segments, early identification of high-value fans and
the community KPIs. The notebook calls :func:`analyse` and shows its :class:`ProfilingResult`.

The report's main answer is who the fans are worth: the RFM value segments of the analysis window (from
the orders alone), with the portraits beside them. Without it the report has failed; any other section
missing makes it partial. On fans and orders alone (no ``events`` table) the portraits, the RFM value
segments, the purchase figures of the KPI window (``queries_orders``) and the per-fan export are given, and
every section that rests on interactions (fan classes, layers, transitions, behaviour segments, early
identification, community KPIs, trends, content) says so and is named in ``sections_failed``.
Portraits take any declared fan column (``portrait_columns``).

Every per-fan feature and KPI is computed in the engine (ibis); only small results reach pandas.
The engine-side modules: ``features``, ``portraits``, ``profile``, ``tiers``, ``rfm``, ``layers``,
``kpis``, ``content``, ``queries_orders``; the models and statistics on small frames: ``segments``, ``early_value``,
``stats``; then ``benchmarks`` (KPIs against the targets), ``narrative``, ``plots``, ``summary``, ``export``
and ``errors``. Each module's docstring gives its definitions and rules.
"""

from fanlib.profiling import narrative, plots
from fanlib.profiling.benchmarks import BENCHMARKS, biggest_gaps, scorecard
from fanlib.profiling.early_value import EarlyValueModel, early_features
from fanlib.profiling.errors import ProfilingDataError, ProfilingRulesError
from fanlib.profiling.layers import LAYER_TARGETS, LayerRules, layer_shares, layer_transitions
from fanlib.profiling.profile import FanProfile, fan_profile, tier_shares
from fanlib.profiling.queries import CommunityKPIs, community_kpis, kpi_trend
from fanlib.profiling.queries_features import fan_features
from fanlib.profiling.report import TREND_CHARTS, ProfilingResult, analyse
from fanlib.profiling.rfm import rfm_scores, segment_value
from fanlib.profiling.segments import BehaviourSegments, segment_inputs
from fanlib.profiling.summary import profiling_summary
from fanlib.profiling.tiers import TierRules
from fanlib.profiling.window import resolve_as_of

__all__ = [
    "BENCHMARKS",
    "BehaviourSegments",
    "CommunityKPIs",
    "EarlyValueModel",
    "FanProfile",
    "LAYER_TARGETS",
    "LayerRules",
    "ProfilingDataError",
    "ProfilingResult",
    "ProfilingRulesError",
    "TREND_CHARTS",
    "TierRules",
    "analyse",
    "biggest_gaps",
    "community_kpis",
    "early_features",
    "fan_features",
    "fan_profile",
    "kpi_trend",
    "layer_shares",
    "layer_transitions",
    "narrative",
    "plots",
    "profiling_summary",
    "resolve_as_of",
    "rfm_scores",
    "scorecard",
    "segment_inputs",
    "segment_value",
    "tier_shares",
]
