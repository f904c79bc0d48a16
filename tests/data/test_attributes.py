"""A team's own fan-level columns: declared, read per fan (latest as of a date), and cut into segments."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import frames_to_duckdb, sample_tables

from fanlib.data.attributes import (
    check_segment,
    declared_columns,
    fan_attributes,
    quantile_edges,
    segment_labels,
)
from fanlib.data.errors import AttributeProblem
from fanlib.data.fandata import connect


@pytest.fixture()
def source(tmp_path):
    tables = sample_tables(n_fans=200, seed=3)
    rng = np.random.default_rng(1)
    fans = tables["fans"]
    fans["history"] = np.round(rng.gamma(2.0, 100.0, len(fans)), 2)
    fans["womens"] = rng.integers(0, 2, len(fans))
    fans["zip_code"] = rng.choice(["Urban", "Suburban", "Rural"], len(fans))
    fans["constant"] = "same"
    ids = fans.fan_id.tolist()
    attrs = pd.DataFrame(
        {
            "fan_id": ids[:100] + ids[:50],
            "as_of": [pd.Timestamp("2025-01-01")] * 100 + [pd.Timestamp("2025-03-01")] * 50,
            "score": [1.0] * 100 + [2.0] * 50,
            "tier_name": ["old"] * 100 + ["new"] * 50,
        }
    )
    tables["fan_attributes"] = attrs
    return frames_to_duckdb(tables, tmp_path / "d.duckdb"), fans, attrs


def test_declared_columns_lists_extras_contract_optionals_and_attribute_table(source):
    path, _, _ = source
    with connect(path) as fd:
        cols = declared_columns(fd)
    assert cols["history"] == "numeric" and cols["womens"] == "numeric"
    assert cols["zip_code"] == "categorical" and cols["channel"] == "categorical"
    assert cols["city_tier"] == "categorical"  # a code, not a quantity
    assert cols["score"] == "numeric" and cols["tier_name"] == "categorical"
    assert "fan_id" not in cols and "join_time" not in cols and "as_of" not in cols


def test_fan_attributes_takes_the_latest_row_at_or_before_the_as_of_date(source):
    path, fans, _ = source
    with connect(path) as fd:
        late = fd.execute(fan_attributes(fd, ["score", "history"]), label="t").set_index("fan_id")
        early = fd.execute(fan_attributes(fd, ["score"], as_of="2025-02-01"), label="t").set_index("fan_id")
    assert len(late) == len(fans)
    ids = fans.fan_id.tolist()
    assert (late.loc[ids[:50], "score"] == 2.0).all() and (late.loc[ids[50:100], "score"] == 1.0).all()
    assert late.loc[ids[100:], "score"].isna().all()
    assert (early.loc[ids[:100], "score"] == 1.0).all()
    assert np.allclose(late.loc[ids, "history"], fans.history)


def test_unknown_or_non_numeric_columns_are_refused_by_name(source):
    path, _, _ = source
    with connect(path) as fd:
        with pytest.raises(AttributeProblem, match="'hitsory'.*declared columns are .*history"):
            fan_attributes(fd, ["hitsory"])
        with pytest.raises(AttributeProblem, match="'zip_code' \\[not_numeric\\]"):
            fan_attributes(fd, ["zip_code"], numeric=True)


def test_numeric_segments_are_quantile_bins_matching_pandas(source):
    path, fans, _ = source
    with connect(path) as fd:
        t = fan_attributes(fd, ["history", "womens", "zip_code"])
        edges = quantile_edges(fd, t, "history", 4)
        labelled = t.mutate(
            h=segment_labels(fd, t, "history", bins=4),
            w=segment_labels(fd, t, "womens"),
            z=segment_labels(fd, t, "zip_code"),
        )
        got = fd.execute(labelled, label="t").set_index("fan_id").loc[fans.fan_id]
    assert np.allclose(edges, np.quantile(fans.history, [0.25, 0.5, 0.75]))
    expected_bin = np.searchsorted(np.array(edges), fans.history.to_numpy(), side="left") + 1
    assert (got.h.str.slice(1, 2).astype(int).to_numpy() == expected_bin).all()
    assert got.h.nunique() == 4 and got.h.str.startswith("Q1 ≤").any()
    assert set(got.w) == {"0", "1"}  # a 0/1 flag keeps its values
    assert set(got.z) == {"Urban", "Suburban", "Rural"}


def test_a_segment_needs_two_levels(source):
    path, _, _ = source
    with connect(path) as fd:
        check_segment(fd, "zip_code")
        with pytest.raises(AttributeProblem, match="'constant' \\[one_level\\]"):
            check_segment(fd, "constant")
