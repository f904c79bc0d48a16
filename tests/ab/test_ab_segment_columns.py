"""Segments on any declared column: categories as they are, numbers in quantile bins, 0/1 flags as they are;
checked against pandas. Dimensions the data cannot give, or with one level, are left out and named; bad
names are refused before any kernel starts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import frames_to_duckdb
from test_ab_analyse import _defaults
from test_ab_covariates import PLAN, _frames, _units

from fanlib import ab
from fanlib.ab import ABInputError, hte
from fanlib.ab.metrics import METRICS
from fanlib.ab.readout import experiment_readout
from fanlib.ab.segment_columns import segment_units
from fanlib.data.attributes import quantile_edges
from fanlib.data.fandata import connect
from fanlib.reports import paramcheck
from fanlib.reports.params import ParamError


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    frames = _frames()
    frames["fans"]["brand"] = "same for all"
    return frames_to_duckdb(frames, tmp_path_factory.mktemp("abseg") / "s.duckdb"), frames


@pytest.fixture(scope="module")
def readout(data):
    fd = connect(str(data[0]), validate=False)
    ro, units = experiment_readout(fd, "exp_c", planned_split=PLAN, metrics=["conversion"], use_cuped=False)
    return fd, units


def _pandas_effects(u: pd.DataFrame, by: pd.Series) -> pd.Series:
    means = u.assign(seg=by.astype(str)).groupby(["seg", "variant"])["converted"].mean().unstack()
    return means["treatment"] - means["control"]


def test_categorical_numeric_and_flag_columns_are_segments_as_pandas_cuts_them(readout, data):
    fd, units = readout
    seg_units, dims, notes = segment_units(fd, units, ["zip_code", "history", "womens", "tenure"], bins=4)
    assert dims == ["zip_code", "history", "womens", "tenure"] and notes == []
    effects, tests = hte.segment_readout(
        fd, seg_units, METRICS["conversion"], dims, control="control", treatment="treatment"
    )
    u = _units(data[1]).merge(data[1]["fans"][["fan_id", "zip_code"]], on="fan_id")
    by = effects.set_index(["dimension", "segment"])["estimate"]
    want_zip = _pandas_effects(u, u["zip_code"])
    assert by.loc["zip_code"].sort_index().to_numpy() == pytest.approx(want_zip.sort_index().to_numpy(), rel=1e-12)
    want_flag = _pandas_effects(u, u["womens"])
    assert sorted(by.loc["womens"].index) == ["0", "1"]  # a 0/1 flag keeps its values
    assert by.loc["womens"].sort_index().to_numpy() == pytest.approx(want_flag.sort_index().to_numpy(), rel=1e-12)
    # numbers in quartiles of the experiment's fans, cut where pandas/numpy put the quartiles
    edges = quantile_edges(fd, fd.fans, "history", 4)  # every fan of this data set is in the experiment
    assert edges == pytest.approx(np.quantile(u["history"], [0.25, 0.5, 0.75]), rel=1e-12)
    quart = np.searchsorted(edges, u["history"], side="left")  # x <= edge: that bin
    want_hist = _pandas_effects(u, pd.Series(quart, index=u.index))
    hist = by.loc["history"].sort_index()
    assert [s.split(" ")[0] for s in hist.index] == ["Q1", "Q2", "Q3", "Q4"]
    assert hist.to_numpy() == pytest.approx(want_hist.sort_index().to_numpy(), rel=1e-12)
    n = effects[effects["dimension"] == "history"][["n_control", "n_treatment"]].to_numpy().sum()
    assert n == len(u)
    assert set(tests["dimension"]) == set(dims)


def test_the_number_of_bins_is_a_parameter(readout):
    fd, units = readout
    seg_units, dims, _ = segment_units(fd, units, ["history"], bins=3)
    labels = fd.execute(seg_units.select("history").distinct(), label="t")["history"].tolist()
    assert sorted(s.split(" ")[0] for s in labels) == ["Q1", "Q2", "Q3"]


def test_a_one_level_dimension_is_left_out_and_named(readout):
    fd, units = readout
    _, dims, notes = segment_units(fd, units, ["brand", "zip_code"])
    assert dims == ["zip_code"] and notes == [("segment_one_level", {"dimensions": "brand"})]
    with pytest.raises(ABInputError, match="no segment dimension can be used: brand"):
        segment_units(fd, units, ["brand"])


def test_an_undeclared_segment_is_refused_listing_what_can_be_named(readout):
    fd, units = readout
    with pytest.raises(ABInputError) as err:
        segment_units(fd, units, ["no_such"])
    assert err.value.code == "segment_columns" and "history" in str(err.value) and "activity_tier" in str(err.value)


def test_the_report_segments_on_a_declared_column_and_names_what_it_left_out(tmp_path):
    frames = _frames(n=3_000, events=False)
    path = frames_to_duckdb(frames, tmp_path / "noev.duckdb")
    params = {
        **_defaults(),
        "source": str(path),
        "lang": "en",
        "experiment_id": "exp_c",
        "planned_split": PLAN,
        "metrics": ["conversion", "revenue_per_fan"],
        "guardrails": {},
        "segments": ["activity_tier", "zip_code", "history"],
        "sequential": False,
        "did_start": None,
    }
    result = ab.analyse(connect(str(path), validate=False), params)
    assert result.summary["status"] == "ok", result.summary.get("sections_failed")
    assert result.segment_notes == [
        "these segment dimensions need data the source does not have and are left out: activity_tier (events)"
    ]
    assert result.summary["segments"]["dimension"].tolist() == ["zip_code", "history"]


def _check(path, **values):
    base = {"source": str(path), "segments": ["tenure"], "covariates": [], "segment_bins": 4}
    paramcheck.check({"02_ab_campaign": {**base, **values}})


@pytest.mark.parametrize(
    ("values", "says"),
    [
        ({"covariates": ["histroy"]}, "covariate 'histroy' is not a column of fans or fan_attributes"),
        ({"covariates": ["zip_code"]}, "covariate 'zip_code' does not hold numbers (a covariate must be numeric)"),
        ({"segments": ["zipcode"]}, "segment 'zipcode' is not a column of fans or fan_attributes"),
        ({"segments": ["brand"]}, "a segment needs at least two"),
        ({"segment_bins": 1}, "segment_bins"),
    ],
)
def test_bad_covariate_and_segment_names_stop_the_run_before_any_kernel(data, values, says):
    with pytest.raises(ParamError) as err:
        _check(data[0], **values)
    assert says in str(err.value)


def test_good_names_pass_the_parameter_check(data):
    _check(data[0], covariates=["history", "pre_orders"], segments=["zip_code", "history", "tenure"])


def test_orders_only_data_with_the_default_parameters_reads_out_and_says_what_it_left_out(tmp_path):
    path = frames_to_duckdb(_frames(n=2_000, events=False), tmp_path / "orders_only.duckdb")
    params = {**_defaults(), "source": str(path), "lang": "en", "experiment_id": "exp_c", "planned_split": PLAN}
    result = ab.analyse(connect(str(path)), {**params, "did_start": None})
    assert result.summary["status"] == "ok" and result.readout_error is None
    assert [m["metric"] for m in result.summary["experiment"]["metrics"]] == [
        "conversion",
        "revenue_per_fan",
        "revenue_per_order",
    ]
    assert any("(active, events_per_fan) are left out" in b for b in result.note_banners)
    assert result.segment_notes == [
        "these segment dimensions need data the source does not have and are left out: "
        "activity_tier (events), city_tier (fans.city_tier)"
    ]
    assert result.summary["segments"]["dimension"].tolist() == ["channel", "tenure"]
    assert result.guardrails is None  # both default guardrails are built from events, and the page says so
    assert result.guardrails_absent.startswith("none of the guardrails set (active in window, events per fan)")
