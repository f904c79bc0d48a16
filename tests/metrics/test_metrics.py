"""The KPI catalogue (fanlib.metrics): every figure the reports write has one entry, and no label means two things.

The static tests read the code that writes the summaries and the targets file; the end-to-end tests read
the summaries of the small-demo suite run.
"""

from __future__ import annotations

import ast
import json
import re
import string
import unicodedata
from pathlib import Path

import pytest

from fanlib import metrics
from fanlib.present.i18n import LANGS
from fanlib.present.notebook import UNITS

ROOT = Path(__file__).resolve().parents[2]
REPORTS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
#: Package modules that write headline figures for a report.
SUMMARY_MODULES = {
    "fanlib/profiling/summary.py": "01_fan_profiling",
    "fanlib/ab/summary.py": "02_ab_campaign",
    "fanlib/retention/summary.py": "03_retention",
    "fanlib/data_overview/summary.py": "00_data_overview",
    "fanlib/executive/summary.py": "05_overview",
    "fanlib/sentiment/summary.py": "04_sentiment",
}
#: Top-level summary keys that are KPI-like figures (the rest are sections, settings and notes).
TOP_LEVEL_FIGURES = ("verdict", "srm_p_value", "segment_count", "top_tier_gmv_share")


def normalised(label: str) -> str:
    """A label as a reader compares labels: case, spaces, punctuation and a trailing 率/rate do not count
    ("7 日留存率" and "7日留存" read as the same figure)."""
    text = unicodedata.normalize("NFKC", label).casefold()
    text = "".join(c for c in text if not c.isspace() and unicodedata.category(c)[0] != "P")
    return re.sub(r"(率|rate)$", "", text)


def name_pattern(key: str, lang: str) -> re.Pattern:
    """The catalogue name of ``key`` as a pattern: its format fields ({days}, {metric}) match any text."""
    text = _raw_name(key, lang)
    parts = [
        re.escape(lit) + ("(.+?)" if field is not None else "") for lit, field, _, _ in string.Formatter().parse(text)
    ]
    return re.compile("^" + "".join(parts) + "$")


def _raw_name(key: str, lang: str) -> str:
    from fanlib.present.i18n import catalogue

    domain, message = metrics.get(key).name.split(":", 1)
    texts = {**catalogue("common"), **catalogue(domain)}
    return texts[message][lang]


# --------------------------------------------------------------------------- the catalogue itself


@pytest.mark.parametrize("key", list(metrics.CATALOGUE))
def test_every_entry_is_complete(key):
    m = metrics.get(key)
    assert m.unit in UNITS and m.higher_is_better in (True, False, None)
    for lang in LANGS:
        assert _raw_name(key, lang).strip() and metrics.definition(key, lang).strip()
    assert callable(metrics.computation(key)), m.computed_by
    assert m.sources, key
    for source in m.sources:
        report, _, path = source.partition(":")
        assert report in REPORTS and path, source
    if m.benchmark is not None or m.target is not None:
        assert m.benchmark_source, f"{key}: say where the benchmark or target comes from"


@pytest.mark.parametrize("lang", LANGS)
def test_no_two_kpis_share_a_name(lang):
    seen: dict[str, str] = {}
    for key in metrics.CATALOGUE:
        label = normalised(_raw_name(key, lang))
        assert label not in seen, f"{seen.get(label)!r} and {key!r} are both labelled {_raw_name(key, lang)!r}"
        seen[label] = key


def test_a_source_belongs_to_one_kpi():
    owners: dict[str, str] = {}
    for m in metrics.CATALOGUE.values():
        for source in m.sources:
            assert source not in owners, f"{source} is listed by {owners.get(source)!r} and {m.key!r}"
            owners[source] = m.key


def test_unknown_figures_and_keys_are_told_apart():
    assert metrics.lookup("03_retention", "headline.no_such_kpi") is None
    with pytest.raises(KeyError, match="no KPI 'no_such_kpi'"):
        metrics.get("no_such_kpi")


# --------------------------------------------------------------------------- what the code writes


def _headline_calls(source: str) -> list[tuple[str, ast.AST]]:
    """(key or f-string pattern, call node) of every ``x.headline(<key>, …)`` with a literal key."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "headline"
            and node.args
        ):
            found.append((node.args[0], node))
    return found


def _loop_values(tree: ast.AST, var: str) -> list:
    """The literal values a ``for var in (…)`` loop of ``tree`` runs over."""
    for node in ast.walk(tree):
        if isinstance(node, ast.For) and isinstance(node.target, ast.Name) and node.target.id == var:
            try:
                return list(ast.literal_eval(node.iter))
            except ValueError:
                continue
    raise AssertionError(f"cannot tell which values {var!r} takes")


def _written_keys(source: str, names: dict) -> set[str]:
    """The headline keys a piece of code writes; ``names``: module-level tuples it loops over."""
    tree = ast.parse(source)
    keys = set()
    for arg, _ in _headline_calls(source):
        if isinstance(arg, ast.Constant):
            keys.add(arg.value)
        elif isinstance(arg, ast.JoinedStr):  # f"retention_d{d}" inside `for d in (7, 30)`
            var = next(v.value.id for v in arg.values if isinstance(v, ast.FormattedValue))
            template = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in arg.values)
            keys |= {template.format(value) for value in _loop_values(tree, var)}
        elif isinstance(arg, ast.Name):  # s.headline(key, …) inside `for key in HEADLINE_KPIS`
            loop = next(n for n in ast.walk(tree) if isinstance(n, ast.For) and getattr(n.target, "id", None) == arg.id)
            keys |= set(names[loop.iter.id])
        else:
            raise AssertionError(f"a headline key this test cannot read: {ast.unparse(arg)}")
    return keys


def _notebook_code(report: str) -> str:
    nb = json.loads((ROOT / "notebooks" / f"{report}.ipynb").read_text(encoding="utf-8"))
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")


def statically_written() -> set[tuple[str, str]]:
    """(report, summary path) of every headline figure and scorecard row the code writes."""
    from fanlib.profiling import summary as profiling_summary
    from fanlib.profiling.queries import BENCHMARKS

    out = set()
    for report in REPORTS:
        code = _notebook_code(report)
        out |= {(report, f"headline.{k}") for k in _written_keys(code, {})}
    for path, report in SUMMARY_MODULES.items():
        code = (ROOT / path).read_text(encoding="utf-8")
        out |= {(report, f"headline.{k}") for k in _written_keys(code, vars(profiling_summary))}
    out |= {("01_fan_profiling", f"{part}.{k}") for k in BENCHMARKS for part in ("kpis", "benchmarks")}
    return out


def test_the_static_reading_finds_every_report_s_figures():
    written = statically_written()
    assert {r for r, _ in written} == set(REPORTS)
    assert {
        ("03_retention", "headline.retention_d7"),
        ("03_retention", "headline.retention_d30"),
        ("01_fan_profiling", "headline.retention_7d"),
        ("01_fan_profiling", "headline.members"),
        ("05_overview", "headline.kpi_warnings"),
    } <= written


def test_every_figure_the_code_writes_has_an_entry():
    missing = sorted(f"{r}:{p}" for r, p in statically_written() if metrics.lookup(r, p) is None)
    assert not missing, f"figures without a KPI catalogue entry (fanlib/metrics/catalogue.py): {missing}"


def test_a_target_written_into_a_headline_is_the_catalogue_s():
    for report in REPORTS:
        code = _notebook_code(report)
        for arg, call in _headline_calls(code):
            target = next((k.value for k in call.keywords if k.arg == "target"), None)
            if isinstance(arg, ast.Constant) and isinstance(target, ast.Constant):
                assert target.value == metrics.lookup(report, f"headline.{arg.value}").target, (report, arg.value)


def test_every_kpi_of_the_overview_s_early_warnings_has_an_entry():
    from fanlib import executive as early_warning

    missing = [k for k in early_warning.KPIS if metrics.lookup("05_overview", f"warnings.{k}") is None]
    assert not missing


def test_every_targets_file_kpi_has_an_entry_with_its_name_and_unit():
    from fanlib.executive import load_targets

    targets = load_targets(ROOT / "params" / "targets.yaml")
    for kpi in targets.kpis.values():
        m = metrics.lookup(kpi.report, f"headline.{kpi.key}") or metrics.lookup(kpi.report, f"kpis.{kpi.key}")
        assert m is not None, f"params/targets.yaml: {kpi.name} ({kpi.report}:{kpi.key}) has no catalogue entry"
        assert kpi.unit == m.unit, kpi.name
        for lang in LANGS:  # the overview's board shows the name the report uses
            assert kpi.label(lang) == metrics.name(m.key, lang), (kpi.name, lang)


def test_benchmarks_and_targets_have_one_home():
    from fanlib.profiling.layers import LAYER_TARGETS
    from fanlib.profiling.narrative import PLANNED_HIGH_VALUE_GMV_SHARE
    from fanlib.profiling.queries import BENCHMARKS
    from fanlib.retention.cohorts import BENCHMARKS as RETENTION_BENCHMARKS

    for key, (unit, today, target, hib) in BENCHMARKS.items():
        m = metrics.get(key)
        assert (unit, today, target, hib) == (m.unit, m.benchmark, m.target, m.higher_is_better)
    by_day = RETENTION_BENCHMARKS.set_index("day")
    assert by_day.loc[7, "current_industry"] == metrics.get("retention_d7").benchmark == 0.312
    assert by_day.loc[7, "healthy"] == metrics.get("retention_d7").target == 0.50
    assert by_day.loc[30, "current_industry"] == metrics.get("retention_d30").benchmark == 0.187
    assert LAYER_TARGETS["core"] == metrics.get("core_layer_share").target
    assert PLANNED_HIGH_VALUE_GMV_SHARE == metrics.get("high_value_gmv_share").target


def test_the_two_7_day_retentions_are_two_computations_with_two_names(tmp_path):
    """The profiling report counts activity in days 7–13 after joining; the retention report (and the
    overview) activity on day 7 itself. On the same data they differ, so they are named apart."""
    from profiling_tinydata import AS_OF, connect_tiny

    from fanlib.profiling import queries as K
    from fanlib.profiling.window import window
    from fanlib.retention.cohorts import day_n_retention

    fd = connect_tiny(tmp_path / "tiny.duckdb")
    in_days_7_to_13 = K.retention_kpis(fd, window(AS_OF, 7), days=(7,)).iloc[0]["retention_7d"]
    on_day_7 = day_n_retention(fd, (7,), as_of=AS_OF, basis="activity").set_index("day").loc[7, "rate_on"]
    assert in_days_7_to_13 != pytest.approx(on_day_7)
    a, b = metrics.get("retention_7d"), metrics.get("retention_d7")
    assert a.computed_by != b.computed_by
    for lang in LANGS:
        assert normalised(metrics.name(a.key, lang)) != normalised(metrics.name(b.key, lang))
        assert metrics.definition(a.key, lang) != metrics.definition(b.key, lang)
    assert metrics.name("retention_7d", "en") == "7-day retention (active in days 7–13)"
    assert metrics.name("retention_d7", "en") == "Day-7 retention (active on day 7)"


# --------------------------------------------------------------------------- the demo suite's summaries


def _figures(report: str, summary: dict):
    """(summary path, label or None) of every KPI-like figure in one summary."""
    for h in summary.get("headline", []):
        yield f"headline.{h['key']}", h.get("label")
    for row in summary.get("kpis", []) if isinstance(summary.get("kpis"), list) else []:
        yield f"kpis.{row['kpi']}", row.get("label")
    for key in summary.get("benchmarks", {}) or {}:
        yield f"benchmarks.{key}", None
    for day, figures in (summary.get("retention") or {}).items():
        for definition in figures:
            if definition in ("on", "on_or_after"):
                yield f"retention.{day}.{definition}", None
    for key in TOP_LEVEL_FIGURES:
        if key in summary:
            yield key, None
    for w in summary.get("warnings", []) or []:
        if "kpi" in w:  # the overview's KPI early warnings (the data overview's warnings are about time spans)
            yield f"warnings.{w['kpi']}", None


@pytest.fixture(scope="module")
def demo_summaries(suite_run) -> dict[str, dict]:
    folder, proc = suite_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = {
        p.name[: -len(".summary.json")]: json.loads(p.read_text(encoding="utf-8"))
        for p in folder.glob("*.summary.json")
        if ".failed." not in p.name
    }
    assert set(found) == set(REPORTS)
    return found


@pytest.mark.slow
def test_every_figure_in_the_demo_summaries_has_an_entry(demo_summaries):
    missing = sorted(
        f"{r}:{path}"
        for r, s in demo_summaries.items()
        for path, _ in _figures(r, s)
        if metrics.lookup(r, path) is None
    )
    assert not missing, f"figures without a KPI catalogue entry (fanlib/metrics/catalogue.py): {missing}"


@pytest.mark.slow
def test_no_label_in_the_demo_reports_means_two_kpis(demo_summaries):
    labels: dict[str, set[str]] = {}
    for report, summary in demo_summaries.items():
        lang = summary.get("lang") or "zh"
        for path, label in _figures(report, summary):
            m = metrics.lookup(report, path)
            if label is None or m is None:
                continue
            # every report labels a KPI with its catalogue name
            assert name_pattern(m.key, lang).match(label), (
                f"{report}:{path} is labelled {label!r}, the catalogue names it {_raw_name(m.key, lang)!r}"
            )
            labels.setdefault(normalised(label), set()).add(m.key)
    board = demo_summaries["05_overview"].get("board") or []
    from fanlib.executive import load_targets

    targets = load_targets(ROOT / "params" / "targets.yaml")
    for row in board:
        kpi = targets.kpis[row["kpi"]]
        m = metrics.lookup(kpi.report, f"headline.{kpi.key}")
        labels.setdefault(normalised(row["label"]), set()).add(m.key)
    shared = {label: keys for label, keys in labels.items() if len(keys) > 1}
    assert not shared, f"one label for different KPIs: {shared}"
    assert labels[normalised(metrics.name("retention_d7"))] == {"retention_d7"}
    assert labels[normalised(metrics.name("retention_7d"))] == {"retention_7d"}
