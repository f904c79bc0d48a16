"""The bad-input catalogue: what a new user's wrong data, parameters and options do to the kit.

Every case is built from the small demo (its tables exported to CSV or Parquet and perturbed) and run
through the command line as a user runs it. Each asserts, as fits it: the exit code (0 ok, 1 a report
failed, 2 bad input or parameters); a message naming the table, column and check (or the parameter and
its bound) without a traceback or an exception name; the earlier good report byte-identical afterwards
(one clean ``fanlib run 00_data_overview`` per session into a shared ``--out`` with date 2026-01-02,
each case into the same ``--out`` with its own date); and, where the input must be handled, figures
equal to the clean run's (the overview's summary, and what the data door reads, in the engine).

validate: ``fanlib validate SOURCE`` exits 2 and lists the problem as ``table.column [check, N failing rows]``

| id | input | expected |
|---|---|---|
| decimal-comma | orders.amount_cny written ``195,74`` | 2: orders.amount_cny [number_format, every row], example 195,74 |
| integer-fraction-csv | fans.birth_year ``2001.7`` in 3 rows | 2: fans.birth_year [integer, 3 rows], example 2001.7 |
| integer-fraction-parquet | the same in a float Parquet column | 2: fans.birth_year [integer, 3 rows] |
| amount-infinite-csv | amount ``inf`` in 2 rows | 2: orders.amount_cny [finite, 2 rows] |
| amount-infinite-parquet | amount +inf in a Parquet column | 2: orders.amount_cny [finite, 2 rows] |
| amount-nan-text | amount ``NaN`` in 2 rows | 2: orders.amount_cny [finite, 2 rows] |
| amount-negative | amount -50 in 3 rows | 2: orders.amount_cny [min_value, 3 rows] |
| amount-text | amount ``about 12`` in 2 rows | 2: orders.amount_cny [parse, 2 rows] |
| duplicate-order-id | 2 orders given twice | 2: orders.order_id [primary_key, 4 rows] |
| duplicate-fan-id | 2 fans given twice | 2: fans.fan_id [primary_key, 4 rows] |
| orphan-fan-id | 3 orders of fan F9999999 | 2: orders.fan_id [foreign_key, 3 rows] |
| future-timestamp | 2 events in 2099 | 2: events.event_time [not_in_future, 2 rows] |
| unknown-channel | fans.channel ``tiktok`` in 4 rows | 2: fans.channel [allowed_values, 4 rows] |
| bad-gender | fans.gender ``F`` in 3 rows | 2: fans.gender [allowed_values, 3 rows] |
| bad-city-tier | fans.city_tier 9 in 2 rows | 2: fans.city_tier [allowed_values, 2 rows] |
| birth-year-too-early | fans.birth_year 1850 in 2 rows | 2: fans.birth_year [min_value, 2 rows] |
| unreadable-time | fans.join_time ``yesterday`` in 2 rows | 2: fans.join_time [parse, 2 rows] |
| missing-required-value | events.event_type blank in 2 rows | 2: events.event_type [not_null, 2 rows] |
| missing-column | orders without amount_cny | 2: orders.amount_cny [missing_column] |
| missing-table | no fans, orders or events file | 2: fans [missing_table] |
| empty-fans | fans.csv with a header only | 2: fans [not_empty] |
| mapping-unknown-target | mapping renames amount to amount_yuan | 2: orders.amount_yuan [mapping] |
| mapping-missing-source-column | mapping renames 用户ID, which the source lacks | 2: fans.fan_id [mapping] |

validate, other refusals

| id | input | expected |
|---|---|---|
| csv-broken-line | events.csv line 11 has 7 fields, the header 6 | 2: names events.csv, line 11 and DuckDB's cause (expected 6 columns, found 7) |
| validate-now-yesterday | ``validate --now yesterday`` | 2: names --now and the format YYYY-MM-DD |
| validate-source-missing | ``validate`` on a path that does not exist | 2: names the path |
| mapping-file-not-a-mapping | ``--mapping`` YAML holding a list | 2: names the mapping file |
| timezone-unknown-validate | ``validate --timezone Mars/Olympus`` | 2: names the zone |

handled: ``fanlib validate`` exits 0 and the data door reads the clean figures (rows, every timestamp's
sum and range, the amounts' sum); the ones marked * also run 00_data_overview, whose summary figures
(headline, tables with first/last times, fingerprint, problems, as_of) equal the clean run's

| id | input | expected |
|---|---|---|
| csv-clean | the clean CSV export | 0, same figures |
| parquet-naive | the clean Parquet export | 0, same figures |
| csv-tz-z * | every timestamp as UTC ``…Z`` | 0, converted to Asia/Shanghai: same figures |
| csv-tz-utc * | every timestamp as ``…+00:00`` | 0, same figures |
| csv-tz-cst * | every timestamp as ``…+08:00`` | 0, same figures |
| csv-tz-mixed * | ``Z``, ``+00:00`` and ``+08:00`` mixed in each column | 0, same figures |
| parquet-timestamptz * | Parquet TIMESTAMPTZ columns (UTC) | 0, same figures |
| duckdb-timestamptz | a DuckDB file with TIMESTAMPTZ columns | 0, same figures |
| thousands-separator | amounts ``1,234.50`` | 0, same amounts |
| decimal-comma-declared * | amounts ``195,74`` with mapping ``decimal: ","`` | 0, same figures |
| csv-big-field | one comment text of 2.5 MB | 0, it loads: same figures |
| csv-gbk | comments.csv in GBK | 0, same figures |

``fanlib run`` refusals: exit 2 before any kernel starts (no dated folder), naming the parameter and its
bound, the path, or the date

| id | input | expected |
|---|---|---|
| source-missing-one | ``run 02_ab_campaign --source <missing>`` | 2: the path named |
| source-missing-all | ``run all --source <missing folder>`` | 2: the path named |
| alpha-5 | ``-p alpha=5`` | 2: alpha, 0 < alpha < 1 |
| alpha-0 | ``-p alpha=0`` | 2: alpha, 0 < alpha < 1 |
| srm-alpha-1.5 | ``-p srm_alpha=1.5`` | 2: srm_alpha, 0 < srm_alpha < 1 |
| rfm-window-negative | ``-p rfm_window_days=-30`` | 2: rfm_window_days > 0 |
| ab-window-zero | ``-p window_days=0`` | 2: window_days > 0 |
| churn-days-zero | ``-p churn_days=0`` | 2: churn_days > 0 |
| retention-days-negative | ``-p retention_days=[1, -7]`` | 2: retention_days, -7 |
| as-of-before-data | 03 ``-p as_of=2019-01-01`` | 2: as_of, the data's first and last day |
| as-of-after-data | 01 ``-p as_of=2030-06-30`` | 2: as_of, the data's first and last day |
| lang-fr | ``-p lang=fr`` | 2: lang, zh, en |
| correction-bonferroni | ``-p correction=bonferroni`` | 2: correction, holm, bh |
| freq-week | ``-p freq=week`` | 2: freq, day, hour |
| unknown-parameter | ``-p alhpa=0.1`` | 2: alhpa, did you mean alpha |
| wrong-parameter-type | ``-p rfm_window_days=ninety`` | 2: rfm_window_days, int |
| timezone-unknown | ``-p timezone=Mars/Olympus`` | 2: timezone, Mars/Olympus |
| date-feb-30 | ``--date 2026-02-30`` | 2: the day does not exist |
| date-month-13 | ``--date 2026-13-01`` | 2: there is no month 13 |
| params-file-bad-yaml | ``--params`` file that is not YAML | 2: the file, YAML |
| unknown-report | ``run 07_forecast`` | 2: 07_forecast |

reports on inputs that crashed or misled (each also leaves the good report byte-identical)

| id | input | expected |
|---|---|---|
| overview-missing-table | 00 without fans, orders and events | 1 (status failed): its page and summary list fans [missing_table] |
| overview-missing-column | 00 without orders.order_time | 1: orders.order_time [missing_column] listed |
| overview-bad-mapping | 00 with a mapping of 用户ID, absent | 1: fans.fan_id [mapping] listed |
| empty-optional-tables | 00 with comments.csv and assignments.csv header only | 0: both read as absent; the other figures as clean |
| empty-assignments-ab | 02 with assignments.csv header only | 0: a clear message, no error name |
| one-fan-per-arm | 02 with one fan in control, one in treatment | 0: a clear message, no ZeroDivisionError |
| data-ends-long-before | 00 with --date 2027-06-30 (data ends 2025-12-31) | 0: a warning naming the data's last day |
| activity-one-day | 00 with every event, order and comment on 2025-12-31 | 0: a warning naming that day |
| privacy-leaks | 04 with comments carrying ``139－4567－8901``, ``139.5678.9012``, ``110101 19900307 1237``, ``扣扣：3847561920``, ``QQ 2837465910``, ``薇：…``, ``guomin at 163 dot com`` | 0: none of them in the page, analyst page, notebook, summary or exports; no mask placeholder among the driver terms |
| overview-on-broken-contract | 05 on data with negative amounts | 1, or a status that carries the failure |
"""  # noqa: E501 - the catalogue's table rows are as wide as their cases

from __future__ import annotations

import json
import re
import unicodedata
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
from badinputs import (
    TIME_COLUMNS,
    GoodRun,
    Sources,
    all_times,
    assert_no_traceback,
    assert_says,
    big_field,
    broken_line,
    contract_problems,
    decimal_comma,
    door_digest,
    fanlib,
    figures,
    first_rows,
    gbk_csv,
    hash_tree,
    header_only,
    mapping_file,
    names_day,
    page_and_notebook,
    read_json,
    read_tables,
    report_files,
    set_values,
    thousands,
    timestamptz_parquet,
    visible_text,
    with_duplicates,
    without_column,
)

from fanlib.present.i18n import messages

GOOD_DATE = "2026-01-02"
OVERVIEW = "00_data_overview"
#: The interface the data door declares a decimal comma with: a ``decimal`` entry in the mapping.
DECIMAL_COMMA = {"decimal": ","}
#: The tests that write into the shared --out run in one xdist worker, after the one good run.
SHARED = pytest.mark.xdist_group("bad_inputs")


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def sources(tmp_path_factory, small_demo_path) -> Sources:
    return Sources(tmp_path_factory.mktemp("bad_inputs"), read_tables(small_demo_path))


@pytest.fixture(scope="session")
def clean_digest(small_demo_path) -> dict:
    return door_digest(small_demo_path)


@pytest.fixture(scope="session")
def good(tmp_path_factory, small_demo_path) -> GoodRun:
    """The clean run every later case must leave byte-identical."""
    out = tmp_path_factory.mktemp("bad_inputs_reports") / "reports"
    result = fanlib("run", OVERVIEW, "--source", small_demo_path, "--out", out, "--date", GOOD_DATE)
    assert result.code == 0, str(result)
    return GoodRun(out, GOOD_DATE, result, hash_tree(out / GOOD_DATE))


def _dates():
    day = date(2026, 1, 3)
    while True:
        yield day.isoformat()
        day += timedelta(days=1)


_NEXT_DATE = _dates()
#: Each report-running case's own --date into the shared --out, handed out as the cases run (they all run
#: in one worker: the xdist group).
CASE_DATES: dict[str, str] = {}


def case_date(case: str) -> str:
    if case not in CASE_DATES:
        CASE_DATES[case] = next(_NEXT_DATE)
    return CASE_DATES[case]


# --------------------------------------------------------------------------- validate: refused data

#: id -> (build(src) -> (source, extra validate args), where, check, failing rows, more text to find)
REFUSED = {
    "decimal-comma": (
        lambda s: (s.folder("decimal-comma", orders=decimal_comma(s)), []),
        "orders.amount_cny",
        "number_format",
        "all",
        ["195,74"],
    ),
    "integer-fraction-csv": (
        lambda s: (s.folder("integer-fraction-csv", fans=set_values(s, "fans", "birth_year", "2001.7", 3)), []),
        "fans.birth_year",
        "integer",
        3,
        ["2001.7"],
    ),
    "integer-fraction-parquet": (
        lambda s: (
            s.folder("integer-fraction-parquet", kind="parquet", fans=set_values(s, "fans", "birth_year", 2001.7, 3)),
            [],
        ),
        "fans.birth_year",
        "integer",
        3,
        ["2001.7"],
    ),
    "amount-infinite-csv": (
        lambda s: (s.folder("amount-infinite-csv", orders=set_values(s, "orders", "amount_cny", "inf", 2)), []),
        "orders.amount_cny",
        "finite",
        2,
        ["inf"],
    ),
    "amount-infinite-parquet": (
        lambda s: (
            s.folder(
                "amount-infinite-parquet", kind="parquet", orders=set_values(s, "orders", "amount_cny", float("inf"), 2)
            ),
            [],
        ),
        "orders.amount_cny",
        "finite",
        2,
        [],
    ),
    "amount-nan-text": (
        lambda s: (s.folder("amount-nan-text", orders=set_values(s, "orders", "amount_cny", "NaN", 2)), []),
        "orders.amount_cny",
        "finite",
        2,
        [],
    ),
    "amount-negative": (
        lambda s: (s.folder("amount-negative", orders=set_values(s, "orders", "amount_cny", -50.0, 3)), []),
        "orders.amount_cny",
        "min_value",
        3,
        [">= 0", "-50"],
    ),
    "amount-text": (
        lambda s: (s.folder("amount-text", orders=set_values(s, "orders", "amount_cny", "about 12", 2)), []),
        "orders.amount_cny",
        "parse",
        2,
        ["about 12"],
    ),
    "duplicate-order-id": (
        lambda s: (s.folder("duplicate-order-id", orders=with_duplicates(s, "orders", "order_id", 2)), []),
        "orders.order_id",
        "primary_key",
        4,
        [],
    ),
    "duplicate-fan-id": (
        lambda s: (s.folder("duplicate-fan-id", fans=with_duplicates(s, "fans", "fan_id", 2)), []),
        "fans.fan_id",
        "primary_key",
        4,
        [],
    ),
    "orphan-fan-id": (
        lambda s: (s.folder("orphan-fan-id", orders=set_values(s, "orders", "fan_id", "F9999999", 3)), []),
        "orders.fan_id",
        "foreign_key",
        3,
        ["F9999999"],
    ),
    "future-timestamp": (
        lambda s: (
            s.folder(
                "future-timestamp", events=set_values(s, "events", "event_time", pd.Timestamp("2099-01-01 09:00:00"), 2)
            ),
            [],
        ),
        "events.event_time",
        "not_in_future",
        2,
        ["2099-01-01"],
    ),
    "unknown-channel": (
        lambda s: (s.folder("unknown-channel", fans=set_values(s, "fans", "channel", "tiktok", 4)), []),
        "fans.channel",
        "allowed_values",
        4,
        ["tiktok"],
    ),
    "bad-gender": (
        lambda s: (s.folder("bad-gender", fans=set_values(s, "fans", "gender", "F", 3)), []),
        "fans.gender",
        "allowed_values",
        3,
        ["female, male, unknown"],
    ),
    "bad-city-tier": (
        lambda s: (s.folder("bad-city-tier", fans=set_values(s, "fans", "city_tier", 9, 2)), []),
        "fans.city_tier",
        "allowed_values",
        2,
        [],
    ),
    "birth-year-too-early": (
        lambda s: (s.folder("birth-year-too-early", fans=set_values(s, "fans", "birth_year", 1850, 2)), []),
        "fans.birth_year",
        "min_value",
        2,
        [">= 1900"],
    ),
    "unreadable-time": (
        lambda s: (s.folder("unreadable-time", fans=set_values(s, "fans", "join_time", "yesterday", 2)), []),
        "fans.join_time",
        "parse",
        2,
        ["yesterday"],
    ),
    "missing-required-value": (
        lambda s: (s.folder("missing-required-value", events=set_values(s, "events", "event_type", "", 2)), []),
        "events.event_type",
        "not_null",
        2,
        [],
    ),
    "missing-column": (
        lambda s: (s.folder("missing-column", orders=without_column(s, "orders", "amount_cny")), []),
        "orders.amount_cny",
        "missing_column",
        None,
        [],
    ),
    "missing-table": (
        lambda s: (s.folder("missing-table", fans=None, orders=None, events=None), []),
        "fans",
        "missing_table",
        None,
        [],
    ),
    "empty-fans": (
        lambda s: (s.folder("empty-fans", fans=header_only(s.frame("fans"))), []),
        "fans",
        "not_empty",
        None,
        [],
    ),
    "mapping-unknown-target": (
        lambda s: (
            s.folder("mapping-unknown-target", orders=s.frame("orders").rename(columns={"amount_cny": "amount"})),
            ["--mapping", mapping_file(s, "mapping-unknown-target", "orders: {amount: amount_yuan}\n")],
        ),
        "orders.amount_yuan",
        "mapping",
        None,
        ["amount_cny"],
    ),
    "mapping-missing-source-column": (
        lambda s: (
            s.clean_csv,
            ["--mapping", mapping_file(s, "mapping-missing-source-column", "fans: {用户ID: fan_id}\n")],
        ),
        "fans.fan_id",
        "mapping",
        None,
        ["用户ID"],
    ),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_validate_refuses(case, sources):
    build, where, check, rows, says = REFUSED[case]
    source, extra = build(sources)
    before = hash_tree(source) if Path(source).is_dir() else None
    result = fanlib("validate", source, *extra)
    assert result.code == 2, str(result)
    assert_no_traceback(result.out, "fanlib validate")
    found = [p for p in contract_problems(result.out) if p["where"] == where and p["check"] == check]
    assert found, f"no {where} [{check}] problem listed:\n{result}"
    if rows == "all":
        rows = len(sources.tables[where.split(".")[0]])
    assert found[0]["rows"] == rows, f"{where} [{check}]: {found[0]['rows']} failing rows, expected {rows}\n{result}"
    assert_says(result.out, *says, where="fanlib validate")
    if before is not None:
        assert hash_tree(source) == before, "the user's data was modified"


#: id -> (build(src) -> validate args, text or patterns the message must hold)
REFUSED_OTHER = {
    "csv-broken-line": (
        lambda s: [s.folder("csv-broken-line", events=broken_line(s))],
        [
            "events.csv",
            re.compile(r"line\D{0,3}11\b", re.I),
            re.compile(r"expected\D{0,25}\b6\b\D{0,25}(found|got)\D{0,3}7\b", re.I),
        ],
    ),
    "validate-now-yesterday": (lambda s: [s.clean_csv, "--now", "yesterday"], ["--now", "yesterday", "YYYY-MM-DD"]),
    "validate-source-missing": (lambda s: [s.root / "no-such-shop.duckdb"], ["no-such-shop.duckdb", "not found"]),
    "mapping-file-not-a-mapping": (
        lambda s: [s.clean_csv, "--mapping", mapping_file(s, "not-a-mapping", "- fans\n- orders\n")],
        ["not-a-mapping.mapping.yaml"],
    ),
    "timezone-unknown-validate": (
        lambda s: [s.clean_csv, "--timezone", "Mars/Olympus"],
        ["Mars/Olympus", re.compile(r"not an? (IANA )?time ?zone|unknown time ?zone", re.I)],
    ),
}


@pytest.mark.parametrize("case", list(REFUSED_OTHER))
def test_validate_refuses_unreadable_input(case, sources):
    build, says = REFUSED_OTHER[case]
    result = fanlib("validate", *build(sources))
    assert result.code == 2, str(result)
    assert_no_traceback(result.out, "fanlib validate")
    assert "unrecognized arguments" not in result.out, str(result)
    assert_says(result.out, *says, where="fanlib validate")


# --------------------------------------------------------------------------- handled data: same figures

#: id -> (build(src) -> (source, mapping or None), also run the overview and compare its summary)
HANDLED = {
    "csv-clean": (lambda s: (s.clean_csv, None), False),
    "parquet-naive": (lambda s: (s.clean_parquet, None), False),
    "csv-tz-z": (lambda s: (s.folder("csv-tz-z", **all_times(s, "Z")), None), True),
    "csv-tz-utc": (lambda s: (s.folder("csv-tz-utc", **all_times(s, "+00:00")), None), True),
    "csv-tz-cst": (lambda s: (s.folder("csv-tz-cst", **all_times(s, "+08:00")), None), True),
    "csv-tz-mixed": (lambda s: (s.folder("csv-tz-mixed", **all_times(s, "mixed")), None), True),
    "parquet-timestamptz": (
        lambda s: (s.folder("parquet-timestamptz", kind="parquet", **timestamptz_parquet(s)), None),
        True,
    ),
    "duckdb-timestamptz": (lambda s: (s.duckdb_file("duckdb-timestamptz", s.tables, timestamptz=True), None), False),
    "thousands-separator": (lambda s: (s.folder("thousands-separator", orders=thousands(s)), None), False),
    "decimal-comma-declared": (
        lambda s: (s.folder("decimal-comma-declared", orders=decimal_comma(s)), DECIMAL_COMMA),
        True,
    ),
    "csv-big-field": (lambda s: (s.folder("csv-big-field", comments=big_field(s)), None), False),
    "csv-gbk": (lambda s: (s.folder("csv-gbk", comments=gbk_csv(s)), None), False),
}


def _expected_digest(case: str, sources: Sources, clean: dict) -> dict:
    """The clean figures, adjusted for the amounts a case deliberately changed."""
    expected = json.loads(json.dumps(clean))
    orders = sources.frame("orders")
    changed = {"decimal-comma-declared": {0: 195.74}, "thousands-separator": {0: 1234.5, 1: 12345.67, 2: 1000000.0}}
    if case in changed:
        idx = first_rows(orders, "order_id", len(changed[case]))
        for i, value in changed[case].items():
            orders.loc[idx[i], "amount_cny"] = value
        expected["orders"]["amount_cents"] = int((orders["amount_cny"] * 100).round().sum())
    return expected


@pytest.mark.parametrize("case", [c for c, (_, report) in HANDLED.items() if not report])
def test_handled_input_reads_the_clean_figures(case, sources, clean_digest):
    build, _ = HANDLED[case]
    source, mapping = build(sources)
    extra = ["--mapping", mapping_file(sources, case, json.dumps(mapping))] if mapping else []
    result = fanlib("validate", source, *extra)
    assert result.code == 0, str(result)
    assert_no_traceback(result.out, "fanlib validate")
    assert door_digest(source, mapping) == _expected_digest(case, sources, clean_digest)


@SHARED
@pytest.mark.slow
@pytest.mark.parametrize("case", [c for c, (_, report) in HANDLED.items() if report])
def test_handled_input_gives_the_clean_report(case, sources, clean_digest, good):
    build, _ = HANDLED[case]
    source, mapping = build(sources)
    extra = ["--mapping", mapping_file(sources, case, json.dumps(mapping))] if mapping else []
    checked = fanlib("validate", source, *extra)
    assert checked.code == 0, str(checked)
    assert door_digest(source, mapping) == _expected_digest(case, sources, clean_digest)
    params = ["-p", f"mapping={json.dumps(mapping)}"] if mapping else []
    result = good.run(case_date(case), OVERVIEW, "--source", source, *params)
    assert result.code == 0, str(result)
    assert_no_traceback(result.out, "fanlib run")
    summary = read_json(good.out / case_date(case) / f"{OVERVIEW}.summary.json")
    assert figures(summary) == figures(good.summary())


@pytest.mark.parametrize("case", ["empty-comments", "empty-assignments"])
def test_empty_optional_table_is_read_as_absent(case, sources, clean_digest):
    table = case.split("-")[1]
    source = sources.folder(case, **{table: header_only(sources.frame(table))})
    result = fanlib("validate", source)
    assert result.code == 0, str(result)
    assert_no_traceback(result.out, "fanlib validate")
    assert re.search(rf"^\s*{table}\s+absent", result.out, re.M), str(result)
    expected = {k: v for k, v in clean_digest.items() if k != table}
    assert door_digest(source) == expected


# --------------------------------------------------------------------------- fanlib run: refused before any kernel


#: id -> (fanlib run args after the report names' source, text or patterns the message must hold)
def _between(name: str) -> re.Pattern:
    return re.compile(rf"0 < {name} < 1|{name}\D{{0,30}}\(0, ?1\)|{name}\D{{0,40}}between 0 and 1", re.I)


def _positive(name: str) -> re.Pattern:
    return re.compile(rf"{name} > 0|{name}\D{{0,40}}(positive|greater than 0|at least 1)", re.I)


REFUSED_RUNS = {
    "alpha-5": (["02_ab_campaign", "-p", "alpha=5"], ["alpha", "5", _between("alpha")]),
    "alpha-0": (["02_ab_campaign", "-p", "alpha=0"], ["alpha", _between("alpha")]),
    "srm-alpha-1.5": (["02_ab_campaign", "-p", "srm_alpha=1.5"], ["srm_alpha", "1.5", _between("srm_alpha")]),
    "rfm-window-negative": (
        ["01_fan_profiling", "-p", "rfm_window_days=-30"],
        ["rfm_window_days", "-30", _positive("rfm_window_days")],
    ),
    "ab-window-zero": (["02_ab_campaign", "-p", "window_days=0"], ["window_days", _positive("window_days")]),
    "churn-days-zero": (["03_retention", "-p", "churn_days=0"], ["churn_days", _positive("churn_days")]),
    "retention-days-negative": (["03_retention", "-p", "retention_days=[1, -7]"], ["retention_days", "-7"]),
    "as-of-before-data": (
        ["03_retention", "-p", "as_of=2019-01-01"],
        ["as_of", "2019-01-01", "2024-07-01", "2025-12-31"],
    ),
    "as-of-after-data": (["01_fan_profiling", "-p", "as_of=2030-06-30"], ["as_of", "2030-06-30", "2025-12-31"]),
    "lang-fr": ([OVERVIEW, "-p", "lang=fr"], ["lang", "fr", "zh", "en"]),
    "correction-bonferroni": (
        ["02_ab_campaign", "-p", "correction=bonferroni"],
        ["correction", "bonferroni", "holm", "bh"],
    ),
    "freq-week": (["04_sentiment", "-p", "freq=week"], ["freq", "week", "day", "hour"]),
    "unknown-parameter": (["02_ab_campaign", "-p", "alhpa=0.1"], ["alhpa", "did you mean 'alpha'"]),
    "wrong-parameter-type": (
        ["01_fan_profiling", "-p", "rfm_window_days=ninety"],
        ["rfm_window_days", "int", "ninety"],
    ),
    "timezone-unknown": (
        [OVERVIEW, "-p", "timezone=Mars/Olympus"],
        ["timezone", "Mars/Olympus", re.compile(r"not an? (IANA )?time ?zone|unknown time ?zone", re.I)],
    ),
    "unknown-report": (["07_forecast"], ["07_forecast"]),
}


def _assert_refused_at_once(result, good: GoodRun, day: str) -> None:
    assert result.code == 2, str(result)
    assert_no_traceback(result.out, "fanlib run")
    assert not (good.out / day).exists(), "a dated folder was made: the run went ahead"
    assert "started" not in result.out, f"a report started:\n{result}"


@SHARED
@pytest.mark.parametrize("case", list(REFUSED_RUNS))
def test_run_refuses_parameter(case, good, small_demo_path):
    args, says = REFUSED_RUNS[case]
    day = case_date(case)
    result = good.run(day, *args, "--source", small_demo_path)
    _assert_refused_at_once(result, good, day)
    if case != "unknown-parameter":  # the parameter exists: its value is what is wrong
        assert "unknown parameter" not in result.out, str(result)
    assert_says(result.out, *says, where="fanlib run")


@SHARED
@pytest.mark.parametrize("case", ["source-missing-one", "source-missing-all"])
def test_run_refuses_missing_source(case, good, tmp_path):
    missing = tmp_path / ("shop.duckdb" if case.endswith("one") else "exports")
    names = ["02_ab_campaign"] if case.endswith("one") else ["all"]
    day = case_date(case)
    result = good.run(day, *names, "--source", missing)
    _assert_refused_at_once(result, good, day)
    assert_says(result.out, str(missing), where="fanlib run")


@SHARED
@pytest.mark.parametrize(
    "case, bad_date, says",
    [
        ("date-feb-30", "2026-02-30", ["2026-02-30", re.compile(r"does not exist|no such day|only 28 days", re.I)]),
        (
            "date-month-13",
            "2026-13-01",
            ["2026-13-01", re.compile(r"no month 13|month 13 does not exist|month must be", re.I)],
        ),
    ],
)
def test_run_refuses_impossible_date(case, bad_date, says, good, small_demo_path):
    result = good.run(bad_date, OVERVIEW, "--source", small_demo_path)
    _assert_refused_at_once(result, good, bad_date)
    assert_says(result.out, *says, where="fanlib run")


@SHARED
def test_run_refuses_params_file_that_is_not_yaml(good, tmp_path, small_demo_path):
    params = tmp_path / "weekly.yaml"
    params.write_text("common: [source: data/x.duckdb\n  lang: zh\n", encoding="utf-8")
    day = case_date("params-file-bad-yaml")
    result = good.run(day, OVERVIEW, "--params", params, "--source", small_demo_path)
    _assert_refused_at_once(result, good, day)
    assert_says(result.out, "weekly.yaml", "YAML", where="fanlib run")


# --------------------------------------------------------------------------- reports on structural problems


def _overview_problems(good: GoodRun, case: str, source, *params, fails: bool = False) -> tuple[dict, str]:
    """00_data_overview on ``source``; its summary and page. It is the report that shows the checks, so it
    renders on data that fails them; its status then says the data is not usable (``fails``): exit 1, and
    its page and summary are filed as this run's failed report, next to nothing good they could replace."""
    day = case_date(case)
    result = good.run(day, OVERVIEW, "--source", source, *params)
    assert result.code == (1 if fails else 0), str(result)
    assert_no_traceback(result.out, "fanlib run")
    folder = good.out / day
    stem = f"{OVERVIEW}.failed" if fails else OVERVIEW
    page = visible_text((folder / f"{stem}.html").read_text(encoding="utf-8"))
    assert_no_traceback(page, f"{stem}.html")
    summary = read_json(folder / f"{stem}.summary.json")
    assert summary["status"] == ("failed" if fails else "ok"), summary["status"]
    return summary, page


@SHARED
@pytest.mark.slow
@pytest.mark.parametrize(
    "case, table, column, check",
    [
        ("overview-missing-table", "fans", None, "missing_table"),
        ("overview-missing-column", "orders", "order_time", "missing_column"),
        ("overview-bad-mapping", "fans", "fan_id", "mapping"),
    ],
)
def test_overview_shows_structural_problems(case, table, column, check, good, sources):
    params = []
    if case == "overview-missing-table":
        source = sources.folder(case, fans=None, orders=None, events=None)
    elif case == "overview-missing-column":
        source = sources.folder(case, orders=without_column(sources, "orders", "order_time"))
    else:
        source, params = sources.clean_csv, ["-p", 'mapping={"fans": {"用户ID": "fan_id"}}']
    summary, page = _overview_problems(good, case, source, *params, fails=True)
    listed = [p for p in summary["problems"] if (p["table"], p["column"], p["check"]) == (table, column, check)]
    assert listed, f"{table}.{column} [{check}] not in the summary's problems: {summary['problems']}"
    problems = next(h for h in summary["headline"] if h["key"] == "contract_problems")
    assert problems["value"] >= 1 and problems["good"] is False
    shown_check = messages("data_overview", "zh").label(f"check_{check}")  # the page speaks the report's language
    assert_says(page, shown_check, table, *([column] if column else []), where=f"{OVERVIEW}.html")


@SHARED
@pytest.mark.slow
def test_overview_reads_empty_optional_tables_as_absent(good, sources):
    case = "empty-optional-tables"
    source = sources.folder(
        case, comments=header_only(sources.frame("comments")), assignments=header_only(sources.frame("assignments"))
    )
    summary, _ = _overview_problems(good, case, source)
    clean = good.summary()
    # the timing warnings count tables: one fewer table with comments is one fewer "stale" warning
    assert summary["problems"] == []
    assert [h for h in summary["headline"] if h["key"] != "data_warnings"] == [
        h for h in clean["headline"] if h["key"] != "data_warnings"
    ]
    tables = {t["table"]: t for t in summary["tables"]}
    for name in ("comments", "assignments"):
        assert tables[name]["rows"] == 0 and not tables[name]["present"], tables[name]
    clean_tables = {t["table"]: t for t in clean["tables"]}
    for name in ("fans", "events", "orders"):
        assert tables[name] == clean_tables[name]


# --------------------------------------------------------------------------- reports on inputs that crashed or misled


@SHARED
@pytest.mark.slow
@pytest.mark.parametrize("case", ["one-fan-per-arm", "empty-assignments-ab"])
def test_ab_report_speaks_on_tiny_or_empty_experiment(case, good, sources):
    assignments = sources.frame("assignments")
    if case == "one-fan-per-arm":
        exp = assignments[assignments.experiment_id == "exp_coupon"]
        one_each = pd.concat([exp[exp.variant == "control"].head(1), exp[exp.variant == "treatment"].head(1)])
        source = sources.folder(case, assignments=one_each)
    else:
        source = sources.folder(case, assignments=header_only(assignments))
    day = case_date(case)
    result = good.run(day, "02_ab_campaign", "--source", source)
    assert result.code == 0, str(result)
    assert_no_traceback(result.out, "fanlib run")
    folder = good.out / day
    shown = page_and_notebook(folder, "02_ab_campaign")
    assert_no_traceback(shown, "02_ab_campaign page and notebook")
    assert "fanlib-warning" in (folder / "02_ab_campaign.html").read_text(encoding="utf-8"), (
        "the page does not say why the readout is limited"
    )
    raw = (folder / "02_ab_campaign.summary.json").read_text(encoding="utf-8")
    assert not re.search(r"\bNaN\b|\bInfinity\b", raw), "the summary holds NaN or Infinity, not figures or null"
    assert json.loads(raw)["report"] == "02_ab_campaign"


@SHARED
@pytest.mark.slow
@pytest.mark.parametrize("case", ["data-ends-long-before", "activity-one-day"])
def test_overview_warns_on_suspicious_time_span(case, good, sources, small_demo_path):
    last_day = date(2025, 12, 31)
    if case == "data-ends-long-before":
        source, day = small_demo_path, "2027-06-30"
        CASE_DATES[case] = day
    else:
        moved = {}
        for name in ("events", "orders", "comments"):
            df = sources.frame(name)
            col = TIME_COLUMNS[name][0]
            df[col] = pd.Timestamp(last_day) + (df[col] - df[col].dt.normalize())
            moved[name] = df
        source, day = sources.folder(case, **moved), case_date(case)
    result = good.run(day, OVERVIEW, "--source", source)
    assert result.code == 0, str(result)
    assert_no_traceback(result.out, "fanlib run")
    page = visible_text((good.out / day / f"{OVERVIEW}.html").read_text(encoding="utf-8"))
    assert "fanlib-warning" in (good.out / day / f"{OVERVIEW}.html").read_text(encoding="utf-8")
    check = {"data-ends-long-before": "stale", "activity-one-day": "single_day"}[case]
    T = messages("data_overview", "zh")
    assert T.label(f"check_{check}") in page, f"no {check} warning on the page:\n{page[-3000:]}"
    assert names_day([page], last_day), f"no warning naming {last_day}"
    summary = read_json(good.out / day / f"{OVERVIEW}.summary.json")
    assert next(h for h in summary["headline"] if h["key"] == "data_warnings")["value"] >= 1
    if check == "single_day":  # the clean demo spans a year and a half: no such warning
        assert T.label("check_single_day") not in visible_text(good.page()), "the clean run warns too"


#: Personal details the masking missed (issue 12), each with what must never be shown of it.
LEAKS = {
    "联系我 139－4567－8901": "13945678901",
    "电话 139.5678.9012": "13956789012",
    "身份证 110101 19900307 1237": "110101199003071237",
    "扣扣：3847561920": "3847561920",
    "QQ 2837465910": "2837465910",
    "薇：xiaomei_0828": "xiaomei_0828",
    "邮箱 guomin at 163 dot com": "guomin at 163 dot com",
}


def _leak_pattern(secret: str) -> re.Pattern:
    if secret.isdigit():  # the digits with any separators between them
        return re.compile(r"[\s\-.．－_]{0,3}".join(secret))
    return re.compile(re.escape(secret), re.I)


@SHARED
@pytest.mark.slow
def test_sentiment_report_masks_every_personal_detail(good, sources):
    comments = sources.frame("comments")
    leaks = list(LEAKS)
    comments["text"] = [f"{t} {leaks[i % len(leaks)]}" for i, t in enumerate(comments["text"].fillna(""))]
    source = sources.folder("privacy-leaks", comments=comments)
    day = case_date("privacy-leaks")
    result = good.run(day, "04_sentiment", "--source", source)
    assert result.code == 0, str(result)
    files = report_files(good.out / day, "04_sentiment")
    assert {"04_sentiment.html", "04_sentiment.ipynb", "04_sentiment.summary.json"} <= set(files), list(files)
    for name, text in files.items():
        if name.endswith((".json", ".ipynb")):
            text = json.dumps(json.loads(text), ensure_ascii=False)
        text = unicodedata.normalize("NFKC", visible_text(text) if name.endswith(".html") else text)
        for leak, secret in LEAKS.items():
            m = _leak_pattern(secret).search(text)
            assert m is None, f"{name} shows {leak!r} unmasked: …{text[max(0, m.start() - 80) : m.end() + 80]}…"
    summary = read_json(good.out / day / "04_sentiment.summary.json")
    terms = summary.get("top_negative_drivers", []) + summary.get("emerging_terms", [])
    assert not [t for t in terms if "已隐藏" in t], f"mask placeholders as driver terms: {terms}"


@SHARED
@pytest.mark.slow
def test_overview_does_not_pass_data_that_fails_the_contract(good, sources):
    case = "overview-on-broken-contract"
    source = sources.folder(case, orders=set_values(sources, "orders", "amount_cny", -50.0, 3))
    day = case_date(case)
    result = good.run(day, "05_overview", "--source", source)
    assert_no_traceback(result.out, "fanlib run")
    folder = good.out / day
    if result.code == 0:
        summary = read_json(folder / "05_overview.summary.json")
        assert summary["status"] != "ok", "the overview presents data that fails the contract as ok"
    else:
        assert result.code == 1, str(result)
        manifest = read_json(folder / "05_overview.failed.manifest.json")
        assert_says(json.dumps(manifest["error"], ensure_ascii=False), "amount_cny", where="the failure")
