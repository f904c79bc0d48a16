"""The overview on fans and orders alone: the order KPIs are computed and judged, the activity KPIs are
said to need events and the early warnings on them are named as not given (partial, never ok)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from helpers import frames_to_duckdb

from fanlib import executive as ex
from fanlib.data.fandata import connect
from fanlib.present.i18n import messages

TARGETS = """
programme_start: 2025-01-01
kpis:
  members: {report: 01_fan_profiling, key: members, unit: count, zh: 会员数, en: Members}
milestones:
  - {month: 3, name: {en: Seed, zh: 种子期}, targets: {members: 10}}
"""


def _shop(tmp_path):
    rng = np.random.default_rng(7)
    days = pd.date_range("2025-01-01", "2025-03-31", freq="D")
    rows = []
    for i, day in enumerate(days):
        for j in range(int(rng.poisson(30))):
            rows.append((f"O{i}-{j}", f"C{rng.integers(0, 400)}", day + pd.Timedelta(hours=int(rng.integers(8, 22)))))
    orders = pd.DataFrame(rows, columns=["order_id", "fan_id", "order_time"])
    orders["amount_cny"] = np.round(rng.lognormal(3, 0.5, len(orders)), 2)
    first = orders.groupby("fan_id").order_time.min()
    fans = pd.DataFrame(
        {"fan_id": first.index, "join_time": first.values, "channel": pd.Series([None] * len(first), dtype="string")}
    )
    return frames_to_duckdb({"fans": fans, "orders": orders}, tmp_path / "shop.duckdb"), orders


def test_the_overview_judges_the_order_kpis_and_names_the_activity_warnings(tmp_path):
    source, orders = _shop(tmp_path)
    (tmp_path / "targets.yaml").write_text(TARGETS, encoding="utf-8")
    run = tmp_path / "reports" / "2025-03-31"
    run.mkdir(parents=True)
    profiling = {"report": "01_fan_profiling", "status": "ok", "currency": "USD", "headline": []}
    (run / "01_fan_profiling.summary.json").write_text(json.dumps(profiling), encoding="utf-8")
    fd = connect(str(source), validate=False)
    params = dict(
        lang="en", currency="GBP", targets_path=str(tmp_path / "targets.yaml"), summary_path=str(run / "s.json")
    )
    result = ex.analyse(fd, params)
    assert result.as_of == pd.Timestamp("2025-03-31")
    # the order KPIs, as plain pandas counts them
    daily = result.daily.set_index("date")
    assert "active_fans" not in daily and "events" not in daily
    expected = orders.groupby(orders.order_time.dt.normalize()).agg(n=("order_id", "count"), gmv=("amount_cny", "sum"))
    assert (daily.orders == expected.n.reindex(daily.index).fillna(0)).all()
    assert np.allclose(daily.gmv, expected.gmv.reindex(daily.index).fillna(0))
    assert daily.new_members.sum() == orders.fan_id.nunique()
    # the early warnings that need events are said and named; the report is partial
    T = messages("executive", "en")
    assert result.needs_events == T("warnings_need_events", kpis="Daily active fans, Daily events")
    assert result.summary["status"] == "partial"
    assert result.summary["sections_failed"] == [T("sec_activity_warnings")]
    assert result.summary["currency"] == "GBP"
    # a report whose amounts are in another currency is flagged, not mixed in silently
    assert result.other_currency == {"01_fan_profiling": "USD"}
    # the channel is not known: a warning's drill-down names the unknown channel, never fails
    by_channel = ex.daily_kpis(fd, by="channel")
    assert set(by_channel.channel) == {"unknown"}
