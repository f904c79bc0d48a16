"""What parameter values mean: bounds, fixed choices, sources and dates, checked before any kernel starts.

The type of a parameter comes from its declaration in the notebook; what values make sense comes from
``RULES`` here, by parameter name, so that every report that uses a name (``lang``, ``churn_days``)
means the same by it. ``fanlib params`` lists each parameter's rule. ``check`` runs them all, plus:

* the data source: a file or folder must exist and be a kind fanlib reads (database URLs are not checked);
* dates (``as_of``, ``start``, ``did_start``) must lie within the data, whose first and last day are
  read from the source without starting a kernel;
* a few rules between parameters of one report (``primary_metric`` among ``metrics``, ``start`` before
  ``as_of``);
* the fan columns that parameters name (covariates, segments) and the mapping's vocabulary
  (:mod:`fanlib.reports.datacheck`).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from fanlib.reports.datacheck import COLUMN_PARAMS, problems_in_data
from fanlib.reports.paramcolumns import unit_table_in_folder, unit_table_problems
from fanlib.reports.params import ParamError


@dataclass(frozen=True)
class Rule:
    """What a parameter's values may be: bounds (``low``/``high``, open or closed) or fixed choices.

    ``choices_from`` names a ``module:ATTRIBUTE`` whose keys or items are the choices, so that the
    list stays where the code that understands the values keeps it. For lists and dicts the rule
    applies to each item (dicts: each value).
    """

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple = ()
    choices_from: str | None = None

    def allowed(self) -> tuple:
        if self.choices_from:
            module, _, attr = self.choices_from.partition(":")
            return tuple(getattr(importlib.import_module(module), attr))
        return self.choices

    def describe(self, name: str = "x") -> str:
        """The rule as people read it: ``0 < alpha < 1``, ``churn_days > 0``, ``one of zh, en``."""
        if self.choices or self.choices_from:
            return "one of " + ", ".join(map(str, self.allowed()))
        low = "" if self.low is None else f"{self.low:g} {'<' if self.low_open else '<='} "
        high = "" if self.high is None else f" {'<' if self.high_open else '<='} {self.high:g}"
        if self.low is not None and self.high is None:
            return f"{name} {'>' if self.low_open else '>='} {self.low:g}"
        return f"{low}{name}{high}"

    def words(self, name: str) -> str:
        """The rule in a sentence: ``greater than 0 and less than 1 (0 < alpha < 1)``, ``one of zh, en``."""
        if self.choices or self.choices_from:
            return self.describe(name)
        parts = []
        if self.low is not None:
            parts.append(f"{'greater than' if self.low_open else 'at least'} {self.low:g}")
        if self.high is not None:
            parts.append(f"{'less than' if self.high_open else 'at most'} {self.high:g}")
        return f"{' and '.join(parts)} ({self.describe(name)})"

    def fits(self, value: Any) -> bool:
        if self.choices or self.choices_from:
            return value in self.allowed()
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return False
        if self.high is not None and (value > self.high or (self.high_open and value == self.high)):
            return False
        return True


POSITIVE = Rule(0, low_open=True)
AT_LEAST_ONE = Rule(1)
NON_NEGATIVE = Rule(0)
PROBABILITY = Rule(0, 1, low_open=True, high_open=True)
SHARE = Rule(0, 1, low_open=True)  # (0, 1]

#: parameter name -> what its values may be. A test checks that every number and every text with a
#: fixed set of values declared in the report notebooks has a rule here.
RULES: dict[str, Rule] = {
    # every report
    "lang": Rule(choices=("zh", "en")),
    "currency": Rule(choices_from="fanlib.present.i18n:CURRENCIES"),
    # 00 data overview
    "stale_after_days": POSITIVE,
    # 01 fan profiling
    **dict.fromkeys(
        (
            "rfm_window_days",
            "kpi_window_days",
            "segment_window_days",
            "layer_period_days",
            "early_days",
            "horizon_days",
        ),
        POSITIVE,
    ),
    **dict.fromkeys(
        (
            "segment_min_span_days",
            "loyal_min_tenure_days",
            "loyal_min_orders",
            "active_min_interactions_per_30d",
            "active_min_shares",
            "core_min_interactions_per_30d",
            "core_min_orders",
            "active_layer_min_interactions_per_30d",
            "potential_min_intent_per_30d",
            "layer_min_present_days",
        ),
        NON_NEGATIVE,
    ),
    "high_value_top_share": SHARE,
    "top_communities": AT_LEAST_ONE,
    "n_bootstrap": AT_LEAST_ONE,
    "portrait_bins": Rule(2),
    # 02 A/B campaign
    **dict.fromkeys(("window_days", "pre_days", "did_pre_weeks", "did_post_weeks"), POSITIVE),
    **dict.fromkeys(("alpha", "srm_alpha", "power"), PROBABILITY),
    "mde_relative": POSITIVE,
    "planned_split": POSITIVE,
    "guardrails": NON_NEGATIVE,
    "correction": Rule(choices_from="fanlib.ab.multiple:METHODS"),
    "relative_method": Rule(choices=("fieller", "log")),
    "metrics": Rule(choices_from="fanlib.ab.metrics:METRICS"),
    "primary_metric": Rule(choices_from="fanlib.ab.metrics:METRICS"),
    "segment_metric": Rule(choices_from="fanlib.ab.metrics:METRICS"),
    "sequential_metric": Rule(choices_from="fanlib.ab.metrics:METRICS"),
    "segment_bins": Rule(2),
    # 03 retention
    **dict.fromkeys(
        (
            "churn_days",
            "curve_days",
            "landmark_days",
            "active_within_days",
            "clv_holdout_days",
            "clv_horizon_days",
            "retention_days",
        ),
        POSITIVE,
    ),
    **dict.fromkeys(("cohort_max_periods", "train_cutoffs", "churn_max_train_rows", "at_risk_top"), AT_LEAST_ONE),
    "churn_basis": Rule(choices_from="fanlib.retention.activity:BASES"),
    "cohort_by": Rule(choices_from="fanlib.retention.activity:COHORT_BY"),
    "churn_population": Rule(choices_from="fanlib.retention.churn_features:POPULATIONS"),
    "cohort_period": Rule(choices_from="fanlib.retention.queries_cohorts:PERIODS"),
    "lifecycle_period": Rule(choices=("week", "month")),
    "annual_discount_rate": Rule(0, 1, high_open=True),
    "margin": SHARE,
    # 04 sentiment
    "negative_threshold": PROBABILITY,
    "freq": Rule(choices=("day", "hour")),
    **dict.fromkeys(("baseline_days", "index_window", "current_days"), POSITIVE),
    "top_terms": AT_LEAST_ONE,
    # 05 overview
    "warning_days": POSITIVE,
    "warning_threshold": POSITIVE,
    "wait_timeout_s": POSITIVE,
    "run_started": NON_NEGATIVE,
}

#: Date parameters that must lie within the data's first and last day.
DATES_IN_DATA = ("as_of", "start", "did_start")


def rule_text(name: str) -> str:
    """The rule of parameter ``name`` for ``fanlib params`` (empty when it has none)."""
    rule = RULES.get(name)
    if rule is None and name in COLUMN_PARAMS:
        return COLUMN_PARAMS[name].describe()
    return rule.describe(name) if rule else ""


def _values_of(value: Any) -> list:
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def value_problems(stem: str, values: dict[str, Any]) -> list[str]:
    """Each value that breaks its rule, and the rules between one report's parameters."""
    problems = []
    for name, value in values.items():
        rule = RULES.get(name)
        if rule is None or value is None or isinstance(value, bool):
            continue
        items = _values_of(value)
        bad = [v for v in items if not rule.fits(v)]
        if bad:
            got = value if not isinstance(value, (list, dict)) or len(bad) == len(items) else bad
            problems.append(f"{stem}: parameter {name!r} must be {rule.words(name)}; got {_show(got)}")
    problems += _between(stem, values)
    return problems


def _between(stem: str, v: dict[str, Any]) -> list[str]:
    out = []
    if v.get("start") and v.get("as_of") and _day(v["start"]) > _day(v["as_of"]):
        out.append(f"{stem}: parameter 'start' ({_day(v['start'])}) must not be after 'as_of' ({_day(v['as_of'])})")
    if "primary_metric" in v and "metrics" in v and not v.get("unit_table") and v["primary_metric"] not in v["metrics"]:
        out.append(
            f"{stem}: parameter 'primary_metric' must be one of the report's 'metrics' "
            f"({', '.join(v['metrics'])}); got {v['primary_metric']!r}"
        )
    if "control" in v and isinstance(v.get("planned_split"), dict) and v["control"] not in v["planned_split"]:
        out.append(
            f"{stem}: parameter 'planned_split' must name the control variant {v['control']!r}; "
            f"it names {', '.join(map(repr, v['planned_split'])) or 'none'}"
        )
    if "early_days" in v and "horizon_days" in v and v["horizon_days"] <= v["early_days"]:
        out.append(
            f"{stem}: parameter 'horizon_days' ({v['horizon_days']}) must be greater than 'early_days' "
            f"({v['early_days']}): fans are judged high-value later than their first days are observed"
        )
    return out


def _show(value: Any) -> str:
    return value.isoformat() if isinstance(value, (date, datetime)) else repr(value)


def _day(value: Any) -> date:
    return value.date() if isinstance(value, datetime) else value


# --------------------------------------------------------------------------- sources


def source_problem(source: str) -> str | None:
    """Why ``source`` cannot be a data source (None when it can): a missing file or folder, a file of a
    kind fanlib does not read, a folder with none of the contract's tables. Database URLs pass: whether
    the database answers is the report's to say."""
    from fanlib.data import fandata as data
    from fanlib.data import sources
    from fanlib.paths import is_url, resolve

    text = str(source)
    if not text.strip():
        return "the data source is empty; give a DuckDB file, a data folder, an Excel workbook or a database URL"
    if text.lower().startswith("spark://") or is_url(text):
        return None
    path = resolve(text)
    if not path.exists():
        shown = f" (looked for {path})" if str(path) != text else ""
        hint = "; `make demo` builds the demo data there" if text == data.DEFAULT_SOURCE else ""
        return f"data source not found: {text}{shown}{hint}"
    if path.is_dir():
        from fanlib.data import contract
        from fanlib.data.errors import SourceError

        try:
            tables = [n for n in sources._folder_entries(path)[0] if n in contract.TABLES]
        except (SourceError, OSError) as exc:
            return str(exc)
        if not tables:
            return (
                f"{path}: the folder holds no table files; name them after the contract's tables "
                f"({', '.join(contract.TABLE_NAMES)}), e.g. fans.csv or events.parquet"
            )
        return None
    suffix = path.suffix.lower()
    if suffix in sources._DUCKDB_SUFFIXES | sources._EXCEL_SUFFIXES:
        return None
    hint = (
        " (put CSV or Parquet files in a folder, one per table, and give the folder)"
        if suffix in sources._CSV_SUFFIXES | sources._PARQUET_SUFFIXES
        else ""
    )
    return (
        f"{path}: not a kind of data source fanlib reads; give a DuckDB file (.duckdb), an Excel workbook "
        f"(.xlsx), a folder of CSV/Parquet/Excel files named after the tables, or a database URL{hint}"
    )


def data_days(source: str, mapping: dict | None, timezone: str | None = None) -> tuple[date, date] | None:
    """The first and last day with events, orders or comments; None when the source cannot say
    (then the report itself shows why)."""
    from fanlib.data.fandata import connect

    try:
        fd = connect(source, mapping=mapping, validate=False, **({"timezone": timezone} if timezone else {}))
    except Exception:  # noqa: BLE001 - an unreadable source is the report's to explain
        return None
    try:
        first, last = fd.date_range()
    except Exception:  # noqa: BLE001 - e.g. a time column that cannot be read: the contract check says so
        return None
    finally:
        fd.close()
    if first is None or last is None:
        return None
    return first.date(), last.date()


def _group(problems: list[str]) -> list[str]:
    """One line per problem, naming every report it concerns (``lang=fr`` is one mistake, not six)."""
    by_text: dict[str, list[str]] = {}
    for p in problems:
        stem, sep, rest = p.partition(": ")
        by_text.setdefault(rest if sep else p, []).append(stem if sep else "")
    return [f"{', '.join(s for s in stems if s)}: {text}" if any(stems) else text for text, stems in by_text.items()]


def check(values_by_stem: dict[str, dict[str, Any]]) -> None:
    """Check what every selected report's parameters mean; ParamError listing every problem."""
    problems: list[str] = []
    for stem, values in values_by_stem.items():
        problems += value_problems(stem, values)
    bad_sources: set[str] = set()
    for stem, values in values_by_stem.items():
        if "source" in values and values["source"] is not None:
            why = source_problem(values["source"])
            if why and values.get("unit_table"):  # a folder may hold only the A/B report's unit table
                there, names = unit_table_in_folder(values["source"], values["unit_table"])
                if there:
                    why = None
                elif names:
                    why = (
                        f"the folder has no table {values['unit_table']!r} (parameter unit_table); "
                        f"it has {', '.join(names)}"
                    )
            if why:
                problems.append(f"{stem}: parameter 'source': {why}")
                bad_sources.add(values["source"])
    problems += problems_in_data(values_by_stem, bad_sources)  # named fan columns, the vocabulary
    for stem, values in values_by_stem.items():
        if values.get("unit_table") and values.get("source") and values["source"] not in bad_sources:
            problems += unit_table_problems(stem, values)  # the columns the A/B report names in its unit table
    ranges: dict[tuple, tuple[date, date] | None] = {}
    for stem, values in values_by_stem.items():
        dates = {n: _day(values[n]) for n in DATES_IN_DATA if values.get(n) is not None}
        source = values.get("source")
        if not dates or not source or source in bad_sources:
            continue
        mapping = values.get("mapping")
        timezone = values.get("timezone")
        key = (source, repr(mapping), timezone)
        if key not in ranges:
            ranges[key] = data_days(source, mapping, timezone)
        span = ranges[key]
        if span is None:
            continue
        first, last = span
        for name, day in dates.items():
            if not first <= day <= last:
                side = "before the data begins" if day < first else "after the data ends"
                problems.append(
                    f"{stem}: parameter {name!r} ({day}) is {side}: it must lie within the data, "
                    f"from {first} to {last} (the first and last day with events, orders or comments "
                    f"in {source})"
                )
    if problems:
        raise ParamError(_group(problems))
