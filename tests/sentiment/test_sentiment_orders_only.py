"""The sentiment report on data without events (fans, orders and comments): the index, the alerts and the
drivers are given; the churn comparison, which needs the fans' activity, says so and is named (partial)."""

from __future__ import annotations

import shutil

import duckdb
import pytest

from fanlib.data.fandata import connect
from fanlib.present.i18n import messages
from fanlib.sentiment import analyse
from fanlib.sentiment.store import load_card, load_model


@pytest.fixture(scope="module")
def no_events(small_demo_path, tmp_path_factory):
    path = tmp_path_factory.mktemp("no_events") / "shop.duckdb"
    shutil.copy(small_demo_path, path)
    con = duckdb.connect(str(path))
    con.execute("DROP TABLE events")
    con.close()
    return connect(str(path), validate=False)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_sentiment_without_events_gives_its_answer_and_names_the_churn_section(no_events, lang):
    assert not no_events.has("events")
    result = analyse(no_events, {"lang": lang}, model=load_model(), card=load_card())
    T = messages("sentiment", lang)
    s = result.summary
    assert [h["key"] for h in s["headline"]][:4] == [
        "sentiment_index",
        "negative_share",
        "open_alerts",
        "alerts_in_period",
    ]
    assert result.by_channel is not None and result.by_layer is None and result.churn_link is None
    assert s["status"] == "partial" and s["sections_failed"] == [T("h_churn")]
    assert result.sections.failed[T("h_churn")] == T("why_no_churn_events")
