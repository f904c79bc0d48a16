"""What parameter values mean in the data: the fan columns they name, the vocabulary they declare.

Checked by :func:`fanlib.reports.paramcheck.check` before any kernel starts, so that a run a report could
only refuse half-way stops at once with exit code 2, naming the parameter and the value, and writes
nothing:

* a parameter that names fan-level columns (``COLUMN_PARAMS``: the A/B report's ``covariates`` and
  ``segments``, the portraits' ``portrait_columns``, …) must name a column of ``fans`` or
  ``fan_attributes`` (:func:`fanlib.data.attributes.declared_columns`), or one of the names the report
  computes itself (pre-period metrics, activity tier, …); a covariate must hold numbers, a segment must
  have at least two levels among the fans (:func:`fanlib.data.attributes.check_segment`);
* the mapping's ``vocabulary`` must map source values onto built-in codes or onto codes it declares
  (:func:`fanlib.data.vocabulary.check_vocabulary`; reads no data);
* the overview's ``targets_path`` must be a targets file the overview can read
  (:func:`fanlib.executive.targets.load_targets`).

A source that cannot be opened is not judged here: the report says why (the contract check).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fanlib.reports.params import suggest

if TYPE_CHECKING:
    from fanlib.data.tables import FanData


def ab_pre_period() -> tuple[str, ...]:
    """The A/B report's pre-period metrics, which a covariate may name without a column."""
    from fanlib.ab.metrics import METRICS

    return tuple(dict.fromkeys(c for m in METRICS.values() for c in m.covariates))


def ab_segments() -> tuple[str, ...]:
    """The segments the A/B report builds itself (activity tier, tenure, …)."""
    from fanlib.ab.metrics import SEGMENTS

    return tuple(SEGMENTS)


@dataclass(frozen=True)
class Columns:
    """A parameter whose values name fan-level columns of the data.

    ``numeric``: each must hold numbers (covariates); ``levels``: each must have two levels or more among
    the fans (segments; ``bins`` names the report's parameter of quantile bins). ``builtin`` gives the names
    the report computes itself, which need no column.
    """

    what: str
    numeric: bool = False
    levels: bool = False
    builtin: Callable[[], Iterable[str]] | None = None
    bins: str = "segment_bins"  # the report's parameter of quantile bins for numeric columns

    def builtins(self) -> list[str]:
        return list(self.builtin()) if self.builtin else []

    def describe(self) -> str:
        """The rule as ``fanlib params`` lists it."""
        column = f"a {'numeric ' if self.numeric else ''}fan column{' of 2+ values' if self.levels else ''}"
        builtin = self.builtins()
        return f"one of {', '.join(builtin)} or {column}" if builtin else column


#: parameter name -> the fan columns it names. A report that lets its users name columns adds its
#: parameter here; ``builtin`` lists the names that need no column.
COLUMN_PARAMS: dict[str, Columns] = {
    # 02 A/B campaign: CUPED covariates (pre-period metrics, or any numeric fan column) and segment effects
    "covariates": Columns("covariate", numeric=True, builtin=ab_pre_period),
    "segments": Columns("segment", levels=True, builtin=ab_segments),
    # 01 fan profiling: more portrait dimensions
    "portrait_columns": Columns("portrait dimension", levels=True, bins="portrait_bins"),
    # 03 retention: the team's own churn-model features
    "churn_attributes": Columns("churn feature"),
    "curve_segments": Columns("retention-curve segment", levels=True),
    "churn_segments": Columns("churn-breakdown segment", levels=True),
}


def _items(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [str(k) for k in value]
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return []


def named_columns(values: dict[str, Any]) -> dict[str, list[str]]:
    """Per column-naming parameter of one report, the names it gives that are not built in (empty when the
    report reads a unit table: then they name that table's columns, which the report checks)."""
    if values.get("unit_table"):
        return {}
    out = {}
    for name, rule in COLUMN_PARAMS.items():
        builtin = set(rule.builtins())
        own = [v for v in _items(values.get(name)) if v not in builtin]
        if own:
            out[name] = list(dict.fromkeys(own))
    return out


def column_problems(stem: str, values: dict[str, Any], fd: FanData) -> list[str]:
    """Each named fan column of one report that the data cannot give, one sentence each."""
    from fanlib.data.attributes import NUMERIC, check_segment, declared_columns
    from fanlib.data.errors import AttributeProblem

    declared = declared_columns(fd)
    numeric = sorted(c for c, k in declared.items() if k == NUMERIC)
    problems = []
    for name, columns in named_columns(values).items():
        rule = COLUMN_PARAMS[name]
        builtin = rule.builtins()
        for column in columns:
            where = f"{stem}: parameter {name!r}: {rule.what} {column!r}"
            if column not in declared:
                pool = numeric if rule.numeric else sorted(declared)
                known = f"the {'numeric ' if rule.numeric else ''}fan columns are {_listed(pool)}"
                also = f"; built in: {_listed(builtin)}" if builtin else ""
                problems.append(
                    f"{where} is not a column of fans or fan_attributes in {fd.describe_source()}; "
                    f"{known}{also}{suggest(column, [*pool, *builtin])}"
                )
            elif rule.numeric and declared[column] != NUMERIC:
                problems.append(
                    f"{where} does not hold numbers (a {rule.what} must be numeric); "
                    f"the numeric fan columns are {_listed(numeric)}"
                )
            elif rule.levels:
                try:
                    check_segment(fd, column, bins=int(values.get(rule.bins) or 4), as_of=values.get("as_of"))
                except AttributeProblem as exc:
                    problems.append(f"{where}: {exc}")
                except Exception:  # noqa: BLE001 - a column the engine cannot read: the report says why
                    continue
    return problems


def _listed(names: Iterable[str]) -> str:
    names = list(names)
    return ", ".join(names) if names else "none"


def vocabulary_problems(stem: str, values: dict[str, Any]) -> list[str]:
    """The mistakes of the ``mapping``'s vocabulary (its codes), without reading any data."""
    mapping = values.get("mapping")
    if not isinstance(mapping, dict):
        return []
    from fanlib.data.vocabulary import check_vocabulary

    return [f"{stem}: parameter 'mapping': {text}" for text in check_vocabulary(mapping)]


def targets_problems(stem: str, values: dict[str, Any]) -> list[str]:
    """Why the targets file ``targets_path`` names cannot be read (programme start, KPIs, milestones)."""
    path = values.get("targets_path")
    if not path:
        return []
    import yaml

    from fanlib.executive.errors import TargetsError
    from fanlib.executive.targets import load_targets

    where = f"{stem}: parameter 'targets_path'"
    try:
        load_targets(path)
    except FileNotFoundError:
        return [f"{where}: no targets file at {path}"]
    except TargetsError as exc:
        return [f"{where}: {exc}"]
    except yaml.YAMLError as exc:
        return [f"{where}: {path} is not YAML: {' '.join(str(exc).split())}"]
    except (OSError, KeyError, TypeError, AttributeError, ValueError) as exc:
        return [
            f"{where}: {path} is not laid out as a targets file (programme_start: a date; kpis: name -> "
            f"{{report, key, unit}}; milestones: a list of {{month, name, targets}}): {exc!r}"
        ]
    return []


def problems_in_data(values_by_stem: dict[str, dict[str, Any]], bad_sources: set[str]) -> list[str]:
    """Every selected report's targets file, vocabulary and named-column problems; each source is opened once."""
    from fanlib.data.fandata import connect

    problems: list[str] = []
    opened: dict[tuple, Any] = {}
    try:
        for stem, values in values_by_stem.items():
            problems += targets_problems(stem, values)
            vocabulary = vocabulary_problems(stem, values)
            problems += vocabulary
            source = values.get("source")
            if vocabulary or not named_columns(values) or not source or source in bad_sources:
                continue
            mapping, timezone = values.get("mapping"), values.get("timezone")
            key = (source, repr(mapping), timezone)
            if key not in opened:
                try:
                    opened[key] = connect(
                        source, mapping=mapping, validate=False, **({"timezone": timezone} if timezone else {})
                    )
                except Exception:  # noqa: BLE001 - an unreadable source is the report's to explain
                    opened[key] = None
            if opened[key] is not None:
                problems += column_problems(stem, values, opened[key])
    finally:
        for fd in opened.values():
            if fd is not None:
                fd.close()
    return problems
