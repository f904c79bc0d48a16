"""Data shaped unlike the demo: orders only, fans derived, join times filled, order lines with cancellations
and statuses, a source's own vocabulary, and tables the reports name beside the contract's."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from helpers import frames_to_duckdb, sample_tables

from fanlib.data.checks import problems
from fanlib.data.errors import ContractError, TableNotFoundError
from fanlib.data.fandata import connect
from fanlib.data.vocabulary import check_vocabulary

NOW = "2026-01-01 00:00:00"


@pytest.fixture
def tables() -> dict[str, pd.DataFrame]:
    return sample_tables(n_fans=30, seed=5)


def lines_frame(seed: int = 1) -> pd.DataFrame:
    """Order lines of a shop: several lines per order, returns (negative quantity), a cancelled status."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(40):
        fan = f"C{rng.integers(0, 12):03d}"
        t = pd.Timestamp("2025-03-01") + pd.Timedelta(hours=int(rng.integers(0, 24 * 90)))
        for j in range(int(rng.integers(1, 4))):
            rows.append(
                {
                    "order_id": f"I{i:04d}",
                    "fan_id": fan,
                    "order_time": t + pd.Timedelta(minutes=j),
                    "quantity": int(rng.integers(1, 6)),
                    "unit_price": float(np.round(rng.uniform(0.5, 20), 2)),
                    "status": "paid",
                    "country": "United Kingdom",
                }
            )
    frame = pd.DataFrame(rows)
    frame.loc[[3, 10], "quantity"] *= -1  # returns
    frame.loc[[5, 6], "status"] = "cancelled"
    frame.loc[[7], "status"] = None  # no status: counts as paid
    return frame


def pandas_orders(lines: pd.DataFrame) -> pd.DataFrame:
    """The paid orders, computed in plain pandas: the reference for the engine's."""
    amount = lines.quantity * lines.unit_price
    kept = lines[(lines.quantity >= 0) & (amount >= 0) & (lines.status.isna() | (lines.status == "paid"))]
    kept = kept.assign(amount=kept.quantity * kept.unit_price)
    return kept.groupby("order_id").agg(
        fan_id=("fan_id", "first"),
        order_time=("order_time", "min"),
        amount=("amount", "sum"),
        quantity=("quantity", "sum"),
    )


# --------------------------------------------------------------------------- orders only, fans derived


def test_orders_only_source_derives_the_fans_and_validates(tmp_path, tables):
    folder = tmp_path / "shop"
    folder.mkdir()
    tables["orders"].to_csv(folder / "orders.csv", index=False)
    with connect(folder, now=NOW) as fd:  # validates
        assert fd.has("fans") and fd.is_derived("fans") and not fd.has("events")
        assert fd.derived == {"fans": ["orders"]}
        fans = fd.execute(fd.fans.order_by("fan_id"))
        first = tables["orders"].groupby("fan_id").order_time.min().sort_index()
        assert list(fans.fan_id) == list(first.index)
        assert (pd.to_datetime(fans.join_time).to_numpy() == pd.to_datetime(first).to_numpy()).all()
        assert fans[["gender", "channel", "city_tier"]].isna().all().all()
        assert fd.present_columns("fans") == ["fan_id", "join_time"]
        assert fd.join_times().as_dict() == {"missing": len(fans), "filled": len(fans), "unfillable": 0}
        # the analysis date and the data's range come from the orders alone
        from fanlib.data.asof import resolve_as_of

        assert resolve_as_of(fd).day == tables["orders"].order_time.max().date()
        assert fd.date_range()[1] == tables["orders"].order_time.max()
        checked = {(p.table, p.check) for p in __import__("fanlib.data.checks", fromlist=["run_checks"]).run_checks(fd)}
        assert ("orders", "foreign_key") not in checked  # every derived fan exists by construction
        assert not any(t == "fans" for t, _ in checked)  # nothing of the source's own to check


def test_fans_and_orders_without_events_and_fans_from_events_too(tmp_path, tables):
    del tables["events"], tables["comments"], tables["assignments"]
    with connect(frames_to_duckdb(tables, tmp_path / "fo.duckdb"), now=NOW) as fd:
        assert not fd.is_derived("fans") and not fd.has("events")
        assert fd.execute(fd.fans.count()) == len(tables["fans"])
    both = sample_tables(n_fans=30, seed=5)
    del both["fans"]
    with connect(frames_to_duckdb(both, tmp_path / "oe.duckdb"), now=NOW) as fd:
        assert fd.derived["fans"] == ["orders", "events"]
        ids = set(both["orders"].fan_id) | set(both["events"].fan_id)
        assert fd.execute(fd.fans.count()) == len(ids)
        first = (
            pd.concat(
                [
                    both["orders"][["fan_id", "order_time"]].set_axis(["fan_id", "t"], axis=1),
                    both["events"][["fan_id", "event_time"]].set_axis(["fan_id", "t"], axis=1),
                ]
            )
            .groupby("fan_id")
            .t.min()
        )
        got = fd.execute(fd.fans).set_index("fan_id").join_time.sort_index()
        assert (pd.to_datetime(got).to_numpy() == pd.to_datetime(first.sort_index()).to_numpy()).all()


def test_a_missing_join_time_is_filled_from_the_first_order_or_event(tmp_path, tables):
    fans = tables["fans"].copy()
    fans.loc[[0, 1], "join_time"] = pd.NaT
    lonely = fans.iloc[[2]].assign(fan_id="LONELY", join_time=pd.NaT)  # no order, no event
    tables["fans"] = pd.concat([fans, lonely], ignore_index=True)
    path = frames_to_duckdb(tables, tmp_path / "gaps.duckdb")
    with connect(path, now=NOW, validate=False) as fd:
        assert fd.join_times().as_dict() == {"missing": 3, "filled": 2, "unfillable": 1}
        found = [p for p in problems(fd) if (p.table, p.column) == ("fans", "join_time")]
        assert [(p.check, p.failing_rows, p.examples) for p in found] == [("not_null", 1, [{"fan_id": "LONELY"}])]
        got = fd.execute(fd.fans.filter(fd.fans.fan_id.isin(["F00000", "F00001"])).order_by("fan_id"))
        first = (
            pd.concat(
                [
                    tables["orders"][["fan_id", "order_time"]].set_axis(["fan_id", "t"], axis=1),
                    tables["events"][["fan_id", "event_time"]].set_axis(["fan_id", "t"], axis=1),
                ]
            )
            .groupby("fan_id")
            .t.min()
        )
        assert list(pd.to_datetime(got.join_time)) == [first["F00000"], first["F00001"]]
    # without the column at all, every fan's join time is its first activity
    tables["fans"] = fans.drop(columns=["join_time"])
    with connect(frames_to_duckdb(tables, tmp_path / "nojoin.duckdb"), now=NOW, validate=False) as fd:
        counts = fd.join_times()
        assert counts.missing == len(fans) and counts.filled == fans.fan_id.isin(first.index).sum()


def test_no_fans_orders_or_events_fails_validate_with_a_clear_message(tmp_path, tables):
    folder = tmp_path / "comments-only"
    folder.mkdir()
    tables["comments"].to_csv(folder / "comments.csv", index=False)
    result = subprocess.run(
        [sys.executable, "-m", "fanlib", "validate", str(folder), "--now", NOW], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "no fans, orders or events table" in result.stdout and "comments" in result.stdout


def test_validate_passes_on_orders_only_and_says_the_fans_were_derived(tmp_path, tables):
    folder = tmp_path / "shop"
    folder.mkdir()
    tables["orders"].to_csv(folder / "orders.csv", index=False)
    result = subprocess.run(
        [sys.executable, "-m", "fanlib", "validate", str(folder), "--now", NOW], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "derived from orders" in result.stdout
    assert "events" in result.stdout and "absent" in result.stdout


# --------------------------------------------------------------------------- order lines and cancellations


def test_order_lines_sum_to_paid_orders_as_pandas_computes_them(tmp_path):
    lines = lines_frame()
    folder = tmp_path / "retail"
    folder.mkdir()
    lines.to_csv(folder / "orders.csv", index=False)
    expected = pandas_orders(lines)
    with connect(folder, now=NOW) as fd:  # negative lines are returns, not violations; repeated ids are lines
        got = fd.execute(fd.orders).set_index("order_id").sort_index()
        assert list(got.index) == list(expected.index)
        assert np.allclose(got.amount_cny, expected.amount)
        assert list(got.quantity) == list(expected.quantity)
        assert list(got.fan_id) == list(expected.fan_id)
        assert (pd.to_datetime(got.order_time).to_numpy() == expected.order_time.to_numpy()).all()
        assert set(got.status) == {"paid"} and list(got.country.unique()) == ["United Kingdom"]
        cleaning = fd.order_cleaning()
        left = lines[(lines.quantity < 0) | ~(lines.status.isna() | (lines.status == "paid"))]
        assert cleaning.rows == len(lines) and cleaning.lines
        assert cleaning.orders == len(expected)
        assert cleaning.left_out_rows == len(left) == 4
        assert (cleaning.negative_rows, cleaning.status_rows) == (2, 2)
        assert cleaning.left_out_value == pytest.approx((left.quantity * left.unit_price).abs().sum())


def test_lines_of_one_order_must_name_one_fan(tmp_path):
    lines = lines_frame()
    two = lines.index[lines.order_id == lines.order_id[lines.order_id.duplicated()].iloc[0]]
    lines.loc[two[-1], "fan_id"] = "SOMEONE_ELSE"
    with connect(frames_to_duckdb({"orders": lines}, tmp_path / "x.duckdb"), now=NOW, validate=False) as fd:
        found = [p for p in problems(fd) if p.check == "order_lines"]
        assert len(found) == 1 and found[0].failing_rows == 1 and "different fans" in found[0].detail


def test_amount_given_or_computed_and_negative_amounts_without_lines(tmp_path, tables):
    lines = lines_frame().drop(columns=["unit_price"])
    with connect(frames_to_duckdb({"orders": lines}, tmp_path / "noprice.duckdb"), now=NOW, validate=False) as fd:
        found = [p for p in problems(fd) if p.column == "amount_cny"]
        assert [p.check for p in found] == ["missing_column"] and "quantity" in found[0].detail
    # plain orders: a negative amount is refused, unless the status says cancelled or refunded
    orders = tables["orders"].copy()
    orders.loc[[0, 1], "amount_cny"] = -20.0
    orders["status"] = "paid"
    orders.loc[[1], "status"] = "refunded"
    tables["orders"] = orders
    with connect(frames_to_duckdb(tables, tmp_path / "plain.duckdb"), now=NOW, validate=False) as fd:
        found = [p for p in problems(fd) if p.column == "amount_cny"]
        assert [(p.check, p.failing_rows) for p in found] == [("min_value", 1)]
        assert fd.execute(fd.orders.count()) == len(orders) - 1  # the refunded one is left out
        assert fd.order_cleaning().status_rows == 1
    orders.loc[[0], "amount_cny"] = 20.0
    with connect(frames_to_duckdb(tables, tmp_path / "ok.duckdb"), now=NOW) as fd:
        assert not fd.order_cleaning().lines


def test_empty_line_columns_change_nothing(tmp_path, tables):
    """A copy of a plain orders table may carry the new columns empty (fanlib load writes every contract
    column): the rows stay one per order, duplicates are still refused."""
    orders = tables["orders"].assign(quantity=pd.array([None] * len(tables["orders"]), dtype="Int64"))
    orders = pd.concat([orders, orders.iloc[[0]]], ignore_index=True)
    tables["orders"] = orders
    with pytest.raises(ContractError) as err:
        connect(frames_to_duckdb(tables, tmp_path / "dup.duckdb"), now=NOW)
    assert any(p.check == "primary_key" for p in err.value.problems)


# --------------------------------------------------------------------------- open vocabularies


def test_vocabulary_translates_in_the_engine_and_declares_new_codes(tmp_path, tables):
    tables["fans"].loc[[0, 1, 2], "channel"] = ["Phone", "Web", "小程序"]
    tables["events"].loc[[0], "event_type"] = "加购"
    tables["comments"].loc[[0], "channel"] = "Phone"
    mapping = {
        "vocabulary": {
            "channel": {"Phone": "phone", "Web": "web", "小程序": "wechat"},
            "event_type": {"加购": "add_to_cart"},
            "declare": {"channel": ["phone", "web"], "event_type": ["add_to_cart"]},
        }
    }
    assert check_vocabulary(mapping) == []
    with connect(frames_to_duckdb(tables, tmp_path / "v.duckdb"), mapping=mapping, now=NOW) as fd:
        got = fd.execute(fd.fans.filter(fd.fans.fan_id.isin(["F00000", "F00001", "F00002"])).order_by("fan_id"))
        assert list(got.channel) == ["phone", "web", "wechat"]
        assert fd.codes("channel")[-2:] == ("phone", "web") and "add_to_cart" in fd.codes("event_type")
        assert fd.execute(fd.events.filter(fd.events.event_type == "add_to_cart").count()) == 1
        assert fd.execute(fd.comments.filter(fd.comments.channel == "phone").count()) == 1
        assert fd.execute(fd.fans.filter(fd.fans.channel.isin(["Phone", "Web", "小程序"])).count()) == 0


def test_a_vocabulary_onto_an_unknown_code_is_a_mapping_problem_and_exit_2(tmp_path, tables):
    mapping = {"vocabulary": {"channel": {"Phone": "phone"}}}
    found = check_vocabulary(mapping)
    assert len(found) == 1 and "'Phone'" in found[0] and "'phone'" in found[0] and "wechat" in found[0]
    assert check_vocabulary({"vocabulary": {"chanel": {}}}) and check_vocabulary({"vocabulary": []})
    path = frames_to_duckdb(tables, tmp_path / "v.duckdb")
    (tmp_path / "mapping.yaml").write_text("vocabulary:\n  channel: {Phone: phone}\n", encoding="utf-8")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "fanlib",
            "validate",
            str(path),
            "--mapping",
            str(tmp_path / "mapping.yaml"),
            "--now",
            NOW,
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and "'phone'" in result.stdout and "[mapping]" in result.stdout


def test_a_value_neither_mapped_nor_built_in_is_refused_pointing_at_the_vocabulary(tmp_path, tables):
    tables["fans"].loc[[0, 1], "channel"] = ["Multichannel", "Multichannel"]
    with pytest.raises(ContractError) as err:
        connect(frames_to_duckdb(tables, tmp_path / "v.duckdb"), now=NOW)
    (p,) = [p for p in err.value.problems if p.check == "allowed_values"]
    assert (p.table, p.column, p.failing_rows) == ("fans", "channel", 2) and "vocabulary" in p.detail


# --------------------------------------------------------------------------- tables beside the contract's


def units(n: int = 20) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "fan_id": [f"F{i:05d}" for i in range(n)],
            "variant": ["a", "b"] * (n // 2),
            "spend": np.arange(n, dtype=float),
        }
    )


def test_unit_tables_from_a_duckdb_file_a_folder_and_a_workbook(tmp_path, tables):
    db = frames_to_duckdb({**tables, "email_units": units()}, tmp_path / "u.duckdb")
    folder = tmp_path / "folder"
    folder.mkdir()
    for name, frame in tables.items():
        frame.to_csv(folder / f"{name}.csv", index=False)
    units().to_parquet(folder / "email_units.parquet")
    book = tmp_path / "book.xlsx"
    with pd.ExcelWriter(book) as xl:
        for name, frame in {**tables, "Email_Units": units()}.items():
            frame.to_excel(xl, sheet_name=name, index=False)
    for source in (db, folder, book):
        with connect(source, now=NOW) as fd:
            assert "email_units" in [t.lower() for t in fd.source_tables()]
            got = fd.execute(fd.raw_table("email_units"))
            assert len(got) == 20 and list(got.columns) == ["fan_id", "variant", "spend"]
            assert pd.to_numeric(got.spend).sum() == units().spend.sum()


def test_a_named_table_not_found_lists_what_was_found_and_why_it_was_not_read(tmp_path, tables):
    folder = tmp_path / "folder"
    folder.mkdir()
    for name in ("fans", "orders"):
        tables[name].to_csv(folder / f"{name}.csv", index=False)
    (folder / "email.xls").write_bytes(b"old excel")
    (folder / "notes.json").write_text("{}", encoding="utf-8")
    units().to_csv(folder / "email_unit.csv", index=False)
    with connect(folder, now=NOW) as fd:
        with pytest.raises(TableNotFoundError) as err:
            fd.raw_table("email")
        text = str(err.value)
        assert "'email.xls' has that name but was not read" in text and "save it as .xlsx" in text
        assert "fans, orders, email_unit" in text or {"fans", "orders", "email_unit"} <= set(err.value.found)
        with pytest.raises(TableNotFoundError) as err:
            fd.raw_table("email_units")
        assert "Did you mean 'email_unit'?" in str(err.value) and "notes.json" in str(err.value)
    (folder / "broken.csv").write_bytes(b"a,b\n\xff\xfe\xfa,1\n")
    with connect(folder, now=NOW) as fd, pytest.raises(Exception, match="neither UTF-8 nor GBK"):
        fd.raw_table("broken")


def test_order_lines_without_a_status_column_are_counted_and_cleaned(tmp_path):
    lines = pd.DataFrame(
        {
            "order_id": ["A", "A", "C1"],
            "fan_id": ["f1", "f1", "f1"],
            "order_time": pd.to_datetime(["2025-01-01", "2025-01-01", "2025-01-02"]),
            "quantity": [2, 1, -1],
            "unit_price": [3.0, 4.0, 3.0],
        }
    )
    with connect(frames_to_duckdb({"orders": lines}, tmp_path / "lines.duckdb")) as fd:
        cleaning = fd.order_cleaning()
        orders = fd.execute(fd.orders, label="t")
    assert (cleaning.orders, cleaning.left_out_rows, cleaning.status_rows, cleaning.left_out_value) == (1, 1, 0, 3.0)
    assert orders.order_id.tolist() == ["A"] and orders.amount_cny.tolist() == [10.0]
