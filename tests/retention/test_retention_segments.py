"""Retention curves and the churn breakdown by any declared fan column: categorical as it is, numeric in
quantile bins; the counts equal the plain pandas computation, and the defaults keep the built-in ones the
data gives."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from helpers import frames_to_duckdb
from retention_data import random_fans
from test_retention_cohorts import brute_force

from fanlib.data.errors import AttributeProblem
from fanlib.data.fandata import connect
from fanlib.retention import cohorts
from fanlib.retention.segments import choose_segments, fan_segments

AS_OF = dt.date(2025, 6, 30)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    fans, events, orders = random_fans(n=300, seed=21)
    rng = np.random.default_rng(21)
    fans["score"] = rng.normal(50, 10, len(fans)).round(3)
    attrs = pd.DataFrame({"fan_id": fans["fan_id"], "segment": rng.choice(["gold", "silver", None], len(fans))})
    tables = {"fans": fans, "events": events, "orders": orders, "fan_attributes": attrs}
    fd = connect(frames_to_duckdb(tables, tmp_path_factory.mktemp("seg") / "d.duckdb"))
    return fd, fans.merge(attrs, on="fan_id"), events, orders


def test_curves_by_a_categorical_and_a_numeric_column_match_pandas(data):
    fd, fans, events, orders = data
    got = cohorts.retention_curves_by(fd, ["segment", "score"], period="day", max_periods=20, as_of=AS_OF, bins=4)
    # categorical: its values, missing ones "unknown"
    ref = brute_force(
        fans, events, orders, period="day", max_period=20, as_of=AS_OF, key=lambda f: f.segment or "unknown"
    )
    curve = got["segment"].set_index(["segment", "period"])
    assert set(curve.index.get_level_values(0)) == {"gold", "silver", "unknown"}
    for (group, k), r in ref.iterrows():
        assert (curve.loc[(group, k), "eligible"], curve.loc[(group, k), "retained_on"]) == (r["eligible"], r["on"])
    # numeric: quartiles of the fans who started by the analysis date, as pandas computes them
    started = fans[fans["join_time"].dt.date <= AS_OF]
    edges = np.quantile(started["score"], [0.25, 0.5, 0.75])
    quartile = dict(zip(fans["fan_id"], np.searchsorted(edges, fans["score"], side="left") + 1, strict=True))
    ref = brute_force(fans, events, orders, period="day", max_period=20, as_of=AS_OF, key=lambda f: quartile[f.fan_id])
    curve = got["score"].assign(q=lambda d: d["score"].str.slice(1, 2).astype(int)).set_index(["q", "period"])
    assert sorted(got["score"]["score"].unique())[0].startswith("Q1 ≤ ")
    for (q, k), r in ref.iterrows():
        assert (curve.loc[(q, k), "eligible"], curve.loc[(q, k), "retained_on"]) == (r["eligible"], r["on"])


def test_default_segments_are_the_built_in_ones_with_two_values_and_unknown_names_are_refused(data):
    fd, fans, *_ = data
    assert choose_segments(fd, None) == ["channel", "community_id", "city_tier"]
    assert choose_segments(fd, ["score", "score"]) == ["score"]
    labels = fan_segments(fd, ["channel", "segment"], as_of=AS_OF)
    assert len(labels) == len(fans) and set(labels["segment"]) == {"gold", "silver", "unknown"}
    with pytest.raises(AttributeProblem, match="womens"):
        cohorts.retention_curves_by(fd, ["womens"], period="day", max_periods=5, as_of=AS_OF)
