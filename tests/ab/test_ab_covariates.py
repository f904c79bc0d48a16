"""A team's own CUPED covariates: declared fan attributes and pre-period metrics, several at once, checked
against statsmodels' OLS on the unit-level data; bad names refused clearly; data without events read out
without the metrics and covariates that need events, saying so."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from helpers import frames_to_duckdb

from fanlib.ab import ABInputError, tables
from fanlib.ab.cuped import regression_adjusted_ols
from fanlib.ab.readout import experiment_readout
from fanlib.data.fandata import connect
from fanlib.present.i18n import messages

PLAN = {"control": 0.5, "treatment": 0.5}
START = pd.Timestamp("2025-03-01")
WINDOW = PRE = 28


def _frames(n: int = 4_000, seed: int = 5, events: bool = True) -> dict[str, pd.DataFrame]:
    """Fans with a pre-period spend ``history`` (it predicts buying), a 0/1 flag ``womens`` and a ``zip_code``;
    an experiment with a planted conversion lift; orders before and after each assignment."""
    rng = np.random.default_rng(seed)
    fan_id = np.array([f"F{i:05d}" for i in range(n)])
    propensity = rng.beta(0.5, 2.0, n)
    fans = pd.DataFrame(
        {
            "fan_id": fan_id,
            "join_time": START - pd.to_timedelta(rng.integers(30, 400, n), "D"),
            "channel": rng.choice(["wechat", "douyin"], n),
            "history": np.round(propensity * 400 + rng.gamma(2.0, 20.0, n), 2),
            "womens": rng.integers(0, 2, n),
            "zip_code": rng.choice(["Urban", "Rural", "Surburban"], n),
        }
    )
    variant = rng.choice(["control", "treatment"], n)
    assigned = START + pd.to_timedelta(rng.integers(0, 7 * 86400, n), "s")
    assignments = pd.DataFrame(
        {"experiment_id": "exp_c", "fan_id": fan_id, "variant": variant, "assigned_time": assigned}
    )
    parts = []
    for days, lift in ((-20, 0.0), (-5, 0.0), (3, 0.05), (15, 0.02)):
        p = np.clip(propensity + lift * (variant == "treatment"), 0, 1)
        who = np.flatnonzero(rng.random(n) < p)
        parts.append(
            pd.DataFrame(
                {
                    "fan_id": fan_id[who],
                    "order_time": assigned[who] + pd.to_timedelta(days * 86400 + rng.integers(0, 86400, len(who)), "s"),
                    "amount_cny": np.round(rng.lognormal(4, 0.7, len(who)), 2),
                }
            )
        )
    late = pd.DataFrame({"fan_id": [fan_id[0]], "order_time": [START + pd.Timedelta(days=60)], "amount_cny": [9.0]})
    orders = pd.concat([*parts, late], ignore_index=True)
    orders.insert(0, "order_id", [f"O{i:07d}" for i in range(len(orders))])
    out = {"fans": fans, "orders": orders, "assignments": assignments}
    if events:
        ev = pd.DataFrame({"fan_id": np.repeat(fan_id, 2), "event_type": "view"})
        ev["event_time"] = np.repeat(assigned, 2) + pd.to_timedelta(np.tile([-3, 4], n), "D")
        out["events"] = ev
    return out


def _units(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per assigned fan, in pandas: outcomes in the window, pre-period orders, the fan's attributes."""
    a, o = frames["assignments"], frames["orders"]
    j = a.merge(o, on="fan_id")
    post = (j.order_time >= j.assigned_time) & (j.order_time < j.assigned_time + pd.Timedelta(days=WINDOW))
    pre = (j.order_time < j.assigned_time) & (j.order_time >= j.assigned_time - pd.Timedelta(days=PRE))
    per = pd.DataFrame(
        {
            "fan_id": j.fan_id,
            "orders": post.astype(float),
            "revenue": j.amount_cny.where(post, 0.0),
            "pre_orders": pre.astype(float),
        }
    )
    per = per.groupby("fan_id").sum()
    u = a.merge(per, left_on="fan_id", right_index=True, how="left").fillna(
        {"orders": 0, "revenue": 0, "pre_orders": 0}
    )
    u["converted"] = (u.orders > 0).astype(float)
    u["T"] = (u.variant == "treatment").astype(float)
    return u.merge(frames["fans"][["fan_id", "history", "womens"]], on="fan_id")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    frames = _frames()
    return frames_to_duckdb(frames, tmp_path_factory.mktemp("abcov") / "c.duckdb"), frames


COVS = ["history", "pre_orders", "womens"]


@pytest.fixture(scope="module")
def readout(data):
    path, _ = data
    ro, _ = experiment_readout(
        connect(str(path), validate=False),
        "exp_c",
        planned_split=PLAN,
        metrics=["conversion", "revenue_per_fan", "revenue_per_order"],
        covariates=COVS,
    )
    return ro


@pytest.mark.parametrize(("metric", "y"), [("conversion", "converted"), ("revenue_per_fan", "revenue")])
def test_several_covariates_at_once_equal_statsmodels_ols(readout, data, metric, y):
    u = _units(data[1])
    fit = sm.OLS(u[y], sm.add_constant(u[["T", *COVS]])).fit()
    row = readout.lifts.set_index("metric").loc[metric]
    assert row["estimate_source"] == "cuped" and row["covariates"] == COVS
    assert row["absolute"] == pytest.approx(fit.params["T"], rel=1e-9, abs=1e-12)
    # the adjusted variance per arm, with the pooled slope: the variance reduction shown for the metric
    theta = fit.params[COVS].to_numpy()
    adj = u[y] - u[COVS].to_numpy() @ theta
    g = u.assign(adj=adj).groupby("variant")
    se2 = (g["adj"].var() / g.size()).sum()
    raw2 = (g[y].var() / g.size()).sum()  # both with the sample variance (ddof 1), as CUPED compares them
    assert row["variance_reduction"] == pytest.approx(1 - se2 / raw2, rel=1e-7)
    assert row["variance_reduction"] > 0.05  # history predicts buying


def test_the_regression_from_moments_equals_statsmodels_with_fan_attributes(data):
    from fanlib.ab.stats import Moments

    u = _units(data[1])
    cols = ["converted", *COVS]
    mom = {v: Moments.from_arrays(cols, *[g[c] for c in cols]) for v, g in u.groupby("variant")}
    got = regression_adjusted_ols(mom["treatment"], mom["control"], "converted", COVS)
    fit = sm.OLS(u["converted"], sm.add_constant(u[["T", *COVS]])).fit()
    np.testing.assert_allclose(got.params, fit.params.to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(got.bse, fit.bse.to_numpy(), rtol=1e-7)


def test_the_variance_reduction_is_shown_per_metric_with_its_covariates(readout):
    T = messages("ab_campaign", "en")
    shown = tables.cuped_table(readout, T).frame.set_index("label")
    assert shown.loc["conversion", "covariates"] == "history, pre_orders, womens"
    assert shown.loc["revenue per order", "covariates"] == ""  # a ratio metric is not adjusted
    assert shown.loc["revenue per order", "cuped_note"] == T("cuped_not_for_ratio")
    assert readout.settings["covariates"] == COVS
    assert readout.summary()["metrics"][0]["covariates"] == COVS


def test_the_default_keeps_each_metrics_own_pre_period_covariates(data):
    path, _ = data
    ro, _ = experiment_readout(
        connect(str(path), validate=False), "exp_c", planned_split=PLAN, metrics=["conversion", "revenue_per_fan"]
    )
    assert ro.lifts["covariates"].tolist() == [["pre_converted", "pre_revenue"], ["pre_revenue", "pre_orders"]]
    assert ro.settings["covariates"] == []


@pytest.mark.parametrize(
    ("name", "code", "listed"),
    [("no_such", "unknown_covariate", "history, womens"), ("zip_code", "covariate_not_numeric", "history, womens")],
)
def test_a_covariate_that_is_not_declared_or_not_numeric_is_refused(data, name, code, listed):
    path, _ = data
    with pytest.raises(ABInputError) as err:
        experiment_readout(connect(str(path), validate=False), "exp_c", planned_split=PLAN, covariates=[name])
    assert err.value.code == code and err.value.column == name and listed in str(err.value)
    zh = err.value.text(messages("ab_campaign", "zh"))
    assert name in zh and "协变量" in zh


def test_without_events_the_event_metrics_and_covariates_are_left_out_and_named(tmp_path):
    frames = _frames(n=2_000, events=False)
    fd = connect(str(frames_to_duckdb(frames, tmp_path / "noev.duckdb")), validate=False)
    ro, _ = experiment_readout(
        fd,
        "exp_c",
        planned_split=PLAN,
        metrics=["conversion", "revenue_per_fan", "active", "events_per_fan"],
        primary="conversion",
        guardrails={"active": 0.02, "revenue_per_fan": 0.5},
        covariates=["history", "pre_events"],
    )
    assert ro.lifts["metric"].unique().tolist() == ["conversion", "revenue_per_fan"]
    assert [g.metric for g in ro.guardrails] == ["revenue_per_fan"]
    assert ro.lifts["covariates"].tolist() == [["history"], ["history"]]
    assert any("(active, events_per_fan) are left out" in n for n in ro.notes)
    assert any("covariates pre_events cannot be built" in n for n in ro.notes)
    u = _units(frames)
    fit = sm.OLS(u["converted"], sm.add_constant(u[["T", "history"]])).fit()
    assert ro.lifts.iloc[0]["absolute"] == pytest.approx(fit.params["T"], rel=1e-9)
    with pytest.raises(ABInputError, match="primary metric 'active' is built from events"):
        experiment_readout(fd, "exp_c", planned_split=PLAN, metrics=["active"], primary="active")


def test_fans_without_a_covariate_value_count_as_zero_and_are_counted(tmp_path):
    frames = _frames(n=2_000, seed=8)
    frames["fans"].loc[frames["fans"].index[:150], "history"] = np.nan
    fd = connect(str(frames_to_duckdb(frames, tmp_path / "gaps.duckdb")), validate=False)
    ro, _ = experiment_readout(fd, "exp_c", planned_split=PLAN, metrics=["conversion"], covariates=["history"])
    assert "150 of 2,000 fans have no value of history; the adjustment counts it as 0" in ro.notes
    u = _units(frames).fillna({"history": 0.0})
    fit = sm.OLS(u["converted"], sm.add_constant(u[["T", "history"]])).fit()
    assert ro.lifts.iloc[0]["absolute"] == pytest.approx(fit.params["T"], rel=1e-9)
