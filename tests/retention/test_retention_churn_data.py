"""Churn training data at scale: one engine query for every cut-off gives exactly the features and
labels that a plain pandas computation over the raw rows gives, cut-off by cut-off; the training-row cap
samples by class and keeps the model's quality."""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pandas as pd
import pytest

from fanlib.data.asof import data_end
from fanlib.data.fandata import connect
from fanlib.retention import churn_features as churn_data
from fanlib.retention import churn_labels, churn_models
from fanlib.retention.durations import NEGATIVE_PATTERN
from fanlib.retention.errors import RetentionInputError

pytestmark = pytest.mark.filterwarnings("ignore::fanlib.retention.activity.RetentionDataWarning")


@pytest.fixture(scope="module")
def small(small_demo_path):
    return connect(small_demo_path)


@pytest.fixture(scope="module")
def raw(small_demo_path) -> dict[str, pd.DataFrame]:
    con = duckdb.connect(str(small_demo_path), read_only=True)
    try:
        return {name: con.sql(f"SELECT * FROM {name}").df() for name in ("fans", "events", "orders", "comments")}
    finally:
        con.close()


def _reference_features(
    raw: dict, cutoff: dt.date, active_within_days: int = 7, basis: str = "activity", population: str = "active"
) -> pd.DataFrame:
    """The features of the module notes, fan by fan, in pandas from the raw rows before the cut-off."""
    c = pd.Timestamp(cutoff)
    fans = raw["fans"][raw["fans"]["join_time"] < c].set_index("fan_id")
    ev = raw["events"][raw["events"]["event_time"] < c].assign(day=lambda d: d["event_time"].dt.normalize())
    ev["ago"] = (c - ev["day"]).dt.days
    last30 = ev[ev["ago"] <= 30]
    checkins30 = last30[last30["event_type"] == "checkin"]
    od = raw["orders"][raw["orders"]["order_time"] < c].assign(day=lambda d: d["order_time"].dt.normalize())
    od90 = od[(c - od["day"]).dt.days <= 90]
    cm = raw["comments"][raw["comments"]["comment_time"] < c]
    negative = np.where(
        cm["label"].notna(), cm["label"] == "negative", cm["text"].fillna("").str.contains(NEGATIVE_PATTERN, regex=True)
    )
    f = pd.DataFrame(index=fans.index)
    f["channel"] = fans["channel"]
    f["last_event"] = ev.groupby("fan_id")["day"].max()
    f["last_order"] = od.groupby("fan_id")["day"].max()
    f["active_days_30"] = last30.groupby("fan_id")["day"].nunique()
    f["events_30"] = last30.groupby("fan_id").size()
    f["events_90"] = ev[ev["ago"] <= 90].groupby("fan_id").size()
    f["inter_30"] = last30[last30["event_type"].isin(churn_data.INTERACTIVE)].groupby("fan_id").size()
    f["checkin_days_30"] = checkins30.groupby("fan_id")["day"].nunique()
    f["checkin_ever"] = ev[ev["event_type"] == "checkin"].groupby("fan_id").size().clip(upper=1)
    f["orders_90"] = od90.groupby("fan_id").size()
    f["spend_90"] = od90.groupby("fan_id")["amount_cny"].sum()
    f["orders_total"] = od.groupby("fan_id").size()
    f["spend_total"] = od.groupby("fan_id")["amount_cny"].sum()
    f["comments_total"] = cm.groupby("fan_id").size()
    f["negative_comments"] = cm[negative].groupby("fan_id").size()
    counts = [
        "active_days_30",
        "events_30",
        "events_90",
        "inter_30",
        "checkin_days_30",
        "checkin_ever",
        "orders_90",
        "spend_90",
        "orders_total",
        "spend_total",
        "comments_total",
        "negative_comments",
    ]
    f[counts] = f[counts].fillna(0).astype(float)
    last_active = f[["last_event", "last_order"]].max(axis=1) if basis == "activity" else f["last_order"]
    f["days_since_active"] = (c - last_active).dt.days.astype(float)
    if population == "active":
        f = f[f["days_since_active"] <= active_within_days].copy()
    else:
        f = f[f["last_order"].notna()].copy()
    f["tenure_days"] = (c - fans.loc[f.index, "join_time"].dt.normalize()).dt.days.astype(float)
    f["days_since_order"] = (c - f["last_order"]).dt.days.astype(float).fillna(f["tenure_days"] + 1)
    f["interactive_share_30"] = np.where(f["events_30"] > 0, f["inter_30"] / f["events_30"].clip(lower=1), 0.0)
    f["negative_share"] = np.where(
        f["comments_total"] > 0, f["negative_comments"] / f["comments_total"].clip(lower=1), 0.0
    )
    return f.sort_index()


def _reference_churned(
    raw: dict, fan_ids, cutoff: dt.date, horizon_days: int = 30, churn_days: int = 30, basis: str = "activity"
):
    start = pd.Timestamp(cutoff + dt.timedelta(days=horizon_days))
    stop = start + pd.Timedelta(days=churn_days)  # exclusive: the window is start … start + churn_days − 1
    ev, od = raw["events"], raw["orders"]
    seen = set(od.loc[(od["order_time"] >= start) & (od["order_time"] < stop), "fan_id"])
    if basis == "activity":
        seen |= set(ev.loc[(ev["event_time"] >= start) & (ev["event_time"] < stop), "fan_id"])
    return pd.Series([0 if f in seen else 1 for f in fan_ids], index=fan_ids)


def test_one_query_for_all_cutoffs_equals_pandas_per_cutoff(small, raw):
    trains, test_c = churn_labels.oot_cutoffs(small)
    today = data_end(small) + dt.timedelta(days=1)
    cutoffs = [*trains, test_c, today]
    got = churn_data.churn_datasets(small, cutoffs, labelled=[True] * (len(trains) + 1) + [False])
    assert list(dict.fromkeys(got["cutoff"])) == cutoffs  # in the order given, then by fan id
    channels = got.attrs["channels"]
    for cutoff in cutoffs:
        part = got[got["cutoff"] == cutoff].set_index("fan_id")
        assert part.index.is_monotonic_increasing
        ref = _reference_features(raw, cutoff)
        assert list(part.index) == list(ref.index), cutoff
        assert len(part) > 50  # a real comparison, not two empty frames
        for col in ("days_since_active", *churn_data.FEATURES):
            np.testing.assert_allclose(
                part[col].to_numpy(float), ref[col].to_numpy(float), rtol=1e-12, err_msg=f"{col} at {cutoff}"
            )
        for ch in channels:
            assert (part[f"channel_{ch}"] == (ref["channel"] == ch).astype(float)).all()
        if cutoff == today:
            assert part["churned"].isna().all()  # today has no label yet
        else:
            expected = _reference_churned(raw, part.index, cutoff)
            assert (part["churned"].astype(int) == expected).all(), cutoff
            assert 0 < expected.mean() < 1


@pytest.mark.parametrize(
    "basis, population", [("order", "active"), ("activity", "ever_bought"), ("order", "ever_bought")]
)
def test_churn_basis_and_the_population_of_every_buyer_equal_pandas(small, raw, basis, population):
    """Orders-only activity moves eligibility, the days since last active and the label; every buyer is
    scored however long ago they were last active (the last event ever, not the last in 90 days)."""
    trains, test_c = churn_labels.oot_cutoffs(small)
    cutoffs = [trains[-1], test_c]
    got = churn_data.churn_datasets(small, cutoffs, basis=basis, population=population)
    assert got.attrs["basis"] == basis and got.attrs["population"] == population
    for cutoff in cutoffs:
        part = got[got["cutoff"] == cutoff].set_index("fan_id")
        ref = _reference_features(raw, cutoff, basis=basis, population=population)
        assert list(part.index) == list(ref.index) and len(part) > 20, cutoff
        for col in ("days_since_active", *churn_data.FEATURES):
            np.testing.assert_allclose(
                part[col].to_numpy(float), ref[col].to_numpy(float), rtol=1e-12, err_msg=f"{col} at {cutoff}"
            )
        expected = _reference_churned(raw, part.index, cutoff, basis=basis)
        assert (part["churned"].astype(int) == expected).all(), cutoff
    if population == "ever_bought":
        assert got["days_since_active"].max() > 90  # long-quiet buyers are scored too


def test_single_cutoff_functions_agree_with_the_combined_query(small):
    cutoff = churn_labels.oot_cutoffs(small)[1]
    together = churn_data.churn_datasets(small, [cutoff])
    one = churn_data.churn_dataset(small, cutoff)
    pd.testing.assert_frame_equal(together.drop(columns="cutoff"), one)
    features = churn_data.churn_features(small, cutoff)
    pd.testing.assert_frame_equal(features, one.drop(columns="churned"))
    labels = churn_labels.label_churn(small, features["fan_id"], cutoff)
    assert (labels["churned"].to_numpy() == one["churned"].to_numpy()).all()


def test_combined_query_checks_every_cutoff(small):
    end = data_end(small)
    with pytest.raises(RetentionInputError, match=f"the label for cut-off {end} needs data up to"):
        churn_data.churn_datasets(small, [end - dt.timedelta(days=90), end])
    with pytest.raises(RetentionInputError, match="is after the data ends"):
        churn_data.churn_datasets(small, [end + dt.timedelta(days=5)], labelled=False)
    with pytest.raises(ValueError, match="one flag per cut-off"):
        churn_data.churn_datasets(small, [end], labelled=[True, False])


def test_stratified_sample_keeps_each_class_share():
    y = np.r_[np.ones(3_000, dtype=int), np.zeros(17_000, dtype=int)]
    np.random.default_rng(5).shuffle(y)
    rows = churn_models.stratified_sample(y, 2_000, random_state=3)
    assert rows.size == 2_000 and np.unique(rows).size == 2_000 and (np.diff(rows) > 0).all()
    assert y[rows].sum() == 300  # 15% churners, as in all rows
    assert (rows == churn_models.stratified_sample(y, 2_000, random_state=3)).all()  # seeded
    assert not (rows == churn_models.stratified_sample(y, 2_000, random_state=4)).all()
    assert churn_models.stratified_sample(y, 20_000) is None and churn_models.stratified_sample(y, None) is None


@pytest.fixture(scope="module")
def demo_sets(demo_path):
    fd = connect(demo_path)
    trains, test_c = churn_labels.oot_cutoffs(fd)
    d = churn_data.churn_datasets(fd, [*trains, test_c])
    train = d[d["cutoff"].isin(trains)].drop(columns="cutoff").reset_index(drop=True)
    test = d[d["cutoff"] == test_c].drop(columns="cutoff").reset_index(drop=True)
    return train, test


@pytest.mark.parametrize("kind", ["logistic", "boosting"])
def test_capped_training_rows_keep_the_models_quality(demo_sets, kind):
    """Fitting on a stratified half of the demo's training rows (the cap at work) scores the test fans
    about as well as fitting on all of them: the cap is an approximation, not a different model."""
    train, test = demo_sets
    cap = len(train) // 2
    full = churn_models.ChurnModel(kind).fit(train)
    capped = churn_models.ChurnModel(kind, max_train_rows=cap).fit(train)
    assert (full.n_train_, full.n_fit_) == (len(train), len(train))
    assert (capped.n_train_, capped.n_fit_) == (len(train), cap)
    assert capped.base_rate_ == full.base_rate_  # the training churn rate is of every row
    p_full, p_capped = full.predict_proba(test), capped.predict_proba(test)
    m_full, m_capped = churn_models.evaluate(test["churned"], p_full), churn_models.evaluate(test["churned"], p_capped)
    assert abs(m_capped["roc_auc"] - m_full["roc_auc"]) < 0.02, (m_capped, m_full)
    assert abs(m_capped["ece"] - m_full["ece"]) < 0.015, (m_capped, m_full)


def test_declared_fan_attributes_are_features_as_of_each_cutoff(tmp_path):
    """An extra column of fans (numeric) and a fan_attributes column with an as_of time (categorical): each
    cut-off sees the latest value recorded before it, one-hot for the categorical; unknown names are refused."""
    from helpers import frames_to_duckdb
    from retention_data import random_fans

    from fanlib.data.errors import AttributeProblem

    fans, events, orders = random_fans(n=300, seed=4)
    fans["score"] = np.arange(len(fans), dtype=float)
    fans.loc[fans.index[::10], "score"] = np.nan  # missing: the median
    change = pd.Timestamp("2025-05-15")
    attrs = pd.concat(
        [
            pd.DataFrame({"fan_id": fans["fan_id"], "as_of": pd.Timestamp("2025-01-01"), "tier": "silver"}),
            pd.DataFrame({"fan_id": fans["fan_id"].iloc[::2], "as_of": change, "tier": "gold"}),
        ],
        ignore_index=True,
    )
    path = frames_to_duckdb(
        {"fans": fans, "events": events, "orders": orders, "fan_attributes": attrs}, tmp_path / "d.duckdb"
    )
    fd = connect(path)
    before, after = dt.date(2025, 5, 15), dt.date(2025, 5, 16)  # the change is recorded during 15 May
    got = churn_data.churn_datasets(fd, [before, after], labelled=False, attributes=["score", "tier"])
    assert got.attrs["attributes"] == {"score": "numeric", "tier": "categorical"}
    assert {"attr:score", "attr:tier=gold", "attr:tier=silver"} <= set(churn_data.feature_columns(got))
    gold = set(fans["fan_id"].iloc[::2])
    for cutoff, changed in ((before, False), (after, True)):
        part = got[got["cutoff"] == cutoff].set_index("fan_id")
        expected_gold = part.index.isin(list(gold)) & changed
        assert (part["attr:tier=gold"].to_numpy() == expected_gold.astype(float)).all(), cutoff
        assert (part["attr:tier=silver"] == 1 - part["attr:tier=gold"]).all()
        score = fans.set_index("fan_id").loc[part.index, "score"]
        median = part.loc[score.notna(), "attr:score"].median()
        assert (part.loc[score.notna(), "attr:score"] == score.dropna()).all()
        assert np.isfinite(part["attr:score"]).all() and part.loc[score.isna(), "attr:score"].nunique() <= 1
        assert median == median  # a real number for the missing ones to take
    with pytest.raises(AttributeProblem, match="womens"):
        churn_data.churn_datasets(fd, [before], labelled=False, attributes=["womens"])
