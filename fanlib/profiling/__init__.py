"""Fan profiling and community health: portraits, RFM, fan classes, layers, behaviour segments,
early identification of high-value fans and the community KPIs.

Every per-fan feature and KPI is computed in the engine (ibis); only small results reach pandas.
Each module's docstring gives its definitions and rules.
"""

from fanlib.profiling.early_value import EarlyValueModel, early_features
from fanlib.profiling.features import fan_features
from fanlib.profiling.kpis import BENCHMARKS, CommunityKPIs, biggest_gaps, community_kpis, kpi_trend, scorecard
from fanlib.profiling.layers import LAYER_TARGETS, LayerRules, layer_shares, layer_transitions
from fanlib.profiling.profile import FanProfile, fan_profile, tier_shares
from fanlib.profiling.rfm import rfm_scores, segment_value
from fanlib.profiling.segments import BehaviourSegments, segment_inputs
from fanlib.profiling.summary import profiling_summary
from fanlib.profiling.tiers import TierRules
from fanlib.profiling.window import ProfilingDataError, resolve_as_of

__all__ = [
    "BENCHMARKS",
    "BehaviourSegments",
    "CommunityKPIs",
    "EarlyValueModel",
    "FanProfile",
    "LAYER_TARGETS",
    "LayerRules",
    "ProfilingDataError",
    "TierRules",
    "biggest_gaps",
    "community_kpis",
    "early_features",
    "fan_features",
    "fan_profile",
    "kpi_trend",
    "layer_shares",
    "layer_transitions",
    "profiling_summary",
    "resolve_as_of",
    "rfm_scores",
    "scorecard",
    "segment_inputs",
    "segment_value",
    "tier_shares",
]
