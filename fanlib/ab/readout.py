"""An experiment's readout from the engine: the contract's tables (``experiment_readout``), a user's own
one-row-per-fan export (``unit_readout``), and the split check of every experiment (``all_experiments_srm``).

The input is checked (``fanlib.ab.checks``), the per-variant moments aggregated in the engine
(``fanlib.ab.queries``), and the comparison computed from them (``fanlib.ab.comparison``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import pandas as pd

from fanlib.ab.comparison import Readout, analyze
from fanlib.ab.errors import ABInputError
from fanlib.ab.metrics import Metric
from fanlib.ab.srm import SRM_ALPHA, srm_check
from fanlib.ab.stats import Moments

if TYPE_CHECKING:
    from fanlib.data.fandata import FanData

#: DuckDB's memory cap while the readout's queries run. They only aggregate (a few numbers per
#: variant come back), so DuckDB spills its hash tables to disk beyond the cap at little cost;
#: with Python's own share the readout of 10 M assignments stays under 1 GB.
READOUT_MEMORY_LIMIT = "512MB"


def check_outcomes(moments: dict[str, dict[str, Moments]], metrics: dict[str, Metric], experiment_id: str) -> None:
    """An empty outcome window (no fan has any outcome at all) is an error, not a readout of zeros."""
    total = 0.0
    for name in metrics:
        for m in moments[name].values():
            total += abs(float(m.sums[0]))
    if total == 0:
        raise ABInputError(
            f"experiment {experiment_id!r}: no fan has any outcome in the window (every metric is 0); "
            f"the window may lie outside the data or the outcome tables are empty",
            check="non-empty outcome window",
            code="no_outcome",
            fields={"experiment": experiment_id},
        )


def experiment_readout(
    fd: FanData,
    experiment_id: str,
    *,
    control: str = "control",
    planned_split: dict | None = None,
    metrics: list[str] | None = None,
    window_days: int = 28,
    pre_days: int = 28,
    covariates: list[str] | None = None,
    memory_limit: str | None = READOUT_MEMORY_LIMIT,
    **options: Any,
) -> tuple[Readout, object]:
    """The readout of one experiment from the contract tables; returns (readout, unit expression).

    The unit expression (one row per fan, in the engine) is returned for the segment analysis.
    ``covariates``: the CUPED covariates of every metric (pre-period metrics and numeric fan attributes, see
    ``fanlib.ab.covariates``); None or empty: each metric's own pre-period covariates.
    ``memory_limit``: DuckDB's memory cap while the readout's queries run (see ``fanlib.data.engine.memory_cap``).
    """
    from fanlib.ab import queries as outcomes
    from fanlib.data.engine import memory_cap

    options["covariates"] = list(covariates or [])
    with memory_cap(fd, memory_limit):
        ro = _contract_readout(fd, experiment_id, control, planned_split, metrics, window_days, pre_days, options)
        # built under the cap too: reading the tables it joins may query the source
        units = outcomes.experiment_units(fd, experiment_id, window_days=window_days, pre_days=pre_days)
    return ro, units


def unit_readout(
    fd: FanData,
    table: str,
    *,
    variant: str = "variant",
    planned_split: dict | None = None,
    fan_id: str | None = None,
    outcomes: list[str],
    covariates: dict[str, list[str] | str] | None = None,
    common_covariates: list[str] | None = None,
    guardrails: dict[str, float] | None = None,
    time_column: str | None = None,
    **options: Any,
) -> tuple[Readout, object]:
    """The readout of a one-row-per-fan table exported from another tool (variant column plus outcome columns;
    ``a/b`` makes a ratio metric); the first outcome is the primary one. Returns (readout, unit table).

    ``covariates`` maps an outcome to its own covariate column(s); ``common_covariates`` adjust every outcome.
    ``guardrails`` naming outcomes of the table apply; the others (the contract metrics' defaults) are left out,
    and a caveat names them. ``time_column``: when each fan entered (checked here; the daily view uses it).
    """
    from fanlib.ab import checks
    from fanlib.ab import covariates as ab_covariates
    from fanlib.ab import queries as oc
    from fanlib.ab.metrics import unit_metrics

    units = checks.unit_table(fd, table, variant=variant, planned_split=planned_split, fan_id=fan_id)
    if time_column:
        checks.time_column(units, table, time_column)
    metrics = unit_metrics(units, outcomes, covariates or {}, common_covariates or [])
    chosen = checks.infer_proportions(fd, units, metrics)
    guards = {k: v for k, v in (guardrails or {}).items() if k in chosen}
    moments = oc.by_variant(oc.variant_moments(fd, units, chosen, label="ab:unit:moments"))
    ro = analyze(
        moments,
        chosen,
        planned_split=planned_split,
        primary=outcomes[0],
        experiment_id=table,
        guardrails=guards,
        **options,
    )
    covs = list(dict.fromkeys(c for m in chosen.values() for c in m.covariates))
    n_units = sum(int(m.n) for m in next(iter(moments.values())).values())
    for column, n in ab_covariates.missing_values(fd, units, covs).items():
        ro.add_note("covariate_missing", column=column, n=n, total=n_units)
    left_out = [k for k in guardrails or {} if k not in chosen]
    if left_out:
        ro.add_note("guardrails_not_outcomes", names=", ".join(left_out), outcomes=", ".join(outcomes))
    ro.metric_defs = chosen
    ro.settings.update(unit_table=table, covariates=list(common_covariates or []), time_column=time_column)
    return ro, units


def _contract_readout(fd, experiment_id, control, planned_split, metrics, window_days, pre_days, options):
    from fanlib.ab import covariates as ab_covariates
    from fanlib.ab import queries as outcomes
    from fanlib.ab.checks import check_assignments
    from fanlib.ab.metrics import METRICS, with_covariates

    counts = check_assignments(fd, experiment_id, planned_split)
    cover = outcomes.window_coverage(fd, experiment_id, window_days)
    if cover["complete"] == 0:
        raise ABInputError(
            f"empty window: no fan of {experiment_id!r} has a complete {window_days}-day outcome "
            f"window before the data end {cover['data_end']} (assigned "
            f"{cover['first_assigned']} .. {cover['last_assigned']})",
            table="assignments",
            column="assigned_time",
            check="complete outcome window",
            code="empty_window",
            fields={"experiment": experiment_id, "days": window_days, "end": cover["data_end"]},
        )
    names = metrics or ["conversion", "revenue_per_fan", "revenue_per_order"]
    bad = [m for m in names if m not in METRICS]
    if bad:
        raise ABInputError(
            f"unknown metrics {bad}; available: {sorted(METRICS)}",
            check="metric names",
            code="unknown_metrics",
            fields={"metrics": ", ".join(bad), "available": ", ".join(sorted(METRICS))},
        )
    asked = options.pop("covariates")
    chosen, covs, guards, notes = ab_covariates.without_events(
        fd, {m: METRICS[m] for m in names}, asked, options.get("primary"), dict(options.pop("guardrails", None) or {})
    )
    attributes = ab_covariates.resolve(fd, covs)
    chosen = with_covariates(chosen, covs)
    # moments from the fans with any outcome plus the counts: no join back onto every assignment (unless fan
    # attributes are covariates: every assigned fan has one)
    attr_table = ab_covariates.attribute_table(fd, attributes, cover["first_assigned"]) if attributes else None
    mom = outcomes.experiment_moments(
        fd,
        experiment_id,
        chosen,
        counts,
        window_days=window_days,
        pre_days=pre_days,
        label=f"ab:{experiment_id}:moments",
        attributes=attr_table,
    )
    if attr_table is not None:
        rows = ab_covariates.assigned_with(fd, experiment_id, attr_table)
        for column, n in ab_covariates.missing_values(fd, rows, attributes).items():
            notes.append(("covariate_missing", {"column": column, "n": n, "total": cover["n"]}))
    check_outcomes(mom, chosen, experiment_id)
    ro = analyze(
        mom,
        chosen,
        control=control,
        planned_split=planned_split,
        experiment_id=experiment_id,
        guardrails=guards,
        **options,
    )
    for code, fields in notes:
        ro.add_note(code, **fields)
    if cover["complete"] < cover["n"]:
        ro.add_note("cut_windows", cut=cover["n"] - cover["complete"], n=cover["n"], days=window_days)
    ro.settings.update(window_days=window_days, pre_days=pre_days, covariates=covs)
    ro.metric_defs = chosen
    return ro


def all_experiments_srm(
    fd: FanData,
    planned: dict[str, dict[str, float]] | None = None,
    default_split: dict[str, float] | None = None,
    alpha: float = SRM_ALPHA,
) -> pd.DataFrame:
    """SRM check of every experiment in ``assignments`` (one engine query); equal split unless planned."""
    from fanlib.ab.queries import run_query

    a = fd.table("assignments")
    counts = run_query(fd, a.group_by(["experiment_id", "variant"]).aggregate(n=a.count()), "ab:all-counts")
    rows = []
    for exp, grp in counts.groupby("experiment_id"):
        c = dict(zip(grp["variant"].astype(str), grp["n"].astype(int), strict=True))
        plan = (planned or {}).get(exp) or (
            default_split if default_split and set(c) <= set(default_split) else {v: 1.0 for v in c}
        )
        if len(c) < 2:
            rows.append(
                {
                    "experiment_id": exp,
                    "variants": len(c),
                    "n": sum(c.values()),
                    "p_value": math.nan,
                    "failed": False,
                    "split": "only one variant",
                }
            )
            continue
        try:
            r = srm_check(c, plan, alpha)
            rows.append(
                {
                    "experiment_id": exp,
                    "variants": len(c),
                    "n": sum(c.values()),
                    "p_value": r.p_value,
                    "failed": r.failed,
                    "split": " / ".join(f"{k} {v:.1%}" for k, v in r.observed_shares.items()),
                }
            )
        except ABInputError as err:
            rows.append(
                {
                    "experiment_id": exp,
                    "variants": len(c),
                    "n": sum(c.values()),
                    "p_value": math.nan,
                    "failed": True,
                    "split": str(err),
                }
            )
    return pd.DataFrame(rows)
