"""RFM scores, fan classes, layers, transitions, portraits and the export, checked by hand on the tiny table.

Window: the 7 days 2025-03-03 … 2025-03-09. Buyers in it: F01 (O1 100 + O2 50, last 03-08 22:00),
F02 (O4 120, last 03-07 20:30), F05 (O5 200, 03-06 15:00), F07 (O6 60, 03-09 10:00).
"""

from __future__ import annotations

import pandas as pd
import pytest
from openpyxl import load_workbook
from profiling_tinydata import AS_OF, connect_tiny
from pytest import approx

from fanlib.present.i18n import messages
from fanlib.profiling import layers as L
from fanlib.profiling import portraits
from fanlib.profiling.export import export_fans, fan_export_frame
from fanlib.profiling.profile import fan_profile, tier_shares
from fanlib.profiling.queries_features import fan_features
from fanlib.profiling.rfm import segment_value
from fanlib.profiling.stats import PROFILING_Z, chi_square
from fanlib.profiling.tiers import TierRules, assign_tiers, high_value_threshold
from fanlib.stats.intervals import wilson_interval

TIER_RULES = TierRules(
    high_value_top_share=0.25,
    loyal_min_tenure_days=10,
    loyal_min_orders=2,
    active_min_interactions_per_30d=10,
    active_min_shares=1,
)
LAYER_RULES = L.LayerRules(
    window_days=7,
    core_min_interactions_per_30d=12,
    core_min_orders=1,
    active_min_interactions_per_30d=8,
    potential_min_intent_per_30d=1,
    min_present_days=1,
)


@pytest.fixture(scope="module")
def fd(tmp_path_factory):
    return connect_tiny(tmp_path_factory.mktemp("tiny") / "tiny.duckdb")


@pytest.fixture(scope="module")
def profile(fd):
    return fan_profile(fd, AS_OF, 7, TIER_RULES, LAYER_RULES)


@pytest.fixture(scope="module")
def frame(fd, profile):
    return fd.execute(profile.table).set_index("fan_id")


def test_features_by_hand(frame):
    assert sorted(frame.index) == [f"F0{i}" for i in range(1, 10)]  # F10 joins after the window
    f01 = frame.loc["F01"]
    assert (f01.events, f01.interactions, f01.browsing, f01.orders, f01.spend) == (5, 3, 2, 2, 150.0)
    assert f01.days_since_order == approx(26 / 24)  # 03-08 22:00 → 03-10 00:00
    assert frame.loc["F06", "observed_days"] == approx(4 + 15 / 24)  # joined 03-05 09:00
    assert frame.loc["F06", "interactions_per_30d"] == approx(2 / (4 + 15 / 24) * 30)
    assert frame.loc["F09", "events"] == 0 and frame.loc["F09", "interaction_share"] == 0.0  # no events: zeros
    assert frame.loc["F02", "orders_total"] == 2 and frame.loc["F02", "spend_total"] == 200.0


def test_rfm_scores_and_ties_by_hand(frame):
    # R (longest ago first): F05 3.38 d → 1, F02 2.15 → 2, F01 1.08 → 4, F07 0.58 → 5 (1 + floor(5 × rank/3)).
    assert frame.loc[["F05", "F02", "F01", "F07"], "r_score"].tolist() == [1, 2, 4, 5]
    # F: F02, F05, F07 tie at one order and share the lowest rank → 1; F01 (2 orders) → 5.
    assert frame.loc[["F02", "F05", "F07", "F01"], "f_score"].tolist() == [1, 1, 1, 5]
    assert frame.loc[["F07", "F02", "F01", "F05"], "m_score"].tolist() == [1, 2, 4, 5]
    assert frame.loc["F01", "rfm_code"] == "454"
    seg = frame.rfm_segment
    assert seg["F01"] == "loyal" and seg["F02"] == "hibernating" and seg["F05"] == "hibernating"
    assert seg["F07"] == "new_customers"
    assert (frame.loc[["F03", "F04", "F06", "F08", "F09"], "r_score"] == 0).all()
    assert (seg[["F03", "F04", "F06", "F08", "F09"]] == "no_purchase").all()


def test_rfm_gmv_share_by_hand(fd, profile):
    sv = segment_value(fd, profile.table)
    t = sv.table.set_index("segment")
    assert sv.total_gmv == 530.0
    assert t.loc["loyal", "gmv_share"] == approx(150 / 530)
    assert t.loc["hibernating", "gmv_share"] == approx(320 / 530)
    assert t.loc["no_purchase", "fans"] == 5 and t.loc["no_purchase", "gmv_share"] == 0
    assert sv.share_of(["loyal", "new_customers"]) == approx(210 / 530)
    assert not sv.notes


def test_tiers_by_hand(fd, profile, frame):
    # High-value line: continuous 75th percentile of [60, 120, 150, 200] = 150 + 0.25 × 50.
    assert profile.high_value_spend == approx(162.5)
    tier = frame.tier
    assert tier["F05"] == "high_value"
    assert tier["F01"] == "loyal" and tier["F02"] == "loyal"  # 2 lifetime orders, member ≥ 10 days
    assert tier["F06"] == "active"  # 2 interactions in 4.6 days ≈ 13 per 30 days
    assert tier["F08"] == "active"  # one share
    assert set(tier[["F03", "F04", "F07", "F09"]]) == {"ordinary"}
    shares = tier_shares(fd, profile).set_index("tier")
    assert shares.fans.tolist() == [1, 2, 2, 4] and shares.fans.sum() == 9
    assert shares.loc["high_value", "gmv_share"] == approx(200 / 530)
    assert shares.loc["high_value", "ci_low"] == approx(wilson_interval(1, 9, PROFILING_Z)[0])


def test_tier_precedence_makes_classes_exclusive(fd):
    # A fan who meets every rule is high-value; without the high-value rule, loyal wins over active.
    feats = fan_features(fd, AS_OF, 7)
    every = TierRules(
        high_value_top_share=0.9,
        loyal_min_tenure_days=0,
        loyal_min_orders=1,
        active_min_interactions_per_30d=0,
        active_min_shares=0,
    )
    t = fd.execute(assign_tiers(feats, high_value_threshold(fd, feats, every), every)).set_index("fan_id").tier
    assert t["F01"] == "high_value"
    no_hv = fd.execute(assign_tiers(feats, None, every)).set_index("fan_id").tier
    assert no_hv["F01"] == "loyal" and no_hv["F04"] == "active"
    assert no_hv.notna().all() and len(no_hv) == 9


def test_layers_by_hand(fd, profile, frame):
    # Presence runs from joining (or 03-03) to the last event or order; rates use at least 7 days.
    assert frame.loc["F01", "present_days"] == approx(5 + 22 / 24)  # 03-03 → order O2 03-08 22:00
    assert frame.loc["F01", "interactions_per_present_30d"] == approx(3 / 7 * 30)
    assert frame.loc["F09", "present_days"] == 0.0
    lay = frame.layer
    assert lay["F01"] == "core"  # 12.9 interactions / 30 d and 2 orders
    assert set(lay[["F02", "F04", "F06", "F08"]]) == {"active"}  # 2 interactions in ≥ 7 days: 8.6 / 30 d
    assert lay["F05"] == "potential"  # no interaction, but a click and an order: intent 8.6 / 30 d
    assert lay["F03"] == "silent"  # one view in 6.9 days
    assert lay["F07"] == "unrated"  # joined 03-08 20:00, last seen 03-09 10:00: 0.58 days < 1
    assert lay["F09"] == "lapsed"  # no event, no order
    ls = L.layer_shares(fd, profile.table)
    assert ls.n == 7 and ls.outside == {"lapsed": 1, "unrated": 1}
    assert ls.shares == approx({"core": 1 / 7, "active": 4 / 7, "potential": 1 / 7, "silent": 1 / 7})
    assert ls.table.set_index("layer").loc["core", "gap"] == approx(1 / 7 - 0.15)


def test_layer_rules_reject_an_impossible_presence():
    with pytest.raises(ValueError, match="min_present_days"):
        L.assign_layers(None, L.LayerRules(window_days=7, min_present_days=30))


def test_transition_matrix_by_hand(fd):
    tr = L.layer_transitions(fd, AS_OF, LAYER_RULES, period_days=7)
    c = tr.counts
    # Previous week (02-24 … 03-02): no events; F02 ordered (O3, 02-25) → potential; the rest lapsed.
    assert c.loc["potential"].to_dict() == {
        "core": 0,
        "active": 1,
        "potential": 0,
        "silent": 0,
        "lapsed": 0,
        "unrated": 0,
    }
    assert c.loc["lapsed"].to_dict() == {"core": 1, "active": 2, "potential": 1, "silent": 1, "lapsed": 1, "unrated": 0}
    assert c.loc["new"].to_dict() == {"core": 0, "active": 1, "potential": 0, "silent": 0, "lapsed": 0, "unrated": 1}
    assert c.loc[["core", "active", "silent", "unrated"]].to_numpy().sum() == 0
    assert tr.stayed_share == 0.0  # the one fan layered in both weeks (F02) moved up
    s = tr.summary().set_index("previous")
    assert s.loc["potential", "up"] == 1.0 and s.loc["potential", "lapsed"] == 0.0


def test_portraits_by_hand(fd):
    base = portraits.portrait_base(fd, AS_OF)
    g = portraits.distribution(fd, base, "gender").set_index("category")
    assert g.loc["female", "fans"] == 6 and g.loc["female", "share"] == approx(6 / 9)
    lo, hi = wilson_interval(6, 9, PROFILING_Z)
    assert (g.loc["female", "ci_low"], g.loc["female", "ci_high"]) == (approx(lo), approx(hi))
    age = portraits.distribution(fd, base, "age_band").set_index("category").fans
    # Ages in 2025: 30, 24, 37, 33, 46, 22, 35, unknown, 40.
    assert age.to_dict() == {"18–24": 2, "25–30": 1, "31–35": 2, "36–45": 2, "46+": 1, "unknown": 1}
    prov = portraits.distribution(fd, base, "province")
    assert prov.category.iloc[0] == "广东" and prov.fans.iloc[0] == 3
    b = portraits.breakdown(fd, base, "gender", "community_id")
    assert b.counts.loc["C1"].to_dict() == {"female": 4, "unknown": 0, "male": 1}
    assert b.test is not None and not b.significant  # nine fans cannot show a difference
    assert "no significant difference" in b.finding()


def test_chi_square_claims_only_significant_differences():
    strong = pd.DataFrame({"a": [300, 100], "b": [100, 300]}, index=["g1", "g2"])
    weak = pd.DataFrame({"a": [50, 52], "b": [50, 48]}, index=["g1", "g2"])
    assert chi_square(strong).significant() and not chi_square(weak).significant()
    b = portraits.Breakdown("gender", "community_id", strong, chi_square(strong))
    d = b.largest_difference()
    assert d["category"] in ("a", "b") and d["high_share"] == 0.75 and d["low_share"] == 0.25
    assert "Gender: communities differ" in b.finding()
    assert "各社群之间差异显著" in b.finding(messages("fan_profiling", "zh"))
    assert chi_square(strong.iloc[:1]) is None


def test_export_csv_and_excel(fd, profile, tmp_path):
    seg = pd.DataFrame({"fan_id": ["F01", "F02"], "segment": [0, 1]})
    df = fan_export_frame(fd, profile, seg)
    files = export_fans(df, tmp_path)
    csv = pd.read_csv(files["csv"], encoding="utf-8-sig")
    assert len(csv) == 9 and {"tier", "layer", "r_score", "f_score", "m_score", "rfm_segment", "segment"} <= set(csv)
    assert csv.set_index("fan_id").loc["F01", "segment"] == 0
    assert files["csv"].read_bytes()[:3] == b"\xef\xbb\xbf"
    wb = load_workbook(files["xlsx"])
    assert len(wb.sheetnames) == 4 and wb.sheetnames[0].startswith("高价值粉丝")
    rows = {name: wb[name].max_row - 1 for name in wb.sheetnames}
    assert list(rows.values()) == [1, 2, 2, 4]
    first = list(wb[wb.sheetnames[0]].iter_rows(values_only=True))
    assert first[0][0] == "fan_id" and first[1][0] == "F05"
