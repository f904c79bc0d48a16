"""A three-arm e-mail experiment exported one row per customer (the arm in ``segment``, "No E-Mail" the control):
read from a DuckDB file, a folder of CSV or Parquet files and an Excel sheet; several covariates per outcome,
segments on the table's own columns, guardrails and a daily view, checked against statsmodels and pandas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from helpers import frames_to_duckdb
from scipy import stats
from statsmodels.stats.proportion import proportions_ztest
from test_ab_analyse import _defaults

from fanlib import ab
from fanlib.ab import ABInputError
from fanlib.ab.readout import unit_readout
from fanlib.data.fandata import FanData, connect

ARMS = ["Mens E-Mail", "Womens E-Mail", "No E-Mail"]
CONTROL = "No E-Mail"
PLAN = dict.fromkeys(ARMS, 1.0)
OUTCOMES = ["visit", "conversion", "spend"]


def email_table(n: int = 9_000, seed: int = 11) -> pd.DataFrame:
    """Customers with recency, a pre-period spend ``history``, two purchase-history flags, zip code, newbie and
    channel; the arm; visits, conversions and spend with planted effects that depend on history and the flags."""
    rng = np.random.default_rng(seed)
    arm = rng.choice(ARMS, n)
    history = np.round(rng.gamma(1.5, 160.0, n), 2)
    mens, womens = rng.integers(0, 2, n), rng.integers(0, 2, n)
    recency = rng.integers(1, 13, n)
    base = -2.2 + 0.0015 * history - 0.05 * recency + 0.2 * womens
    effect = np.where(arm == "Mens E-Mail", 0.45 * (1 + mens), np.where(arm == "Womens E-Mail", 0.3, 0.0))
    visit = (rng.random(n) < 1 / (1 + np.exp(-(base + effect)))).astype(int)
    conversion = visit * (rng.random(n) < 0.12 + 0.0002 * history).astype(int)
    spend = np.round(conversion * rng.gamma(2.0, 60.0, n) + 0.01 * history * visit, 2)
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:06d}" for i in range(n)],
            "recency": recency,
            "history": history,
            "mens": mens,
            "womens": womens,
            "zip_code": rng.choice(["Urban", "Surburban", "Rural"], n),
            "newbie": rng.integers(0, 2, n),
            "channel": rng.choice(["Phone", "Web", "Multichannel"], n),
            "segment": arm,
            "visit": visit,
            "conversion": conversion,
            "spend": spend,
            "sent_at": pd.Timestamp("2025-04-01 09:00") + pd.to_timedelta(rng.integers(0, 14 * 24, n), "h"),
        }
    )


@pytest.fixture(scope="module")
def frame():
    return email_table()


@pytest.fixture(scope="module")
def duckdb_source(frame, tmp_path_factory):
    return frames_to_duckdb({"email_test": frame}, tmp_path_factory.mktemp("abunit") / "email.duckdb")


def _readout(fd, **kw):
    args = {
        "variant": "segment",
        "fan_id": "customer_id",
        "planned_split": PLAN,
        "outcomes": OUTCOMES,
        "control": CONTROL,
        **kw,
    }
    return unit_readout(fd, "email_test", **args)


def _pair(frame: pd.DataFrame, arm: str) -> pd.DataFrame:
    two = frame[frame["segment"].isin([arm, CONTROL])].copy()
    two["T"] = (two["segment"] == arm).astype(float)
    return two


def test_unadjusted_lifts_equal_the_z_and_welch_tests(duckdb_source, frame):
    ro, _ = _readout(connect(str(duckdb_source), validate=False), use_cuped=False)
    lifts = ro.lifts.set_index(["metric", "variant"])
    assert set(ro.lifts["variant"]) == {"Mens E-Mail", "Womens E-Mail"} and ro.control == CONTROL
    for arm in ("Mens E-Mail", "Womens E-Mail"):
        two = _pair(frame, arm)
        t, c = two[two["T"] == 1], two[two["T"] == 0]
        for rate in ("visit", "conversion"):
            row = lifts.loc[(rate, arm)]
            assert row["kind"] == "proportion" and row["test"] == "two-proportion z-test"
            _, p = proportions_ztest([t[rate].sum(), c[rate].sum()], [len(t), len(c)])
            assert row["absolute"] == pytest.approx(t[rate].mean() - c[rate].mean(), rel=1e-12)
            assert row["raw_p_value"] == pytest.approx(p, rel=1e-9)
        welch = stats.ttest_ind(t["spend"], c["spend"], equal_var=False)
        row = lifts.loc[("spend", arm)]
        assert row["test"] == "Welch t-test" and row["raw_p_value"] == pytest.approx(welch.pvalue, rel=1e-9)


def test_several_covariates_per_outcome_equal_statsmodels_ols(duckdb_source, frame):
    own = {"spend": ["history", "recency"], "visit": "mens"}
    ro, _ = _readout(connect(str(duckdb_source), validate=False), covariates=own, common_covariates=["history"])
    lifts = ro.lifts.set_index(["metric", "variant"])
    wanted = {"visit": ["history", "mens"], "conversion": ["history"], "spend": ["history", "recency"]}
    for arm in ("Mens E-Mail", "Womens E-Mail"):
        two = _pair(frame, arm)
        for outcome, covs in wanted.items():
            row = lifts.loc[(outcome, arm)]
            assert row["covariates"] == covs
            fit = sm.OLS(two[outcome].astype(float), sm.add_constant(two[["T", *covs]].astype(float))).fit()
            assert row["estimate_source"] == "cuped", (outcome, arm, row["cuped_codes"])
            assert row["absolute"] == pytest.approx(fit.params["T"], rel=1e-9)
            assert row["variance_reduction"] > 0
    assert ro.settings["covariates"] == ["history"]


def test_guardrails_on_the_tables_outcomes_and_the_others_named(duckdb_source):
    ro, _ = _readout(
        connect(str(duckdb_source), validate=False), guardrails={"spend": 0.5, "active": 0.02}, use_cuped=False
    )
    assert [(g.metric, g.variant) for g in ro.guardrails] == [("spend", "Mens E-Mail"), ("spend", "Womens E-Mail")]
    assert any("the guardrails active are not outcomes of the unit table" in n for n in ro.notes)


def _params(source, **extra):
    return {
        **_defaults(),
        "source": str(source),
        "lang": "en",
        "unit_table": "email_test",
        "unit_variant_column": "segment",
        "unit_fan_column": "customer_id",
        "unit_outcomes": OUTCOMES,
        "unit_covariates": {"spend": ["history", "recency"]},
        "covariates": ["history"],
        "control": CONTROL,
        "planned_split": PLAN,
        "guardrails": {"spend": 0.5},
        "segments": ["zip_code", "channel", "history", "newbie"],
        "unit_time_column": "sent_at",
        "did_start": None,
        **extra,
    }


@pytest.fixture(scope="module")
def report(duckdb_source):
    return ab.analyse(connect(str(duckdb_source), validate=False), _params(duckdb_source))


def test_the_report_reads_out_every_arm_with_segments_on_the_tables_columns(report, frame):
    s = report.summary
    assert s["status"] == "ok", (s.get("sections_failed"), report.failures)
    assert s["experiment"]["control"] == CONTROL and s["experiment"]["settings"]["unit_table"] == "email_test"
    assert {v["variant"] for v in s["experiment"]["verdicts"]} == {"Mens E-Mail", "Womens E-Mail"}
    tests = s["segments"]
    assert set(tests["variant"]) == {"Mens E-Mail", "Womens E-Mail"}
    assert tests["dimension"].tolist()[:4] == ["zip_code", "channel", "history", "newbie"]
    effects = s["segment_effects"]
    mens = effects[(effects["variant"] == "Mens E-Mail") & (effects["dimension"] == "channel")].set_index("segment")
    two = _pair(frame, "Mens E-Mail")
    want = two.groupby(["channel", "T"])["visit"].mean().unstack()
    assert sorted(mens.index) == ["Multichannel", "Phone", "Web"]  # the table's own values
    for seg in mens.index:
        assert mens.loc[seg, "estimate"] == pytest.approx(want.loc[seg, 1.0] - want.loc[seg, 0.0], rel=1e-12)
    hist = effects[(effects["variant"] == "Mens E-Mail") & (effects["dimension"] == "history")]
    assert [x.split(" ")[0] for x in hist["segment"]] == ["Q1", "Q2", "Q3", "Q4"]
    assert (hist["n_control"] + hist["n_treatment"]).sum() == len(two)


def test_the_daily_view_follows_the_time_column_for_every_arm(report, frame):
    assert [v.variant for v in report.sequential] == ["Mens E-Mail", "Womens E-Mail"]
    for view in report.sequential:
        table = view.table
        assert len(table) == frame["sent_at"].dt.normalize().nunique() and view.variant in view.chart_title
        two = _pair(frame, view.variant)
        last = table.iloc[-1]
        assert last["estimate"] == pytest.approx(
            two[two["T"] == 1]["visit"].mean() - two[two["T"] == 0]["visit"].mean(), rel=1e-12
        )
        first_day = two[two["sent_at"] < pd.Timestamp("2025-04-02")]
        assert table.iloc[0]["n_control"] == (first_day["T"] == 0).sum()
    assert set(report.summary["sequential"]["variant"]) == {"Mens E-Mail", "Womens E-Mail"}


def test_a_unit_table_that_is_not_there_lists_the_tables_found(duckdb_source):
    with pytest.raises(ABInputError) as err:
        unit_readout(connect(str(duckdb_source), validate=False), "email", variant="segment", outcomes=["visit"])
    assert err.value.code == "no_unit_table" and "tables found: email_test" in str(err.value)


def test_bad_unit_covariates_are_refused(duckdb_source):
    fd = connect(str(duckdb_source), validate=False)
    with pytest.raises(ABInputError, match="not outcomes"):
        _readout(fd, covariates={"revenue": "history"})
    with pytest.raises(ABInputError, match="'zip_code' holds string, not numbers"):
        _readout(fd, common_covariates=["zip_code"])
    with pytest.raises(ABInputError, match="not dates or times"):
        _readout(fd, time_column="history")


RAW_TABLES = pytest.mark.skipif(
    not hasattr(FanData, "raw_table"), reason="needs fd.raw_table (the data helper's non-contract table reader)"
)


def _folder(frame, tmp_path, kind):
    folder = tmp_path / kind
    folder.mkdir()
    if kind == "csv":
        frame.to_csv(folder / "email_test.csv", index=False)
    elif kind == "parquet":
        frame.to_parquet(folder / "email_test.parquet", index=False)
    else:
        folder = tmp_path / "email.xlsx"
        frame.to_excel(folder, sheet_name="email_test", index=False)
    return folder


@RAW_TABLES
@pytest.mark.parametrize("kind", ["csv", "parquet", "xlsx"])
def test_every_kind_of_source_gives_the_same_readout(frame, duckdb_source, tmp_path, kind):
    want, _ = _readout(connect(str(duckdb_source), validate=False), common_covariates=["history"])
    got, _ = _readout(connect(str(_folder(frame, tmp_path, kind)), validate=False), common_covariates=["history"])
    cols = ["metric", "variant", "absolute", "absolute_low", "absolute_high", "p_value", "variance_reduction"]
    pd.testing.assert_frame_equal(got.lifts[cols], want.lifts[cols], rtol=1e-9)


def test_the_page_shows_the_unit_tables_segments_and_daily_view(monkeypatch, tmp_path, duckdb_source):
    from inprocess import render_notebook
    from test_ab_analyse import NOTEBOOK

    params = _params(duckdb_source, summary_path=str(tmp_path / "s.json"))
    shown, charts, ns = render_notebook(monkeypatch, NOTEBOOK, **params)
    text = "\n".join(map(str, shown))
    assert ns["result"].summary["status"] == "ok" and "Mens E-Mail" in text
    assert sum(t.startswith("Cumulative result by day") for t in charts) == 2
    assert "zip_code" in text and "Multichannel" in text
    assert "Welch t-test on the CUPED-adjusted outcome (in place of the two-proportion z-test)" in text


def test_a_folder_holding_only_the_unit_table_passes_the_parameter_check(frame, tmp_path):
    from fanlib.reports import paramcheck
    from fanlib.reports.params import ParamError

    folder = _folder(frame, tmp_path, "csv")
    values = {"source": str(folder), "unit_table": "email_test", "unit_variant_column": "segment", "control": CONTROL}
    values["planned_split"] = PLAN
    paramcheck.check({"02_ab_campaign": values})
    with pytest.raises(ParamError, match="the folder has no table 'other_export' .*; it has email_test"):
        paramcheck.check({"02_ab_campaign": {**values, "unit_table": "other_export"}})


@pytest.mark.slow
def test_fanlib_run_reads_out_the_unit_table_with_only_a_params_file(duckdb_source, frame, tmp_path):
    import json
    import subprocess
    import sys

    import yaml

    section = {k: v for k, v in _params(duckdb_source).items() if k in (
        "unit_table", "unit_variant_column", "unit_fan_column", "unit_outcomes", "unit_covariates", "covariates",
        "control", "planned_split", "guardrails", "segments", "unit_time_column", "lang")}  # fmt: skip
    params = tmp_path / "email.yaml"
    params.write_text(yaml.safe_dump({"02_ab_campaign": section}, allow_unicode=True), encoding="utf-8")
    cmd = [sys.executable, "-m", "fanlib", "run", "02_ab_campaign", "--source", str(duckdb_source), "--params",
           str(params), "--out", str(tmp_path / "reports"), "--date", "2025-04-20"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    s = json.loads((tmp_path / "reports" / "2025-04-20" / "02_ab_campaign.summary.json").read_text(encoding="utf-8"))
    assert s["status"] == "ok" and s["experiment"]["control"] == CONTROL
    visit = {m["variant"]: m for m in s["experiment"]["metrics"] if m["metric"] == "visit"}
    for arm in ("Mens E-Mail", "Womens E-Mail"):
        two = _pair(frame, arm)
        fit = sm.OLS(two["visit"].astype(float), sm.add_constant(two[["T", "history"]].astype(float))).fit()
        assert visit[arm]["absolute"] == pytest.approx(fit.params["T"], rel=1e-6)
    head = next(h for h in s["headline"] if h["key"] == "primary_lift")
    assert head["unit"] == "pp" and s["primary_lift_variant"] in head["label"]


@pytest.mark.parametrize(
    ("values", "says"),
    [
        ({"covariates": ["zip_code"]}, "'covariates': 'zip_code' in the unit table 'email_test' holds string"),
        ({"unit_covariates": {"spend": ["histroy"]}}, "'unit_covariates': 'histroy' is not a column of"),
        ({"unit_outcomes": ["vist"]}, "'unit_outcomes': 'vist' is not a column"),
        ({"segments": ["zipcode"]}, "'segments': 'zipcode' is not a column"),
        ({"unit_time_column": "history"}, "'history' holds float64, not dates or times"),
        ({"unit_variant_column": "arm"}, "'unit_variant_column': 'arm' is not a column"),
    ],
)
def test_the_unit_tables_named_columns_are_checked_before_any_kernel(duckdb_source, values, says):
    from fanlib.reports import paramcheck
    from fanlib.reports.params import ParamError

    good = {k: v for k, v in _params(duckdb_source).items() if k not in ("did_start",)}
    paramcheck.check({"02_ab_campaign": good})
    with pytest.raises(ParamError) as err:
        paramcheck.check({"02_ab_campaign": {**good, **values}})
    assert says in str(err.value)


def test_a_csvs_numbers_are_numbers_but_its_variant_labels_and_ids_stay_as_written(tmp_path):
    rows = pd.DataFrame(
        {
            "customer_id": ["007", "7", "0042", "42"] * 250,
            "arm": ["1", "2"] * 500,
            "spend": [f"{x:.2f}" for x in np.random.default_rng(0).gamma(2.0, 10.0, 1_000)],
        }
    )
    rows["customer_id"] = [f"{c}-{i}" if i >= 4 else c for i, c in enumerate(rows["customer_id"])]
    (tmp_path / "src").mkdir()
    rows.to_csv(tmp_path / "src" / "export.csv", index=False)
    fd = connect(str(tmp_path / "src"), validate=False)
    ro, units = unit_readout(
        fd,
        "export",
        variant="arm",
        fan_id="customer_id",
        outcomes=["spend"],
        control="1",
        planned_split={"1": 1, "2": 1},
    )
    assert sorted(ro.srm.counts) == ["1", "2"] and ro.lifts.iloc[0]["variant"] == "2"
    spend = rows["spend"].astype(float)
    want = spend[rows["arm"] == "2"].mean() - spend[rows["arm"] == "1"].mean()
    assert ro.lifts.iloc[0]["absolute"] == pytest.approx(want, rel=1e-12)
    assert units.schema()["fan_id"].is_string()  # "007" and "7" are two customers, not one
