"""The readout end to end in the engine: tiny data sets, bad input, and the demo's planted truths."""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pandas as pd
import pytest

from fanlib.ab import ABInputError, checks, outcomes
from fanlib.ab import metrics as ab_metrics
from fanlib.ab.comparison import analyze
from fanlib.ab.readout import all_experiments_srm, experiment_readout
from fanlib.data.engine import memory_cap
from fanlib.data.fandata import connect

PLAN = {"control": 0.5, "treatment": 0.5}


def _tables(n=8_000, seed=0, lift=0.06, variants=("control", "treatment")):
    """Fans, events, orders and assignments with a planted conversion lift for 'treatment'."""
    rng = np.random.default_rng(seed)
    fan_id = [f"F{i:06d}" for i in range(n)]
    start = pd.Timestamp("2025-03-01")
    fans = pd.DataFrame(
        {
            "fan_id": fan_id,
            "join_time": start - pd.to_timedelta(rng.integers(1, 400, n), "D"),
            "channel": rng.choice(["wechat", "douyin", "weibo"], n),
        }
    )
    variant = rng.choice(list(variants), n)
    assigned = start + pd.to_timedelta(rng.integers(0, 7 * 86400, n), "s")
    assignments = pd.DataFrame(
        {"experiment_id": "exp_t", "fan_id": fan_id, "variant": variant, "assigned_time": assigned}
    )
    propensity = rng.beta(0.4, 1.6, n)  # fans differ; the pre-period reflects it
    parts = []
    for phase, shift in (("pre", -20), ("post", 3)):
        p = np.clip(propensity + (lift if phase == "post" else 0) * (variant == "treatment"), 0, 1)
        buyers = np.flatnonzero(rng.random(n) < p)
        parts.append(
            pd.DataFrame(
                {
                    "fan_id": np.asarray(fan_id)[buyers],
                    "order_time": assigned[buyers] + pd.to_timedelta(shift + rng.integers(0, 5, len(buyers)), "D"),
                    "amount_cny": rng.lognormal(4, 0.8, len(buyers)),
                }
            )
        )
    orders = pd.concat(parts, ignore_index=True)
    orders.insert(0, "order_id", [f"O{i:07d}" for i in range(len(orders))])
    ev = fans[["fan_id"]].loc[np.repeat(np.arange(n), 3)].reset_index(drop=True)
    ev["event_time"] = np.repeat(assigned, 3) + pd.to_timedelta(np.tile([-10, 2, 29], n), "D")
    ev["event_type"] = np.tile(["view", "visit", "click"], n)
    return {"fans": fans, "events": ev, "orders": orders, "assignments": assignments}


def _write(path, tables):
    con = duckdb.connect(str(path))
    for name, frame in tables.items():
        con.register("frame", frame)
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM frame")
        con.unregister("frame")
    con.close()
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    tables = _tables()
    return _write(tmp_path_factory.mktemp("ab") / "tiny.duckdb", tables), tables


def test_readout_runs_in_the_engine_and_matches_pandas(tiny):
    path, tables = tiny
    fd = connect(path, validate=False)
    ro, units = experiment_readout(
        fd,
        "exp_t",
        planned_split=PLAN,
        metrics=["conversion", "revenue_per_fan", "revenue_per_order"],
        guardrails={"revenue_per_order": 0.2},
        use_cuped=False,
    )
    # only small results came back into pandas
    assert max(rows for _, rows in fd.materialized) <= 10
    # the engine's outcomes equal a direct pandas computation
    o = tables["orders"].merge(tables["assignments"], on="fan_id")
    post = o[(o.order_time >= o.assigned_time) & (o.order_time < o.assigned_time + pd.Timedelta(days=28))]
    per_fan = (
        tables["assignments"]
        .set_index("fan_id")[["variant"]]
        .join(post.groupby("fan_id").agg(revenue=("amount_cny", "sum"), orders=("order_id", "count")))
        .fillna(0)
    )
    conv = (per_fan.orders > 0).groupby(per_fan.variant).mean()
    rev = per_fan.groupby("variant").revenue.mean()
    row = ro.lifts.set_index("metric")
    assert row.loc["conversion", "control_mean"] == pytest.approx(conv["control"], abs=1e-12)
    assert row.loc["conversion", "variant_mean"] == pytest.approx(conv["treatment"], abs=1e-12)
    assert row.loc["revenue_per_fan", "absolute"] == pytest.approx(rev["treatment"] - rev["control"], rel=1e-9)
    rpo = per_fan.groupby("variant").revenue.sum() / per_fan.groupby("variant").orders.sum()
    assert row.loc["revenue_per_order", "variant_mean"] == pytest.approx(rpo["treatment"], rel=1e-9)
    assert abs(row.loc["conversion", "absolute"] - 0.06) < 3 * row.loc["conversion", "se"]  # planted lift
    assert ro.verdict.decision == "ship"
    assert "conversion +" in ro.verdict.text and "ship" in ro.verdict.text
    summary = ro.summary()
    assert summary["srm"]["p_value"] > 0.001 and summary["verdict"]["decision"] == "ship"
    for m in summary["metrics"]:
        for key in (
            "absolute",
            "absolute_low",
            "absolute_high",
            "relative",
            "relative_low",
            "relative_high",
            "p_value",
            "p_adjusted",
        ):
            assert key in m


def test_cuped_uses_the_pre_period_and_narrows_the_interval(tiny):
    fd = connect(tiny[0], validate=False)
    ro, _ = experiment_readout(fd, "exp_t", planned_split=PLAN, metrics=["conversion", "revenue_per_fan"])
    r = ro.lifts.set_index("metric").loc["conversion"]
    assert r["estimate_source"] == "cuped" and r["variance_reduction"] > 0.05
    assert r["absolute_high"] - r["absolute_low"] < r["raw_high"] - r["raw_low"]


def test_unit_level_table_gives_the_same_readout(tiny, tmp_path):
    path, tables = tiny
    fd = connect(path, validate=False)
    ro, units = experiment_readout(
        fd, "exp_t", planned_split=PLAN, metrics=["conversion", "revenue_per_fan"], use_cuped=False
    )
    frame = fd.execute(units.select("fan_id", "variant", "converted", "revenue", "pre_revenue"))
    frame = frame.rename(columns={"variant": "arm"})
    export = _write(tmp_path / "export.duckdb", {**tables, "ab_export": frame})
    fd2 = connect(export, validate=False)
    t = checks.unit_table(fd2, "ab_export", variant="arm")
    metrics = checks.infer_proportions(
        fd2, t, ab_metrics.unit_metrics(t, ["converted", "revenue"], {"revenue": "pre_revenue"})
    )
    assert metrics["converted"].kind == "proportion" and metrics["revenue"].kind == "mean"
    mom = outcomes.by_variant(outcomes.variant_moments(fd2, t, metrics))
    ro2 = analyze(mom, metrics, control="control", planned_split=PLAN, use_cuped=False)
    a = ro.lifts.set_index("metric")
    b = ro2.lifts.set_index("metric")
    assert b.loc["converted", "absolute"] == pytest.approx(a.loc["conversion", "absolute"], abs=1e-12)
    assert b.loc["revenue", "p_value"] == pytest.approx(a.loc["revenue_per_fan", "p_value"], abs=1e-12)


# --- bad input: a clear message, never a crash ---------------------------------------------------


def _fd(tmp_path, tables):
    return connect(_write(tmp_path / "bad.duckdb", tables), validate=False)


def test_one_variant_only(tmp_path):
    fd = _fd(tmp_path, _tables(n=300, variants=("control",)))
    with pytest.raises(ABInputError, match="only one variant"):
        experiment_readout(fd, "exp_t", planned_split=PLAN)


def test_unknown_variant_labels(tmp_path):
    t = _tables(n=300)
    t["assignments"].loc[:9, "variant"] = "Treatment_B"
    fd = _fd(tmp_path, t)
    with pytest.raises(ABInputError, match=r"Treatment_B.*not in the planned split") as err:
        experiment_readout(fd, "exp_t", planned_split=PLAN)
    assert "assignments" in str(err.value) and "variant" in str(err.value)


def test_fan_assigned_to_two_variants(tmp_path):
    t = _tables(n=300)
    dup = t["assignments"].iloc[:3].copy()
    dup["variant"] = np.where(dup["variant"] == "control", "treatment", "control")
    t["assignments"] = pd.concat([t["assignments"], dup], ignore_index=True)
    fd = _fd(tmp_path, t)
    with pytest.raises(ABInputError, match="3 fans are assigned more than once") as err:
        experiment_readout(fd, "exp_t", planned_split=PLAN)
    assert "F000000" in str(err.value)  # example rows are shown


def test_empty_window(tmp_path):
    t = _tables(n=300)
    t["assignments"]["assigned_time"] = pd.Timestamp("2026-01-01")  # after every order and event
    fd = _fd(tmp_path, t)
    with pytest.raises(ABInputError, match="empty window"):
        experiment_readout(fd, "exp_t", planned_split=PLAN)


def test_unknown_experiment(tmp_path):
    fd = _fd(tmp_path, _tables(n=300))
    with pytest.raises(ABInputError, match="no assignments; known experiments: \\['exp_t'\\]"):
        experiment_readout(fd, "exp_missing", planned_split=PLAN)


def test_variant_with_zero_conversions(tmp_path):
    t = _tables(n=2_000)
    treated = set(t["assignments"].query("variant == 'treatment'").fan_id)
    o = t["orders"].merge(t["assignments"], on="fan_id")
    in_window = (o.order_time >= o.assigned_time) & o.fan_id.isin(treated)
    t["orders"] = t["orders"][~in_window.to_numpy()]
    fd = _fd(tmp_path, t)
    ro, _ = experiment_readout(fd, "exp_t", planned_split=PLAN, metrics=["conversion", "revenue_per_order"])
    conv = ro.lifts.set_index("metric").loc["conversion"]
    assert conv["variant_mean"] == 0 and math.isfinite(conv["absolute"]) and conv["p_value"] < 0.001
    assert conv["raw_relative"] == pytest.approx(-1.0)
    assert any("zero conversions" in n for n in ro.notes)
    rpo = ro.lifts.set_index("metric").loc["revenue_per_order"]
    assert "not defined" in rpo["note"]
    assert ro.verdict.decision == "don't ship"


def test_all_outcomes_equal(tmp_path):
    t = _tables(n=500)
    a = t["assignments"]
    t["orders"] = pd.DataFrame(
        {
            "order_id": [f"O{i}" for i in range(len(a))],
            "fan_id": a.fan_id,
            "order_time": a.assigned_time + pd.Timedelta(days=1),
            "amount_cny": 100.0,
        }
    )
    fd = _fd(tmp_path, t)
    ro, _ = experiment_readout(
        fd, "exp_t", planned_split=PLAN, metrics=["conversion", "revenue_per_fan", "revenue_per_order"]
    )
    for r in ro.lifts.itertuples():
        assert r.absolute == 0 and "no variation" in r.note
    assert ro.verdict.decision in ("inconclusive", "don't ship")
    assert "no variation" in " ".join(ro.lifts["note"])


# --- the demo's planted truths ------------------------------------------------------------------


def test_demo_planted_coupon_lift_is_inside_the_interval(demo_path, demo_truth):
    truth = demo_truth["experiments"]["exp_coupon"]
    fd = connect(demo_path)
    ro, _ = experiment_readout(
        fd, "exp_coupon", planned_split=truth["planned_split"], window_days=truth["outcome_window_days"]
    )
    r = ro.lifts.set_index("metric")
    assert not ro.srm.failed
    assert (
        r.loc["conversion", "absolute_low"] < truth["true_lift_conversion_abs"] < r.loc["conversion", "absolute_high"]
    )
    assert (
        r.loc["conversion", "relative_low"] < truth["true_lift_conversion_rel"] < r.loc["conversion", "relative_high"]
    )
    rev = r.loc["revenue_per_fan"]
    assert rev["absolute_low"] < truth["true_lift_revenue_per_fan_cny"] < rev["absolute_high"]
    assert r.loc["conversion", "n_variant"] == truth["n"]["treatment"]


def test_demo_planted_srm_is_flagged_and_the_verdict_withheld(demo_path, demo_truth):
    truth = demo_truth["experiments"]["exp_checkin_push"]
    fd = connect(demo_path)
    ro, _ = experiment_readout(fd, "exp_checkin_push", planned_split=truth["planned_split"])
    assert ro.srm.failed and ro.srm.p_value < 0.001
    assert ro.verdict.decision == "withheld" and "Sample ratio mismatch" in ro.verdict.text
    srm = all_experiments_srm(fd).set_index("experiment_id")
    assert srm.loc["exp_checkin_push", "failed"] and not srm.loc["exp_coupon", "failed"]


def test_demo_did_recovers_the_live_room_campaign(demo_path, demo_truth):
    from fanlib.ab import did

    truth = demo_truth["did_campaign"]
    fd = connect(demo_path)
    panel = did.build_panel(fd, truth["start"], pre_weeks=8)
    res = did.fit_did(panel, truth["communities"])
    assert res.relative_low < truth["true_effect_rel"] < res.relative_high
    assert res.p_value < 0.05 and res.pretrend_ok
    assert res.n_treated == len(truth["communities"])


# --- moments from the fans with any outcome, under a memory cap ---------------------------------


def _moments_agree(got, want):
    assert set(got) == set(want)
    for name in want:
        assert set(got[name]) == set(want[name])
        for v, w in want[name].items():
            g = got[name][v]
            assert g.n == w.n and g.names == w.names
            np.testing.assert_allclose(g.sums, w.sums, rtol=1e-12, atol=1e-9)
            np.testing.assert_allclose(g.cross, w.cross, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize(
    "names",
    [
        ["conversion", "revenue_per_fan", "revenue_per_order"],
        ["active", "events_per_fan", "click_through", "orders_per_fan", "conversion"],
    ],
)
def test_moments_from_active_fans_equal_moments_over_every_assigned_fan(tiny, names):
    fd = connect(tiny[0], validate=False)
    chosen = {m: ab_metrics.METRICS[m] for m in names}
    counts = checks.check_assignments(fd, "exp_t", PLAN)
    got = outcomes.experiment_moments(fd, "exp_t", chosen, counts)
    want = outcomes.by_variant(outcomes.variant_moments(fd, outcomes.experiment_units(fd, "exp_t"), chosen))
    _moments_agree(got, want)
    # the aggregation really ran on fewer fans than were assigned
    active = outcomes.active_units(fd, "exp_t", with_events=False)
    assert fd.execute(active.count()) < sum(counts["n"])


def test_moments_keep_a_variant_whose_fans_have_no_outcome_at_all(tmp_path):
    t = _tables(n=600)
    treated = set(t["assignments"].query("variant == 'treatment'").fan_id)
    t["orders"] = t["orders"][~t["orders"].fan_id.isin(treated)]
    t["events"] = t["events"][~t["events"].fan_id.isin(treated)]
    fd = _fd(tmp_path, t)
    chosen = {m: ab_metrics.METRICS[m] for m in ("conversion", "revenue_per_fan", "active")}
    counts = checks.check_assignments(fd, "exp_t", PLAN)
    got = outcomes.experiment_moments(fd, "exp_t", chosen, counts)
    want = outcomes.by_variant(outcomes.variant_moments(fd, outcomes.experiment_units(fd, "exp_t"), chosen))
    _moments_agree(got, want)
    assert got["conversion"]["treatment"].n == len(treated) and got["conversion"]["treatment"].sums[0] == 0


def test_readout_on_the_demo_equals_the_readout_over_every_assigned_fan(small_demo_path):
    fd = connect(small_demo_path)
    chosen = {
        m: ab_metrics.METRICS[m]
        for m in ("conversion", "revenue_per_fan", "revenue_per_order", "active", "events_per_fan", "messages_per_fan")
    }
    counts = checks.check_assignments(fd, "exp_coupon")
    got = outcomes.experiment_moments(fd, "exp_coupon", chosen, counts)
    units = outcomes.experiment_units(fd, "exp_coupon")
    _moments_agree(got, outcomes.by_variant(outcomes.variant_moments(fd, units, chosen)))


def _memory_limit(fd):
    return fd.con.raw_sql("SELECT current_setting('memory_limit')").fetchall()[0][0]


def test_readout_queries_run_under_the_memory_cap_and_the_cap_is_restored(tiny):
    fd = connect(tiny[0], validate=False)
    before = _memory_limit(fd)
    seen = []
    execute = fd.execute

    def spy(expr, *args, **kwargs):
        seen.append(_memory_limit(fd))
        return execute(expr, *args, **kwargs)

    fd.execute = spy
    experiment_readout(fd, "exp_t", planned_split=PLAN, memory_limit="300MB")
    assert seen and set(seen) == {"286.1 MiB"}  # 300 MB as DuckDB shows it
    assert _memory_limit(fd) == before
    seen.clear()
    experiment_readout(fd, "exp_t", planned_split=PLAN, memory_limit=None)
    assert set(seen) == {before}


def test_memory_cap_only_lowers_and_survives_repeated_use(tiny):
    fd = connect(tiny[0], validate=False)
    fd.con.raw_sql("SET memory_limit = '200MB'")
    with memory_cap(fd, "512MB"):
        assert _memory_limit(fd) == "190.7 MiB"  # a smaller cap the user set stays
    fd.con.raw_sql("SET memory_limit = '2.5GB'")
    for _ in range(5):  # DuckDB shows the setting cut to one decimal; restoring must not creep down
        with memory_cap(fd, "512MB"):
            assert _memory_limit(fd) == "488.2 MiB"
        assert _memory_limit(fd) == "2.3 GiB"
    for bad in ("lots", "1.2.3GB"):
        with pytest.raises(ValueError, match="memory size"):
            with memory_cap(fd, bad):
                pass
    assert _memory_limit(fd) == "2.3 GiB"
    fd.con.raw_sql("SET memory_limit = '-1'")  # no limit at all
    unlimited = _memory_limit(fd)
    with memory_cap(fd, "512MB"):
        assert _memory_limit(fd) == "488.2 MiB"
    assert _memory_limit(fd) == unlimited
