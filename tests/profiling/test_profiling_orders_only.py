"""Fans and orders alone (a retailer, a record shop): the portraits and the RFM value segments are given,
every section that rests on interactions says so and is named, and the report is partial, not failed."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pandas as pd
import pytest
from helpers import frames_to_duckdb

from fanlib.data.fandata import connect
from fanlib.present.i18n import messages
from fanlib.profiling import analyse
from fanlib.profiling.report import NEEDS_EVENTS, SECTIONS

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "01_fan_profiling.ipynb"

ORDERS = pd.DataFrame(
    {
        "order_id": [f"O{i}" for i in range(1, 11)],
        "fan_id": ["C1", "C1", "C1", "C2", "C2", "C3", "C4", "C5", "C5", "C6"],
        "order_time": pd.to_datetime(
            [
                "2025-01-05 10:00",
                "2025-02-10 12:00",
                "2025-03-28 09:00",
                "2025-02-01 15:00",
                "2025-03-30 16:00",
                "2025-01-20 11:00",
                "2025-03-15 18:00",
                "2025-03-01 08:00",
                "2025-03-02 08:30",
                "2024-11-01 10:00",
            ]
        ),
        "amount_cny": [20.0, 35.5, 12.0, 250.0, 80.0, 9.99, 45.0, 15.0, 15.0, 300.0],
        "source": ["community"] * 10,
    }
)


def _params(**changes) -> dict:
    ns: dict = {}
    exec(nbformat.read(NOTEBOOK, as_version=4).cells[0].source, ns)
    params = {n: ns[n] for n in ns["__annotations__"]}
    params.update(as_of=pd.Timestamp("2025-03-30").date(), n_bootstrap=2, lang="en")
    params.update(changes)
    return params


@pytest.fixture()
def orders_only(tmp_path) -> Path:
    """Six customers known only by their orders: they join at their first order, channel unknown; one
    column of the shop's own (``country``)."""
    first = ORDERS.groupby("fan_id").order_time.min()
    fans = pd.DataFrame(
        {
            "fan_id": first.index,
            "join_time": first.values,
            "channel": pd.Series([None] * len(first), dtype="string"),
            "country": ["United Kingdom", "France", "United Kingdom", "Germany", "United Kingdom", "France"],
        }
    )
    return frames_to_duckdb({"fans": fans, "orders": ORDERS}, tmp_path / "shop.duckdb")


def _expected_rfm(as_of: str, days: int) -> pd.DataFrame:
    """Orders, spend and recency per buyer in the window, computed with plain pandas."""
    end = pd.Timestamp(as_of) + pd.Timedelta(days=1)
    o = ORDERS[(ORDERS.order_time >= end - pd.Timedelta(days=days)) & (ORDERS.order_time < end)]
    return o.groupby("fan_id").agg(orders=("order_id", "count"), spend=("amount_cny", "sum"))


def test_portraits_and_rfm_from_orders_the_rest_says_it_needs_events(orders_only):
    fd = connect(str(orders_only), validate=False)
    assert not fd.has("events")
    result = analyse(fd, _params(portrait_columns=["country"], currency="GBP"))
    T = messages("fan_profiling", "en")
    # the main answer: portraits (the shop's own column) and the RFM value segments
    assert "portraits" not in result.errors and "rfm" not in result.errors, result.errors
    country = {d: dist for d, _, dist, _ in result.portraits}["country"].set_index("category").fans.to_dict()
    assert country == {"United Kingdom": 3, "France": 2, "Germany": 1}
    # the channel column is there but empty; no other built-in portrait column is in the data
    assert [d for d, *_ in result.portraits] == ["channel", "country"]
    rfm = result.sections["rfm"].set_index("segment")
    expected = _expected_rfm("2025-03-30", 90)
    assert rfm.orders.sum() == expected.orders.sum() == 9  # all but C6's November order
    assert rfm.gmv.sum() == pytest.approx(expected.spend.sum())
    assert rfm.loc["no_purchase", "fans"] == 1  # C6 bought only in November
    # every section that rests on interactions says so, in both languages, and is named
    summary = result.summary
    for key in NEEDS_EVENTS:
        assert result.errors[key].text(T) == T("err_needs_events"), key
    assert summary["sections_failed"] == [T(SECTIONS[k]) for k in NEEDS_EVENTS]
    assert summary["status"] == "partial" and summary["currency"] == "GBP"
    assert "events" in result.errors["tiers"].text(messages("fan_profiling", "zh"))
    assert sum(p["fans"] for p in summary["portraits"]["country"]) == 6
    assert summary["rfm_segments"].fans.sum() == 6
    # what the orders alone tell of the KPI window (30 days to 30 Mar), as plain pandas counts it
    last30 = ORDERS[ORDERS.order_time >= "2025-03-01"]
    per_fan = last30.groupby("fan_id").order_id.count()
    figures = summary["purchase_kpis"]
    assert isinstance(figures["buyers"], int) and isinstance(figures["orders"], int)
    assert figures["buyers"] == per_fan.size == 4 and figures["repeat_buyers"] == (per_fan >= 2).sum() == 1
    assert figures["orders"] == len(last30) and figures["gmv"] == pytest.approx(last30.amount_cny.sum())
    assert figures["aov"] == pytest.approx(last30.amount_cny.mean())
    gaps = ORDERS.sort_values("order_time").groupby("fan_id").order_time.diff().dt.total_seconds() / 86400
    assert figures["repurchase_interval_days"] == pytest.approx(gaps[ORDERS.order_time >= "2025-03-01"].median())


def test_the_export_holds_every_customer_with_rfm_and_no_invented_classes(orders_only, tmp_path):
    fd = connect(str(orders_only), validate=False)
    result = analyse(fd, _params(output_dir=str(tmp_path / "out"), currency="USD"))
    assert "export" not in result.errors, result.errors.get("export")
    csv = pd.read_csv(tmp_path / "out" / "01_fan_profiling_fans.csv")
    assert len(csv) == 6 and csv.tier.isna().all() and csv.layer.isna().all() and csv.interactions.isna().all()
    assert set(csv.currency) == {"USD"}
    assert csv.set_index("fan_id").spend_total.to_dict() == pytest.approx(
        ORDERS.groupby("fan_id").amount_cny.sum().to_dict()
    )
    sheets = pd.read_excel(tmp_path / "out" / "01_fan_profiling_fans.xlsx", sheet_name=None)
    assert list(sheets) == ["All fans"] and len(sheets["All fans"]) == 6


def test_no_analysis_date_or_no_rfm_is_a_failed_report(orders_only):
    fd = connect(str(orders_only), validate=False)
    result = analyse(fd, _params(as_of=pd.Timestamp("2026-01-01").date()))  # after the data
    assert result.summary["status"] == "failed"


def test_the_page_says_what_needs_events_and_shows_the_rest(orders_only, tmp_path, monkeypatch):
    """The notebook's cells on the orders-only shop (in-process; the source is read without the contract
    check, which requires events until the data layer makes them optional)."""
    import html
    import json

    import IPython.display
    import matplotlib

    import fanlib.data

    matplotlib.use("Agg")
    real = fanlib.data.connect
    monkeypatch.setattr(fanlib.data, "connect", lambda source, **kw: real(source, validate=False, **kw))
    shown: list[str] = []
    monkeypatch.setattr(
        IPython.display, "display", lambda *objs, **_: shown.extend(str(getattr(o, "data", o)) for o in objs)
    )
    cells = [c for c in nbformat.read(NOTEBOOK, as_version=4).cells if c.cell_type == "code"]
    ns = _params(portrait_columns=["country"], currency="GBP", output_dir=str(tmp_path), lang="en")
    ns.update(source=str(orders_only), summary_path=str(tmp_path / "s.json"))
    for cell in cells[1:]:
        exec(cell.source, ns)

    import matplotlib.pyplot as plt

    plt.close("all")
    text = "\n".join(shown)
    T = messages("fan_profiling", "en")
    C = messages("common", "en")
    needs = C("section_data", section=T("sec_tiers"), reason=T("err_needs_events"))
    assert needs.split(":")[0] in text and html.escape(T("err_needs_events")) in text
    assert "£" in text and "¥" not in text  # the RFM table's GMV, the purchase figures
    assert html.escape(T("cap_purchase_kpis", period="")[:20]) in text
    summary = json.loads((tmp_path / "s.json").read_text(encoding="utf-8"))
    assert summary["status"] == "partial" and T("sec_tiers") in summary["sections_failed"]
    assert T("sec_portraits") not in summary["sections_failed"] and T("sec_rfm") not in summary["sections_failed"]
