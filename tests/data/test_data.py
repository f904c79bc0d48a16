"""Loaders: every source kind and encoding, mapping, optional tables, the door into pandas, fingerprints."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from helpers import frames_to_duckdb, sample_tables

from fanlib.data import contract, csv_files, sources
from fanlib.data.columns import IBIS_TYPES
from fanlib.data.csv_files import detect_encoding, transcode_to_utf8
from fanlib.data.errors import ContractError, MissingTableError, SourceError
from fanlib.data.fandata import connect
from fanlib.data.loaded import mask_url
from fanlib.data.tables import FanData

NOW = "2026-01-01 00:00:00"


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return sample_tables(n_fans=40, seed=3)


def write_csvs(folder: Path, tables: dict[str, pd.DataFrame], encoding: str = "utf-8", newline: str = "\n") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.to_csv(folder / f"{name}.csv", index=False, encoding=encoding, lineterminator=newline)
    return folder


def write_parquets(folder: Path, tables: dict[str, pd.DataFrame]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.to_parquet(folder / f"{name}.parquet", index=False)
    return folder


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def duck_path(tmp_path_factory, tables) -> Path:
    return frames_to_duckdb(tables, tmp_path_factory.mktemp("duck") / "fans.duckdb")


@pytest.fixture(scope="module")
def reference(duck_path):
    fd = connect(duck_path, now=NOW)
    yield fd
    fd.close()


# --------------------------------------------------------------------------- DuckDB


def test_duckdb_file_gives_contract_tables_with_contract_types(reference, tables):
    assert reference.row_counts() == {name: len(frame) for name, frame in tables.items()}
    for name in tables:
        schema = reference.table(name).schema()
        for col in contract.table(name).columns:
            assert schema[col.name] == IBIS_TYPES[col.dtype], (name, col.name)
    assert reference.fans.columns[: len(contract.FANS.columns)] == tuple(contract.FANS.column_names)
    assert "DuckDB file" in reference.describe_source() and "read-only" in reference.describe_source()


def test_duckdb_source_is_opened_read_only(tmp_path, tables):
    path = frames_to_duckdb(tables, tmp_path / "d.duckdb")
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    fd = connect(path, now=NOW)
    fd.fingerprint()
    with pytest.raises(Exception, match="(?i)read.only"):
        fd.con.raw_sql("CREATE TABLE scratch (x INTEGER)")
    fd.close()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_default_source_is_the_demo_file(monkeypatch, tmp_path, tables):
    (tmp_path / "data").mkdir()
    (tmp_path / "params").mkdir()
    (tmp_path / "pyproject.toml").write_text("")
    frames_to_duckdb(tables, tmp_path / "data" / "demo.duckdb")
    monkeypatch.chdir(tmp_path)
    with connect(now=NOW) as fd:
        assert fd.row_counts()["fans"] == len(tables["fans"])


# --------------------------------------------------------------------------- folders: Parquet and CSV


def test_parquet_folder_matches_duckdb(tmp_path, tables, reference):
    fd = connect(write_parquets(tmp_path / "pq", tables), now=NOW)
    assert fd.row_counts() == reference.row_counts()
    assert fd.fingerprint() == reference.fingerprint()
    fd.close()


def test_parquet_parts_folder_per_table(tmp_path, tables, reference):
    folder = write_parquets(tmp_path / "pq", {k: v for k, v in tables.items() if k != "events"})
    parts = folder / "events"
    parts.mkdir()
    events = tables["events"]
    for i, chunk in enumerate([events.iloc[:150], events.iloc[150:300], events.iloc[300:]]):
        chunk.to_parquet(parts / f"part-{i:04d}.parquet", index=False)
    fd = connect(folder, now=NOW)
    assert fd.row_counts()["events"] == len(events)
    assert fd.fingerprint() == reference.fingerprint()
    assert "3 Parquet parts" in fd.describe_source()
    fd.close()


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16"])
def test_csv_folder_in_any_common_encoding(tmp_path, tables, reference, encoding):
    # Excel on Chinese Windows saves GBK (or UTF-16 "Unicode text") with CRLF line ends.
    newline = "\r\n" if encoding in ("gbk", "utf-16") else "\n"
    folder = write_csvs(tmp_path / "csv", tables, encoding=encoding, newline=newline)
    before = digest(folder)
    fd = connect(folder, now=NOW)
    assert fd.row_counts() == reference.row_counts()
    # Same values, whatever the encoding: the fingerprint covers counts, time ranges and schema,
    # and the Chinese text must come back character for character.
    assert fd.fingerprint() == reference.fingerprint()
    got = fd.execute(fd.fans.select("fan_id", "province", "city").order_by("fan_id"))
    want = tables["fans"][["fan_id", "province", "city"]].sort_values("fan_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    texts = fd.execute(fd.comments.select("comment_id", "text").order_by("comment_id"))
    assert texts["text"].tolist() == tables["comments"].sort_values("comment_id")["text"].tolist()
    fd.close()
    assert digest(folder) == before  # the user's files are never written to


def test_detect_encoding(tmp_path):
    cases = {
        "utf-8": "fan_id,城市\n1,深圳\n".encode(),
        "utf-8-sig": "fan_id,城市\n1,深圳\n".encode("utf-8-sig"),
        "gb18030": "fan_id,城市\n1,深圳\n".encode("gbk"),
        "utf-16": "fan_id,城市\n1,深圳\n".encode("utf-16"),
    }
    expected = {"utf-8": "utf-8", "utf-8-sig": "utf-8", "gb18030": "gb18030", "utf-16": "utf-16"}
    for name, raw in cases.items():
        path = tmp_path / f"{name}.csv"
        path.write_bytes(raw)
        assert detect_encoding(path) == expected[name], name


def test_gbk_detected_even_when_chinese_appears_late_and_chunks_split_characters(tmp_path, monkeypatch):
    # A tiny chunk size makes every multi-byte character straddle a chunk boundary somewhere.
    monkeypatch.setattr(csv_files, "_CHUNK", 7)
    text = "fan_id,city\n" + "".join(f"{i},x\n" for i in range(200)) + "201,广州\n202,乌鲁木齐\n"
    path = tmp_path / "fans.csv"
    path.write_bytes(text.encode("gbk"))
    assert detect_encoding(path) == "gb18030"
    out = transcode_to_utf8(path, "gb18030", tmp_path / "out.csv")
    assert out.read_text(encoding="utf-8") == text


def test_undecodable_csv_is_a_clear_error(tmp_path, tables):
    folder = write_csvs(tmp_path / "csv", tables)
    (folder / "fans.csv").write_bytes(b"fan_id,city\n1,\xff\xff\xff\n")
    with pytest.raises(SourceError, match=r"fans\.csv.*neither UTF-8 nor GBK"):
        connect(folder, now=NOW)


def test_csv_ids_keep_leading_zeros_and_dates_parse(tmp_path, tables):
    folder = write_csvs(tmp_path / "csv", tables)
    fans = tables["fans"].copy()
    fans["fan_id"] = [f"00{i}" for i in range(len(fans))]
    fans["join_time"] = fans["join_time"].dt.strftime("%Y/%m/%d %H:%M")  # a common Chinese export format
    fans.to_csv(folder / "fans.csv", index=False)
    for name in ("events", "orders", "comments", "assignments"):
        (folder / f"{name}.csv").unlink()
    pd.DataFrame(columns=list(tables["events"].columns)).to_csv(folder / "events.csv", index=False)
    pd.DataFrame(columns=list(tables["orders"].columns)).to_csv(folder / "orders.csv", index=False)
    fd = connect(folder, validate=False, now=NOW)
    got = fd.execute(fd.fans.select("fan_id", "join_time").order_by("fan_id"))
    assert got["fan_id"].iloc[0] == "000"
    assert got["join_time"].notna().all()
    assert got["join_time"].dt.second.eq(0).all()
    fd.close()


def test_csv_parts_in_mixed_encodings(tmp_path, tables, reference):
    folder = write_csvs(tmp_path / "csv", {k: v for k, v in tables.items() if k != "comments"})
    parts = folder / "comments"
    parts.mkdir()
    comments = tables["comments"]
    comments.iloc[:20].to_csv(parts / "2025-03.csv", index=False, encoding="gbk")
    comments.iloc[20:].to_csv(parts / "2025-04.csv", index=False, encoding="utf-8-sig")
    fd = connect(folder, now=NOW)
    assert fd.fingerprint() == reference.fingerprint()
    assert "2 CSV parts" in fd.describe_source()
    fd.close()


def test_malformed_csv_is_a_clear_error(tmp_path, tables):
    folder = write_csvs(tmp_path / "csv", tables)
    (folder / "orders.csv").write_text("order_id,fan_id\nO1,F00001\nO2,F00002,extra,cells\n", encoding="utf-8")
    with pytest.raises(SourceError, match=r"orders\.csv: cannot read the CSV data"):
        connect(folder, now=NOW)


def test_a_failed_load_leaves_no_scratch_copy(tmp_path, tables, monkeypatch):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(sources.tempfile, "tempdir", str(scratch))
    folder = write_csvs(tmp_path / "csv", tables, encoding="gbk")
    (folder / "orders.csv").write_text("order_id,fan_id\nO1,F00001,extra\n", encoding="utf-8")
    with pytest.raises(SourceError):
        connect(folder, now=NOW)
    assert list(scratch.iterdir()) == []
    with connect(write_csvs(tmp_path / "ok", tables, encoding="gbk"), now=NOW) as fd:
        # Transcoded copies are dropped once loaded; only the scratch database remains.
        assert sorted(p.name for p in Path(fd._tmpdir).iterdir() if p.suffix == ".csv") == []


def test_a_table_given_twice_is_an_error(tmp_path, tables):
    folder = write_csvs(tmp_path / "csv", tables)
    tables["fans"].to_parquet(folder / "fans.parquet")
    with pytest.raises(SourceError, match=r"'fans' is given more than once"):
        connect(folder, now=NOW)


# --------------------------------------------------------------------------- Excel


def test_excel_workbook_with_a_sheet_per_table(tmp_path, tables, reference):
    path = tmp_path / "粉丝数据.xlsx"
    with pd.ExcelWriter(path, engine="openpyxl") as xl:
        for name, frame in tables.items():
            frame.to_excel(xl, sheet_name=name, index=False)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    fd = connect(path, now=NOW)
    assert fd.row_counts() == reference.row_counts()
    assert fd.fingerprint() == reference.fingerprint()
    cities = fd.execute(fd.fans.group_by("city").aggregate(n=fd.fans.count()))
    assert set(cities["city"]) == set(tables["fans"]["city"])
    fd.close()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_excel_folder_with_numeric_ids(tmp_path, tables):
    folder = tmp_path / "xl"
    folder.mkdir()
    renumbered = {k: v.copy() for k, v in tables.items()}
    numbers = {f: 1000 + i for i, f in enumerate(tables["fans"]["fan_id"])}
    for frame in renumbered.values():
        if "fan_id" in frame:
            frame["fan_id"] = frame["fan_id"].map(numbers)  # Excel users often have numeric ids
    for name, frame in renumbered.items():
        frame.to_excel(folder / f"{name}.xlsx", index=False)
    fd = connect(folder, now=NOW)
    ids = fd.execute(fd.fans.select("fan_id").order_by("fan_id"))["fan_id"]
    assert ids.iloc[0] == "1000"
    orphans = fd.events.anti_join(fd.fans, "fan_id").count()
    assert fd.execute(orphans) == 0
    fd.close()


# --------------------------------------------------------------------------- mapping


def test_mapping_renames_and_casts_in_the_engine(tmp_path, tables):
    folder = write_csvs(tmp_path / "csv", tables, encoding="gbk")
    fans = tables["fans"].copy()
    fans["fan_id"] = range(len(fans))  # integer ids
    fans = fans.rename(columns={"fan_id": "用户ID", "join_time": "注册时间", "channel": "渠道"})
    fans["注册时间"] = fans["注册时间"].dt.strftime("%Y-%m-%d")
    fans.to_csv(folder / "fans.csv", index=False, encoding="gbk")
    for name in ("events", "orders", "comments", "assignments"):
        frame = tables[name].copy()
        frame["fan_id"] = frame["fan_id"].str[1:].astype(int)
        frame.to_csv(folder / f"{name}.csv", index=False, encoding="gbk")
    mapping = {"fans": {"用户ID": "fan_id", "注册时间": "join_time", "渠道": "channel"}}
    fd = connect(folder, mapping=mapping, now=NOW)
    schema = fd.fans.schema()
    assert schema["fan_id"].is_string() and schema["join_time"].is_timestamp()
    assert "用户ID" not in fd.fans.columns
    assert fd.execute(fd.events.anti_join(fd.fans, "fan_id").count()) == 0
    assert fd.execute(fd.fans.join_time.min()) == pd.Timestamp(tables["fans"]["join_time"].min().date())
    fd.close()


def test_mapping_mistakes_are_contract_problems(duck_path):
    with pytest.raises(ContractError) as err:
        connect(duck_path, mapping={"fans": {"用户ID": "fan_id", "gender": "sex"}, "fanz": {"a": "b"}}, now=NOW)
    found = {(p.table, p.check) for p in err.value.problems}
    assert found == {("fans", "mapping"), ("fanz", "mapping")}
    text = str(err.value)
    assert "'用户ID'" in text and "'sex'" in text and "'fanz'" in text


def test_column_names_differing_only_in_case_or_spaces_are_matched(tmp_path, tables):
    folder = write_csvs(tmp_path / "csv", tables)
    tables["fans"].rename(columns={"fan_id": " Fan_ID ", "channel": "CHANNEL"}).to_csv(folder / "fans.csv", index=False)
    with connect(folder, now=NOW) as fd:
        assert {"fan_id", "channel"} <= set(fd.fans.columns)


# --------------------------------------------------------------------------- optional tables and columns


def test_missing_optional_tables_and_columns(tmp_path, tables):
    slim = {k: v for k, v in tables.items() if k not in ("comments", "assignments")}
    slim["fans"] = slim["fans"].drop(columns=["gender", "city_tier"])
    fd = connect(write_parquets(tmp_path / "pq", slim), now=NOW)
    assert fd.has("fans") and not fd.has("comments") and not fd.has("assignments")
    with pytest.raises(MissingTableError, match="'comments'"):
        _ = fd.comments
    with pytest.raises(MissingTableError, match="'assignments'"):
        fd.table("assignments")
    # Absent optional columns are typed NULL columns, so code can refer to them.
    assert fd.fans.schema()["gender"].is_string() and fd.fans.schema()["city_tier"].is_integer()
    assert fd.execute(fd.fans.gender.notnull().sum()) == 0
    assert "gender" not in fd.present_columns("fans") and "channel" in fd.present_columns("fans")
    assert set(fd.row_counts()) == {"fans", "events", "orders"}
    fd.close()


def test_unknown_table_name_is_a_programming_error(reference):
    with pytest.raises(KeyError, match="not a contract table"):
        reference.has("customers")


# --------------------------------------------------------------------------- the door into pandas


def test_execute_counts_what_it_pulls(duck_path, tables):
    fd = connect(duck_path, now=NOW)
    fd.materialized.clear()
    ev = fd.events
    per_type = fd.execute(ev.group_by("event_type").aggregate(n=ev.count()), label="per type")
    assert per_type["n"].sum() == len(tables["events"])
    assert fd.materialized == [("per type", len(per_type))]
    assert fd.execute(ev.count()) == len(tables["events"])
    assert fd.materialized[-1][1] == 1
    with pytest.raises(ValueError, match="more than 100 rows"):
        fd.execute(ev, max_rows=100, label="all events")
    assert fd.materialized[-1] == ("all events", 101)  # only max_rows + 1 rows were fetched
    with pytest.raises(ValueError, match="more than 10 rows"):
        fd.execute(ev.fan_id, max_rows=10)
    types = fd.execute(ev.event_type.name("t"), max_rows=10_000)
    assert len(types) == len(tables["events"]) and isinstance(types, pd.Series)
    fd.close()


def test_fingerprint_is_stable_and_sensitive(tmp_path, tables, reference):
    first = reference.fingerprint()
    path = frames_to_duckdb(tables, tmp_path / "again.duckdb")
    with connect(path, now=NOW) as fd:
        assert fd.fingerprint() == first
    more = dict(tables)
    more["orders"] = pd.concat([tables["orders"], tables["orders"].iloc[:1].assign(order_id="O999999")])
    with connect(frames_to_duckdb(more, tmp_path / "more.duckdb"), now=NOW) as fd:
        assert fd.fingerprint() != first
    assert len(first) == 16 and int(first, 16) >= 0


def test_summaries_work_on_data_that_fails_validation(tmp_path, tables):
    broken = {k: v.copy() for k, v in tables.items()}
    broken["orders"] = broken["orders"].drop(columns=["order_time"])
    broken["fans"]["join_time"] = True
    with connect(frames_to_duckdb(broken, tmp_path / "b.duckdb"), validate=False, now=NOW) as fd:
        assert fd.row_counts()["orders"] == len(tables["orders"])
        assert len(fd.fingerprint()) == 16
        # orders has no usable time column now; events and comments still give the range
        assert fd.date_range()[0] == min(tables["events"]["event_time"].min(), tables["comments"]["comment_time"].min())


def test_date_range_and_row_counts(reference, tables):
    lo, hi = reference.date_range()
    times = pd.concat(
        [tables["events"]["event_time"], tables["orders"]["order_time"], tables["comments"]["comment_time"]]
    )
    assert (lo, hi) == (times.min(), times.max())


def test_url_passwords_are_masked():
    assert mask_url("postgresql://ana:s3cret@db:5432/fans") == "postgresql://ana:***@db:5432/fans"
    assert mask_url("postgresql://db/fans") == "postgresql://db/fans"


@pytest.mark.parametrize(
    "source, message",
    [
        ("no/such/place.duckdb", "not found"),
        ("notes.txt", "unknown kind of data source"),
    ],
)
def test_bad_sources_are_clear_errors(tmp_path, monkeypatch, source, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(SourceError, match=message):
        connect(source)


def test_timestamp_precisions_and_time_zones_are_not_wrong_types(tmp_path, tables):
    path = frames_to_duckdb(tables, tmp_path / "p.duckdb")
    con = duckdb.connect(str(path))
    con.execute("ALTER TABLE fans ALTER join_time TYPE TIMESTAMP_S")
    con.execute("ALTER TABLE orders ALTER order_time TYPE TIMESTAMP_MS")
    con.execute("ALTER TABLE comments ALTER comment_time TYPE TIMESTAMP_NS")
    con.execute("ALTER TABLE assignments ALTER assigned_time TYPE DATE")
    con.execute("SET TimeZone = 'UTC'")
    con.execute("ALTER TABLE events ALTER event_time TYPE TIMESTAMPTZ")
    con.close()
    with connect(path, now=NOW) as fd:  # validates: no dtype problems
        assert fd.orders.schema()["order_time"] == IBIS_TYPES["timestamp"]
        # A UTC instant becomes China Standard Time wall-clock time (UTC+8).
        first = fd.execute(fd.events.event_time.min())
        assert first == tables["events"]["event_time"].min() + pd.Timedelta(hours=8)


def test_fandata_is_a_context_manager_that_cleans_up(tmp_path, tables):
    folder = write_csvs(tmp_path / "csv", tables, encoding="gbk")
    with connect(folder, now=NOW) as fd:
        scratch = Path(fd._tmpdir)
        assert scratch.exists()
    assert not scratch.exists()
    assert isinstance(fd, FanData)
