"""The core aggregations agree across engines on the small demo: counts exactly, floats to 1e-9 relative.

DuckDB is the reference. PostgreSQL runs when ``FANLIB_TEST_PG_URL`` points at a
server (``make test`` starts one with ``.ci/postgres.sh``); Spark runs under
``make test-spark`` (``FANLIB_TEST_SPARK=1`` and PySpark installed). Each skips
with its reason otherwise.
"""

from __future__ import annotations

import os
import uuid

import numpy as np
import pandas as pd
import pytest

from fanlib.data.fandata import connect

NOW = "2026-01-01 00:00:00"
AS_OF = "2025-12-31"


# --------------------------------------------------------------------------- engines


def _postgres_source(small_demo_path):
    url = os.environ.get("FANLIB_TEST_PG_URL")
    if not url:
        pytest.skip("FANLIB_TEST_PG_URL is not set: `bash .ci/postgres.sh start ENV_FILE && source ENV_FILE`")
    import ibis

    try:
        ibis.connect(url).disconnect()
    except Exception as e:
        pytest.skip(f"the PostgreSQL server at FANLIB_TEST_PG_URL cannot be reached: {type(e).__name__}")
    from fanlib.data.load import to_postgres

    schema = f"engines_{uuid.uuid4().hex[:8]}"
    to_postgres(small_demo_path, url, schema=schema)
    sep = "&" if "?" in url else "?"

    def drop():
        con = ibis.connect(url)
        con.raw_sql(f'DROP SCHEMA "{schema}" CASCADE')
        con.disconnect()

    return f"{url}{sep}schema={schema}", drop


def _spark_source(small_demo_path, tmp_path_factory):
    if os.environ.get("FANLIB_TEST_SPARK") != "1":
        pytest.skip("Spark runs under `make test-spark` (FANLIB_TEST_SPARK=1)")
    pytest.importorskip("pyspark", reason="PySpark is not installed: pip install -e '.[spark]'")
    from fanlib.data.load import to_parquet

    folder = tmp_path_factory.mktemp("spark_tables")
    to_parquet(small_demo_path, folder)
    return f"spark://local{folder}", lambda: None


@pytest.fixture(scope="module")
def reference(small_demo_path):
    fd = connect(small_demo_path, now=NOW)
    yield fd
    fd.close()


@pytest.fixture(scope="module", params=["postgres", "spark"])
def other(request, small_demo_path, tmp_path_factory):
    if request.param == "postgres":
        source, cleanup = _postgres_source(small_demo_path)
    else:
        source, cleanup = _spark_source(small_demo_path, tmp_path_factory)
    fd = connect(source, now=NOW)
    yield fd
    fd.close()
    cleanup()


# --------------------------------------------------------------------------- comparison


def assert_same(left: pd.DataFrame, right: pd.DataFrame, keys: list[str], what: str) -> None:
    """Same rows (matched on ``keys``), integers and text equal, floats equal to 1e-9 relative."""
    assert list(left.columns) == list(right.columns), what
    assert len(left) == len(right), f"{what}: {len(left)} rows against {len(right)}"
    left = left.sort_values(keys).reset_index(drop=True)
    right = right.sort_values(keys).reset_index(drop=True)
    for col in left.columns:
        a, b = left[col], right[col]
        if pd.api.types.is_float_dtype(a) or pd.api.types.is_float_dtype(b):
            a, b = a.astype(float).to_numpy(), b.astype(float).to_numpy()
            integral = np.all(np.isnan(a) | (a == np.round(a)))
            if integral and np.all(np.isnan(b) | (b == np.round(b))):
                np.testing.assert_array_equal(a, b, err_msg=f"{what}: {col} (counts)")
            else:
                np.testing.assert_allclose(a, b, rtol=1e-9, atol=0, equal_nan=True, err_msg=f"{what}: {col}")
        elif pd.api.types.is_datetime64_any_dtype(a) or pd.api.types.is_datetime64_any_dtype(b):
            assert (pd.to_datetime(a).to_numpy() == pd.to_datetime(b).to_numpy()).all(), f"{what}: {col}"
        else:
            assert [_plain(v) for v in a] == [_plain(v) for v in b], f"{what}: {col}"


def _plain(v):
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
        return None
    if isinstance(v, (np.integer,)):
        return int(v)
    if hasattr(v, "isoformat"):
        return pd.Timestamp(v).isoformat()
    return v


# --------------------------------------------------------------------------- the core aggregations


def daily(fd, by=None):
    from fanlib.executive.queries import daily_kpis

    return daily_kpis(fd, by=by)


def per_fan_features(fd):
    from fanlib.profiling.features import fan_features

    t = fan_features(fd, pd.Timestamp(AS_OF).date(), window_days=90)
    frame = fd.execute(t, label="engines:features")
    # Timestamps come back with engine-specific units; compare them as timestamps.
    return frame


def ab_moments(fd):
    from fanlib.ab.outcomes import Metric, experiment_units, variant_moments

    experiments = fd.execute(fd.assignments.select("experiment_id").distinct(), label="engines:experiments")
    rows = []
    metrics = {m.name: m for m in (
        Metric("conversion", "proportion", "converted", covariates=("pre_converted",)),
        Metric("revenue_per_fan", "mean", "revenue", covariates=("pre_revenue", "pre_orders")),
        Metric("revenue_per_order", "ratio", "revenue", denominator="orders"),
        Metric("events", "mean", "events", covariates=("pre_events",)),
    )}
    for exp in sorted(experiments.experiment_id):
        units = experiment_units(fd, exp)
        moments = variant_moments(fd, units, metrics, by=("channel",))
        for key, per_metric in moments.items():
            for name, m in per_metric.items():
                row = {"experiment": exp, "group": "/".join(key), "metric": name, "n": m.n}
                row.update({f"s{i}": float(v) for i, v in enumerate(m.sums)})
                row.update({f"c{i}{j}": float(m.cross[i, j]) for i in range(len(m.sums)) for j in range(len(m.sums))})
                rows.append(row)
    return pd.DataFrame(rows)


def cohort_cells(fd):
    from fanlib.retention.cohorts import cohort_table

    return cohort_table(fd, period="week", max_periods=8, as_of=AS_OF, min_cohort_size=1).cells


@pytest.mark.postgres
def test_daily_kpis_agree(reference, other):
    assert_same(daily(other), daily(reference), ["date"], "daily KPIs")
    assert_same(daily(other, "channel"), daily(reference, "channel"), ["date", "channel"], "daily KPIs by channel")


@pytest.mark.postgres
def test_per_fan_features_agree(reference, other):
    ref = per_fan_features(reference)
    assert len(ref) > 1000  # the comparison covers the whole fan base, not an empty window
    assert_same(per_fan_features(other), ref, ["fan_id"], "per-fan features")


@pytest.mark.postgres
def test_ab_sufficient_statistics_agree(reference, other):
    ref = ab_moments(reference)
    assert ref.experiment.nunique() >= 2 and ref.n.sum() > 0
    got = ab_moments(other)
    assert_same(got[ref.columns], ref, ["experiment", "group", "metric"], "A/B moments")


@pytest.mark.postgres
def test_cohort_counts_agree(reference, other):
    ref = cohort_cells(reference)
    assert ref.cohort_size.sum() > 0
    assert_same(cohort_cells(other), ref, ["cohort", "period"], "cohort cells")


def test_comparison_catches_a_difference():
    """The comparison is strict: one count off, or a float off by 1e-8 relative, fails."""
    base = pd.DataFrame({"k": ["a", "b"], "n": [3.0, 4.0], "x": [0.1, 2.5]})
    assert_same(base.iloc[::-1].copy(), base, ["k"], "same rows in another order")
    with pytest.raises(AssertionError):
        assert_same(base.assign(n=[3.0, 5.0]), base, ["k"], "count")
    with pytest.raises(AssertionError):
        assert_same(base.assign(x=[0.1, 2.5 * (1 + 1e-8)]), base, ["k"], "float")
    assert_same(base.assign(x=[0.1, 2.5 * (1 + 1e-12)]), base, ["k"], "float within 1e-9")


def test_load_to_parquet_keeps_the_data(small_demo_path, tmp_path, reference):
    """`fanlib load --to parquet://` writes the layout the Spark source and `connect(folder)` read."""
    from fanlib.data.load import main

    assert main([str(small_demo_path), "--to", f"parquet://{tmp_path}"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{t}.parquet" for t in
                                                          sorted(("fans", "events", "orders", "comments",
                                                                  "assignments"))]
    with connect(tmp_path, now=NOW) as copy:
        assert copy.row_counts() == reference.row_counts()
        assert copy.fingerprint() == reference.fingerprint()


def test_load_rejects_an_unknown_target(small_demo_path, capsys):
    from fanlib.data.load import main

    assert main([str(small_demo_path), "--to", "mysql://u@h/db"]) == 2
    assert "give a postgresql:// URL or a parquet:///folder" in capsys.readouterr().err


def test_database_urls_pass_through_path_resolution():
    """Notebooks call connect(str(resolve(source))): a URL must come out as it went in."""
    from fanlib.paths import resolve

    for url in ("postgresql://u:p@127.0.0.1:5432/db?schema=s", "spark://local/tmp/tables"):
        assert str(resolve(url)) == url
