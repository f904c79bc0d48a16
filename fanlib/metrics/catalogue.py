"""The KPI catalogue: every figure the reports, their summaries, the overview and the targets file name.

One entry per computation. Two figures that read alike but are computed differently (the profiling
report's 7-day retention, active in days 7–13 after joining, and the retention report's day-7
retention, active on day 7) are two entries with two names. A figure several reports show from one
computation is one entry with several sources.

Each entry names:

* ``name``: the message (``domain:key`` in ``fanlib/present/locales``) that labels the figure wherever it is
  shown; its definition in words is ``def_<key>`` in ``fanlib/present/locales/metrics.yaml``;
* ``computed_by``: the one function that computes it (``module:attribute``; resolved only on demand, so
  this module imports no analysis code);
* ``unit`` (one of ``fanlib.present.notebook.UNITS``) and ``higher_is_better`` (None: no better direction);
* ``benchmark``: the planning documents' figure for today, ``target``: the figure aimed at (the
  programme's milestones per month are in ``params/targets.yaml``);
* ``sources``: where it appears, ``<report>:<path>`` in the report's summary JSON (``headline.<key>``
  for a headline figure, ``kpis.<key>`` for a scorecard row, ``*`` for any one level).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    key: str
    name: str
    computed_by: str
    unit: str
    higher_is_better: bool | None
    sources: tuple[str, ...]
    benchmark: float | None = None
    target: float | None = None
    benchmark_source: str = ""


PROFILING = "fanlib.profiling.queries"
_P = "01_fan_profiling"


def _profiling(
    key: str,
    fn: str,
    unit: str,
    hib: bool,
    benchmark: float | None = None,
    target: float | None = None,
    headline: bool = False,
    source: str = "",
) -> Metric:
    """A community KPI of the profiling report's scorecard (and its ``benchmarks`` section)."""
    where = ((f"{_P}:headline.{key}",) if headline else ()) + (f"{_P}:kpis.{key}", f"{_P}:benchmarks.{key}")
    return Metric(key, f"fan_profiling:kpi_{key}", f"{PROFILING}:{fn}", unit, hib, where, benchmark, target, source)


_PLAN = "planning documents"

METRICS: tuple[Metric, ...] = (
    # 00_data_overview: what the data holds
    Metric(
        "fans",
        "data_overview:hl_fans",
        "fanlib.data_overview.queries:table_summary",
        "count",
        None,
        ("00_data_overview:headline.fans",),
    ),
    Metric(
        "events",
        "data_overview:hl_events",
        "fanlib.data_overview.queries:table_summary",
        "count",
        None,
        ("00_data_overview:headline.events",),
    ),
    Metric(
        "orders",
        "data_overview:hl_orders",
        "fanlib.data_overview.queries:table_summary",
        "count",
        None,
        ("00_data_overview:headline.orders",),
    ),
    Metric(
        "contract_problems",
        "data_overview:hl_problems",
        "fanlib.data.validate:problems",
        "count",
        False,
        ("00_data_overview:headline.contract_problems",),
    ),
    Metric(
        "data_warnings",
        "data_overview:hl_warnings",
        "fanlib.data.freshness:data_warnings",
        "count",
        False,
        ("00_data_overview:headline.data_warnings",),
    ),
    # 01_fan_profiling: community KPIs over the KPI window, in the scorecard's order
    Metric(
        "members", "fan_profiling:kpi_members", f"{PROFILING}:activity_kpis", "count", True, (f"{_P}:headline.members",)
    ),
    _profiling("dau_rate", "activity_kpis", "pct", True, 0.236, 0.55, headline=True, source=_PLAN),
    _profiling("stickiness", "activity_kpis", "pct", True),
    _profiling("speaking_rate", "activity_kpis", "pct", True, 0.083, 0.35, headline=True, source=_PLAN),
    _profiling("ugc_share", "activity_kpis", "pct", True, None, 0.40, headline=True, source=_PLAN),
    _profiling("messages_per_1k_day", "activity_kpis", "number", True, 15.0, 89.0, headline=True, source=_PLAN),
    _profiling(
        "retention_7d",
        "retention_kpis",
        "pct",
        True,
        0.312,
        0.50,
        headline=True,
        source=f"{_PLAN}: 7-day retention 31.2%, healthy ≥ 50%",
    ),
    _profiling("retention_30d", "retention_kpis", "pct", True, 0.187, None, source=f"{_PLAN}: 30-day retention 18.7%"),
    _profiling("retention_90d", "retention_kpis", "pct", True),
    _profiling("repurchase_rate", "value_kpis", "pct", True, 0.472, 0.50, source=_PLAN),
    _profiling("repurchase_interval_days", "value_kpis", "days", False, None, 30.0, source=_PLAN),
    _profiling("aov", "value_kpis", "cny", True),
    _profiling("conversion_rate", "value_kpis", "pct", True, None, 0.08, headline=True, source=_PLAN),
    _profiling("touch_steps", "touch_steps", "number", False, 7.2, 5.0, source=_PLAN),
    Metric(
        "high_value_gmv_share",
        "fan_profiling:hl_high_value_gmv_share",
        "fanlib.profiling.profile:tier_shares",
        "pct",
        True,
        (f"{_P}:headline.high_value_gmv_share", f"{_P}:top_tier_gmv_share"),
        None,
        0.684,
        f"{_PLAN}: high-value users bring 68.4% of GMV",
    ),
    Metric(
        "core_layer_share",
        "fan_profiling:hl_core_layer_share",
        "fanlib.profiling.layers:layer_shares",
        "pct",
        True,
        (f"{_P}:headline.core_layer_share",),
        None,
        0.15,
        f"{_PLAN}: core layer 15% of fans",
    ),
    Metric(
        "segment_count",
        "fan_profiling:hl_segment_count",
        "fanlib.profiling.segments:BehaviourSegments",
        "count",
        None,
        (f"{_P}:headline.segment_count", f"{_P}:segment_count"),
    ),
    # 02_ab_campaign: the experiment's read-out
    Metric(
        "verdict",
        "ab_campaign:hl_verdict",
        "fanlib.ab.verdict:decide",
        "text",
        None,
        ("02_ab_campaign:headline.verdict", "02_ab_campaign:verdict"),
    ),
    Metric(
        "srm_p_value",
        "ab_campaign:hl_srm",
        "fanlib.ab.srm:srm_check",
        "number",
        True,
        ("02_ab_campaign:headline.srm_p_value", "02_ab_campaign:srm_p_value"),
    ),
    Metric(
        "primary_lift",
        "ab_campaign:hl_primary_lift",
        "fanlib.ab.lifts:absolute_lift",
        "pp",
        True,
        ("02_ab_campaign:headline.primary_lift",),
    ),
    # 03_retention: day-N retention of all fans (the overview's retention KPI), churn and value
    Metric(
        "retention_d7",
        "retention:hl_retention_d7",
        "fanlib.retention.cohorts:day_n_retention",
        "pct",
        True,
        ("03_retention:headline.retention_d7", "03_retention:retention.d7.on"),
        0.312,
        0.50,
        f"{_PLAN}: 7-day retention 31.2%, healthy ≥ 50%",
    ),
    Metric(
        "retention_d30",
        "retention:hl_retention_d30",
        "fanlib.retention.cohorts:day_n_retention",
        "pct",
        True,
        ("03_retention:headline.retention_d30", "03_retention:retention.d30.on"),
        0.187,
        None,
        f"{_PLAN}: 30-day retention 18.7%",
    ),
    Metric(
        "day_n_retention",
        "metrics:name_day_n_retention",
        "fanlib.retention.cohorts:day_n_retention",
        "pct",
        True,
        ("03_retention:retention.*.on",),
    ),
    Metric(
        "day_n_retention_on_or_after",
        "metrics:name_day_n_retention_on_or_after",
        "fanlib.retention.cohorts:day_n_retention",
        "pct",
        True,
        ("03_retention:retention.*.on_or_after",),
    ),
    Metric(
        "hr_checkin",
        "retention:hl_hr_checkin",
        "fanlib.retention.cox:CoxPH",
        "ratio",
        False,
        ("03_retention:headline.hr_checkin",),
    ),
    Metric(
        "churn_auc",
        "retention:hl_churn_auc",
        "fanlib.retention.churn:run_churn_models",
        "number",
        True,
        ("03_retention:headline.churn_auc",),
    ),
    Metric(
        "churn_ece",
        "retention:hl_churn_ece",
        "fanlib.retention.churn:run_churn_models",
        "number",
        False,
        ("03_retention:headline.churn_ece",),
        None,
        0.02,
        "retention report: a churn model calibrated within 0.02",
    ),
    Metric(
        "churn_rate",
        "metrics:name_churn_rate",
        "fanlib.retention.churn:run_churn_models",
        "pct",
        False,
        (
            "03_retention:headline.churn_risk",
            "03_retention:churn_model.metrics.*.base_rate",
            "05_overview:findings.churn_rate",
        ),
    ),
    Metric(
        "at_risk_fans",
        "retention:hl_at_risk",
        "fanlib.retention.churn:at_risk_list",
        "count",
        None,
        ("03_retention:headline.at_risk_fans", "03_retention:at_risk.fans", "05_overview:findings.at_risk"),
    ),
    Metric(
        "total_clv",
        "retention:hl_total_clv",
        "fanlib.retention.clv:clv_analysis",
        "cny",
        True,
        ("03_retention:headline.total_clv", "03_retention:clv.total"),
    ),
    # 04_sentiment: what fans are saying
    Metric(
        "sentiment_index",
        "sentiment:hl_index",
        "fanlib.sentiment.monitor:current_figures",
        "number",
        True,
        ("04_sentiment:headline.sentiment_index", "04_sentiment:current.index"),
    ),
    Metric(
        "negative_share",
        "sentiment:hl_neg_share",
        "fanlib.sentiment.monitor:current_figures",
        "pct",
        False,
        ("04_sentiment:headline.negative_share", "04_sentiment:current.neg_share"),
    ),
    Metric(
        "open_alerts",
        "sentiment:hl_open_alerts",
        "fanlib.sentiment.crisis:detect",
        "count",
        False,
        ("04_sentiment:headline.open_alerts", "05_overview:findings.open"),
    ),
    Metric(
        "alerts_in_period",
        "sentiment:hl_alerts",
        "fanlib.sentiment.crisis:detect",
        "count",
        False,
        ("04_sentiment:headline.alerts_in_period", "05_overview:findings.in_period"),
    ),
    Metric(
        "model_accuracy",
        "sentiment:hl_accuracy",
        "fanlib.sentiment.card:build_card",
        "pct",
        True,
        ("04_sentiment:headline.model_accuracy",),
    ),
    # 05_overview: the programme's state, and the daily KPIs its early warnings watch
    Metric(
        "programme_month",
        "executive:hl_month",
        "fanlib.executive.targets:Targets.programme_month",
        "count",
        None,
        ("05_overview:headline.programme_month",),
    ),
    Metric(
        "kpis_on_track",
        "executive:hl_on_track",
        "fanlib.executive.board:kpi_board",
        "count",
        True,
        ("05_overview:headline.kpis_on_track",),
    ),
    Metric(
        "kpi_warnings",
        "executive:hl_warnings",
        "fanlib.executive.stats:scan",
        "count",
        False,
        ("05_overview:headline.kpi_warnings",),
    ),
    Metric(
        "attention_items",
        "executive:hl_attention",
        "fanlib.executive.findings:key_findings",
        "count",
        False,
        ("05_overview:headline.attention_items",),
    ),
    Metric(
        "daily_active_fans",
        "executive:kpi_active_fans",
        "fanlib.executive.queries:daily_kpis",
        "count",
        True,
        ("05_overview:warnings.active_fans",),
    ),
    Metric(
        "daily_events",
        "executive:kpi_events",
        "fanlib.executive.queries:daily_kpis",
        "count",
        True,
        ("05_overview:warnings.events",),
    ),
    Metric(
        "daily_orders",
        "executive:kpi_orders",
        "fanlib.executive.queries:daily_kpis",
        "count",
        True,
        ("05_overview:warnings.orders",),
    ),
    Metric(
        "daily_gmv",
        "executive:kpi_gmv",
        "fanlib.executive.queries:daily_kpis",
        "cny",
        True,
        ("05_overview:warnings.gmv",),
    ),
    Metric(
        "daily_new_members",
        "executive:kpi_new_members",
        "fanlib.executive.queries:daily_kpis",
        "count",
        True,
        ("05_overview:warnings.new_members",),
    ),
)
