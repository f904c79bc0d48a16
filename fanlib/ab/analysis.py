"""The A/B report in one call: ``analyse(fd, params)`` runs every section and returns what the page shows.

Sections that may fail on their own data (the planner, the segments, the daily monitoring and the
difference-in-differences) run inside the report's one section guard: a failure is recorded in
``result.sections`` and ``result.failures`` (its banner text and level, shown by the notebook where the
section stands), and the summary is marked partial. Charts are drawn when the notebook asks for them
(``result.lifts_chart()`` …), so each shows where it belongs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from fanlib.ab import did, hte, narrative, plots, tables
from fanlib.ab import power as ab_power
from fanlib.ab import sequential as seq
from fanlib.ab.comparison import Readout
from fanlib.ab.errors import ABInputError
from fanlib.ab.metrics import METRICS
from fanlib.ab.readout import all_experiments_srm, experiment_readout, unit_readout
from fanlib.ab.summary import fill_summary
from fanlib.ab.tables import Table
from fanlib.present.escape import md_code, md_text
from fanlib.present.i18n import Messages, fmt_date, messages
from fanlib.present.notebook import Sections, Summary

REPORT = "02_ab_campaign"


@dataclass
class SegmentView:
    """One treatment's segment analysis as the page shows it."""

    variant: str
    segments: pd.DataFrame  # the effect per segment, as computed
    tests: pd.DataFrame  # the heterogeneity test per dimension, as computed
    effects: Table
    interactions: Table
    sentence: str
    chart_title: str
    unit: str
    T: Messages

    def chart(self) -> Any:
        """Draw the forest chart of the segment effects (None when no segment has an interval)."""
        return plots.forest_segments(self.segments, T=self.T, unit=self.unit, title=self.chart_title)


@dataclass
class ABResult:
    """Everything the A/B report shows, in the report's language, with its summary and section record."""

    T: Messages
    summary: Summary
    sections: Sections
    source_line: str | None = None  # where the data came from (Markdown)
    source_error: str | None = None  # the data source could not be used: why
    experiments: Table | None = None  # the split check of every experiment
    experiment_banners: list[str] = field(default_factory=list)  # one per failing experiment
    readout: Readout | None = None
    units: Any = None  # the readout's one-row-per-fan expression, in the engine
    readout_error: str | None = None  # the readout could not be computed: why, in the report's language
    readout_line: str = ""
    srm_banner: tuple[str, str] | None = None  # (text, level)
    verdict_banner: tuple[str, str] | None = None
    note_banners: list[str] = field(default_factory=list)
    variants: Table | None = None
    lifts: Table | None = None
    lift_sentences: str = ""
    cuped: Table | None = None
    guardrails: Table | None = None
    guardrail_banners: list[tuple[str, str]] = field(default_factory=list)
    power: Table | None = None
    planner: Table | None = None
    segments: list[SegmentView] = field(default_factory=list)
    sequential_table: pd.DataFrame = field(default_factory=pd.DataFrame)
    sequential_chart_title: str = ""
    sequential_percent: bool = True
    sequential_sentence: str = ""
    did_setup: str = ""
    did_result: did.DiDResult | None = None
    did_trends: pd.DataFrame | None = None  # mean outcome per week of treated and comparison communities
    did_start: Any = None
    did_sentence: str = ""
    did_caveat: tuple[str, str] | None = None
    conclusion: str = ""
    failures: dict[str, tuple[str, str]] = field(default_factory=dict)  # section title -> (banner text, level)

    def failure(self, title: str) -> tuple[str, str] | None:
        """The banner (text, level) of the section ``title`` if it could not be produced."""
        return self.failures.get(title)

    def lifts_chart(self) -> Any:
        """Draw the forest chart of every relative lift (None when none has an interval)."""
        return plots.forest_lifts(self.readout.lifts, T=self.T)

    def sequential_chart(self) -> Any:
        """Draw the daily monitoring chart: cumulative estimate, naive and always-valid intervals."""
        return plots.sequential_chart(
            self.sequential_table, T=self.T, percent=self.sequential_percent, title=self.sequential_chart_title
        )

    def did_trends_chart(self) -> Any:
        """Draw the weekly trends of treated and comparison communities, the start marked."""
        return plots.did_trends_chart(self.did_trends, self.did_start, T=self.T)

    def event_study_chart(self) -> Any:
        """Draw the event-study coefficients by week relative to the start."""
        return plots.event_study_chart(self.did_result.event_study, T=self.T)


@contextlib.contextmanager
def _section(result: ABResult, title: str) -> Iterator[None]:
    """The report's section guard, its banner held back for the notebook to show where the section stands."""
    from IPython.utils.capture import capture_output

    with capture_output(stdout=False, stderr=False, display=True), result.sections.guard(title):
        yield
    if title in result.sections.failed:
        text = result.sections.failed[title]
        level = "danger" if text == result.sections.common("section_error", section=title) else "warning"
        result.failures[title] = (text, level)


def analyse(fd: Any, params: Mapping[str, Any], *, source_error: BaseException | None = None) -> ABResult:
    """Run the A/B report on ``fd`` (None when the source could not be opened: ``source_error`` says why).

    ``params`` holds the parameters of ``notebooks/02_ab_campaign.ipynb`` by name.
    """
    p = dict(params)
    T = messages("ab_campaign", p["lang"])
    result = ABResult(T, Summary(REPORT, lang=p["lang"]), Sections(T))
    summary = result.summary
    if fd is not None:
        try:
            result.source_line = T("source_line", source=md_code(fd.describe_source()), fingerprint=fd.fingerprint())
            # the last activity timestamp, as written before fanlib.data.asof (which gives the day only)
            summary["as_of"] = str(fd.date_range()[1])
        except Exception as err:  # a broken source is shown, not a traceback
            source_error = err
    if source_error is not None:
        result.source_error = str(source_error)
        summary["status"] = "failed"
        summary["error"] = str(source_error)
    if fd is not None:
        _experiments(result, fd, p)
        _readout(result, fd, p)
    ro = result.readout
    if ro is not None:
        _readout_views(result, p)
        with _section(result, T("h_power")):
            _planner(result, p)
    if ro is not None and not p["unit_table"] and p["segments"]:
        with _section(result, T("h_segments")):
            _segments(result, fd, p)
    if ro is not None and p["sequential"] and not p["unit_table"]:
        with _section(result, T("h_sequential")):
            _sequential(result, fd, p)
    if fd is not None and p["did_start"] is not None and p["did_communities"]:
        result.did_setup = T(
            "did_setup",
            start=fmt_date(p["did_start"], T.lang),
            n=len(p["did_communities"]),
            communities=", ".join(md_text(c) for c in p["did_communities"]),
            pre=p["did_pre_weeks"],
            post=p["did_post_weeks"],
        )
        with _section(result, T("h_did")):
            _did(result, fd, p)
    if ro is not None:
        result.conclusion = (
            T(
                "concl_verdict",
                decision=narrative.decision_label(ro.verdict.decision, T),
                reason=md_text(narrative.verdict_reason(ro.verdict, T, ro.srm)),
            )
            + "\n\n"
            + md_text(narrative.verdict_sentence(ro.verdict, T, ro.srm))
        )
    seg_tests = result.segments[-1].tests if result.segments else pd.DataFrame()
    fill_summary(summary, T, ro, seg_tests=seg_tests, seq_table=result.sequential_table, did_res=result.did_result)
    result.sections.mark(summary)  # a section that could not be produced makes the report partial, naming it
    return result


def _experiments(result: ABResult, fd: Any, p: dict[str, Any]) -> None:
    """The split check of every experiment in the data (none without an assignments table)."""
    T = result.T
    if not fd.has("assignments"):
        return
    overview = all_experiments_srm(fd, planned={p["experiment_id"]: p["planned_split"]}, alpha=p["srm_alpha"])
    shown = overview.assign(split=[T("one_variant_only") if s == "only one variant" else s for s in overview["split"]])
    result.experiments = tables.experiments_table(shown, T)
    result.experiment_banners = [
        T("srm_banner_exp", experiment=r.experiment_id, split=r.split, p=f"{r.p_value:.2g}")
        for r in shown[shown["failed"]].itertuples()
    ]
    result.summary["experiments"] = overview


def _readout(result: ABResult, fd: Any, p: dict[str, Any]) -> None:
    """The experiment's readout, from the contract's tables or the user's own unit table."""
    T, summary = result.T, result.summary
    options = {
        k: p[k] for k in ("alpha", "srm_alpha", "correction", "relative_method", "use_cuped", "mde_relative", "power")
    }
    options.update(control=p["control"], planned_split=p["planned_split"])
    try:
        if p["unit_table"]:
            result.readout, result.units = unit_readout(
                fd,
                p["unit_table"],
                variant=p["unit_variant_column"],
                fan_id=p["unit_fan_column"],
                outcomes=p["unit_outcomes"],
                covariates=p["unit_covariates"],
                **options,
            )
        elif fd.has("assignments"):
            result.readout, result.units = experiment_readout(
                fd,
                p["experiment_id"],
                metrics=p["metrics"],
                window_days=p["window_days"],
                pre_days=p["pre_days"],
                primary=p["primary_metric"],
                guardrails=p["guardrails"],
                **options,
            )
    except ABInputError as err:
        result.readout_error = err.text(T)
        summary["status"] = "failed"
        summary["error"] = str(err)
    if result.readout is None:  # no experiment in the data: the report is partial, naming the readout
        summary.sections_failed([T("h_readout")])


def _readout_views(result: ABResult, p: dict[str, Any]) -> None:
    """The readout's banners, tables, sentences and forest chart."""
    T, ro = result.T, result.readout
    if p["unit_table"]:
        result.readout_line = T(
            "unit_readout_line", table=md_code(p["unit_table"]), control=md_code(ro.control), correction=p["correction"]
        )
    else:
        result.readout_line = T(
            "readout_line",
            experiment=md_code(ro.experiment_id),
            control=md_code(ro.control),
            window=p["window_days"],
            pre=p["pre_days"],
            correction=p["correction"],
        )
    result.srm_banner = (narrative.srm_sentence(ro.srm, T), "danger" if ro.srm.failed else "success")
    decision = ro.verdict.decision
    result.verdict_banner = (
        T(
            "verdict_banner",
            decision=narrative.decision_label(decision, T),
            text=narrative.verdict_sentence(ro.verdict, T, ro.srm),
        ),
        narrative.DECISION_LEVEL[decision],
    )
    result.note_banners = [narrative.notes_text([item], T) for item in ro.note_codes]
    result.variants = tables.variants_table(ro, T)
    result.lifts = tables.lifts_table(ro, T)
    result.lift_sentences = "\n".join("- " + narrative.lift_sentence(r, T) for _, r in ro.lifts.iterrows())
    result.cuped = tables.cuped_table(ro, T)
    if ro.guardrails:
        result.guardrails = tables.guardrails_table(ro, T)
        result.guardrail_banners = [
            (narrative.guardrail_sentence(x, T), tables.GUARDRAIL_LEVEL[x.status]) for x in ro.guardrails
        ]
    result.power = tables.power_table(ro, T, p["mde_relative"])


def _planner(result: ABResult, p: dict[str, Any]) -> None:
    """Fans per arm a new experiment on the primary metric would need."""
    ro = result.readout
    primary = ro.settings["primary"]
    ctl = ro.variants[(ro.variants["metric"] == primary) & (ro.variants["variant"] == ro.control)].iloc[0]
    plan = ab_power.planner(float(ctl["sd"]), float(ctl["mean"]), alpha=p["alpha"], power=p["power"])
    result.planner = tables.planner_table(plan, ro, result.T, alpha=p["alpha"], power=p["power"])
    result.summary["planner"] = plan


def _segments(result: ABResult, fd: Any, p: dict[str, Any]) -> None:
    """Every treatment's effect per segment, kept as each is done (a failure still shows those before it)."""
    T = result.T
    metric = METRICS[p["segment_metric"]]
    metric_name = narrative.metric_label(metric.name, T, metric.display)
    for variant in result.readout.lifts["variant"].unique():
        seg_table, seg_tests = hte.segment_readout(
            fd,
            result.units,
            metric,
            p["segments"],
            control=p["control"],
            treatment=variant,
            alpha=p["alpha"],
            correction=p["correction"],
        )
        effects, interactions = tables.segment_tables(
            seg_table, seg_tests, T, unit=metric.unit, metric_name=metric_name, variant=variant
        )
        sentence = narrative.segments_sentence(seg_tests, T, p["alpha"])
        title = T("chart_segments", variant=variant)
        view = SegmentView(variant, seg_table, seg_tests, effects, interactions, sentence, title, metric.unit, T)
        result.segments.append(view)


def _sequential(result: ABResult, fd: Any, p: dict[str, Any]) -> None:
    """The peeking-safe daily monitoring of the first treatment."""
    T = result.T
    looks = seq.daily_looks(fd, p["experiment_id"], p["window_days"])
    metric = METRICS[p["sequential_metric"]]
    variant = result.readout.lifts["variant"].unique()[0]
    seq_table = seq.sequential_readout(
        fd,
        p["experiment_id"],
        metric,
        looks,
        control=p["control"],
        treatment=variant,
        window_days=p["window_days"],
        alpha=p["alpha"],
    )
    result.sequential_table = seq_table
    result.sequential_percent = metric.unit == "pct"
    result.sequential_chart_title = T("chart_sequential", metric=narrative.metric_label(metric.name, T))
    result.sequential_sentence = narrative.sequential_sentence(seq_table, T, p["alpha"], unit=metric.unit)


def _did(result: ABResult, fd: Any, p: dict[str, Any]) -> None:
    """Difference-in-differences for the campaign that was not randomised."""
    T = result.T
    panel = did.build_panel(fd, p["did_start"], pre_weeks=p["did_pre_weeks"], post_weeks=p["did_post_weeks"])
    did_res = result.did_result = did.fit_did(panel, p["did_communities"], alpha=p["alpha"])
    result.did_trends, result.did_start = did.trends(panel, p["did_communities"]), p["did_start"]
    result.did_sentence = narrative.did_sentence(did_res, T, p["alpha"])
    result.did_caveat = narrative.did_caveat(did_res, T)
