"""The demo generator: builds the DuckDB file and ``demo_truth.json`` beside it, atomically."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from fanlib.data import contract
from fanlib.demo.activity import _chunk_comments, _chunk_events, _crisis_comments
from fanlib.demo.config import CHANNELS, CHUNK_FANS, CITIES, GENDERS, OCCUPATIONS, _choice
from fanlib.demo.curves import build_curves
from fanlib.demo.orders import _assignments_table, _chunk_orders
from fanlib.demo.population import _assign_experiments, _make_fans, _pick_did_communities, _segment_tables
from fanlib.demo.tables import (
    TRUTH_COMMENTS_DDL,
    TRUTH_FANS_DDL,
    _ChunkContext,
    _ddl,
    _ids,
    _insert,
    _Stats,
    _take,
    _ts,
)
from fanlib.demo.text import _TextBank
from fanlib.demo.truth import _truth, _truth_fans_table
from fanlib.io import atomic_target

# ---------------------------------------------------------------------------
# The generator
# ---------------------------------------------------------------------------


def generate(out: Path, n_fans: int = 20_000, seed: int = 7, progress: bool = True, **options: Any) -> dict:
    """Build the demo DuckDB file ``out`` and ``demo_truth.json`` beside it; return the truth.

    The file is built under a temporary name in the same folder and renamed
    when complete, so readers never see a half-written data set. The same
    ``n_fans`` and ``seed`` always give identical tables.
    """
    import duckdb
    from tqdm.auto import tqdm

    unknown = set(options) - {"chunk_fans"}
    if unknown:
        raise TypeError(f"generate(): unknown option(s) {', '.join(sorted(unknown))}; known: chunk_fans")
    if n_fans < 200:
        raise ValueError(f"n_fans must be at least 200 (got {n_fans}): the plants need a few hundred fans")
    chunk_fans = int(options.get("chunk_fans", CHUNK_FANS))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    for p in (tmp, Path(str(tmp) + ".wal")):
        p.unlink(missing_ok=True)
    t_start = time.perf_counter()

    rng = np.random.default_rng([seed, 0])
    curves = build_curves()
    f = _make_fans(rng, n_fans, curves)
    coupon, push = _assign_experiments(rng, f, curves)
    did_comms = _pick_did_communities(rng, f)
    f["did"] = np.isin(f["community"], did_comms)
    n_comm = int(f["community"].max()) + 1
    n_content = max(300, n_fans // 40)
    content_type = _choice(rng, np.array([0.30, 0.20, 0.20, 0.15, 0.15]), n_content)
    content_pop = 1.0 / np.arange(1, n_content + 1) ** 0.8
    content_pop = content_pop[rng.permutation(n_content)]
    content_cum = np.cumsum(content_pop) / content_pop.sum()
    product_ids = np.flatnonzero(content_type == 0)
    crisis_content = int(product_ids[np.argmax(content_pop[product_ids])])  # the most viewed product item

    fan_ids = _ids("F", 1, n_fans, 7)
    comm_ids = _ids("C", 1, n_comm, 5)
    content_ids = _ids("CT", 1, n_content, 6)
    content_types = pa.array([contract.CONTENT_TYPES[i] for i in content_type])
    city_rows = [(c, p, t) for t, rows in CITIES.items() for c, p in rows]

    con = duckdb.connect(str(tmp))
    try:
        con.execute("SET enable_progress_bar = false")
        for t in contract.TABLES.values():
            con.execute(_ddl(t))
        con.execute(TRUTH_FANS_DDL)
        con.execute(TRUTH_COMMENTS_DDL)

        fans_tbl = pa.table(
            {
                "fan_id": fan_ids,
                "join_time": _ts(f["join"]),
                "gender": _take(pa.array(GENDERS), f["gender"]),
                "birth_year": pa.array(f["birth_year"], type=pa.int32()),
                "province": _take(pa.array([p for _, p, _ in city_rows]), f["city"]),
                "city": _take(pa.array([c for c, _, _ in city_rows]), f["city"]),
                "city_tier": _take(pa.array([t for *_, t in city_rows], type=pa.int32()), f["city"]),
                "occupation": _take(pa.array(OCCUPATIONS), f["occupation"]),
                "channel": _take(pa.array(CHANNELS), f["channel"]),
                "community_id": _take(comm_ids, f["community"]),
            }
        )
        _insert(con, "fans", fans_tbl)

        stats = _Stats(n_fans)
        bank = _TextBank()
        key_rate, key_cum = _segment_tables()
        coupon_extra = np.zeros(n_fans)
        coupon_extra[coupon["fans"][coupon["treatment"]]] = coupon["extra"][coupon["treatment"]]
        coupon_assigned = np.full(n_fans, np.nan)
        coupon_assigned[coupon["fans"]] = coupon["assigned"]
        counters = dict(order=0, comment=0)

        n_chunks = -(-n_fans // chunk_fans)
        bar = tqdm(total=n_fans, desc="demo fans", unit="fan", disable=not progress)
        for ci in range(n_chunks):
            lo, hi = ci * chunk_fans, min(n_fans, (ci + 1) * chunk_fans)
            crng = np.random.default_rng([seed, 1, ci])
            idx = np.arange(lo, hi)
            ctx = _ChunkContext(
                f,
                idx,
                curves,
                fan_ids,
                comm_ids,
                content_ids,
                content_types,
                content_type,
                content_cum,
                stats,
                counters,
            )
            _insert(con, "events", _chunk_events(crng, ctx, key_rate, key_cum))
            _insert(con, "orders", _chunk_orders(crng, ctx, coupon_extra, coupon_assigned))
            comments, truth_c = _chunk_comments(crng, ctx, bank)
            _insert(con, "comments", comments)
            _insert(con, "truth_comments", truth_c)
            bar.update(hi - lo)
        bar.close()

        crisis_truth = _crisis_comments(
            np.random.default_rng([seed, 2]),
            con,
            f,
            bank,
            fan_ids,
            comm_ids,
            content_ids,
            crisis_content,
            stats,
            counters,
        )
        _insert(con, "assignments", _assignments_table(fan_ids, coupon, push))
        _insert(con, "truth_fans", _truth_fans_table(f, fan_ids, coupon, key_rate))
        truth = _truth(
            f,
            n_fans,
            seed,
            coupon,
            push,
            did_comms,
            comm_ids,
            curves,
            key_rate,
            stats,
            crisis_truth,
            content_ids[crisis_content].as_py(),
        )
        truth["tables"] = {
            name: con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
            for name in (*contract.TABLE_NAMES, "truth_fans", "truth_comments")
        }
        con.execute("CHECKPOINT")
    except BaseException:
        con.close()
        tmp.unlink(missing_ok=True)
        raise
    con.close()
    truth["generator"]["seconds"] = round(time.perf_counter() - t_start, 2)

    truth_path = out.with_name("demo_truth.json")
    with atomic_target(truth_path) as tmp_json:  # renamed after the database, as before
        tmp_json.write_text(json.dumps(truth, ensure_ascii=False, indent=2), encoding="utf-8")
        os.replace(tmp, out)
    return truth
