"""DuckDB's memory: the cap every connection gets, and a lower cap for a block of queries.

A DuckDB connection claims 80% of the machine's memory by default; two reports running side by side
would then claim more than the machine has. Every connection fanlib opens gets ``duckdb_memory_limit()``
and a spill folder, so DuckDB writes its hash tables to disk beyond the cap instead of failing. A
report whose queries only aggregate (the A/B readout) lowers the cap further while they run
(``memory_cap``). Warehouses (PostgreSQL, Spark) manage their own memory and are left alone.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

#: DuckDB's memory cap per connection unless ``FANLIB_DUCKDB_MEMORY_LIMIT`` says otherwise; two parallel
#: reports on a million fans stay within 8 GB.
DUCKDB_MEMORY_LIMIT = "2.5GB"

_SIZE_UNITS = {
    "bytes": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "pb": 10**15,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
    "pib": 2**50,
}  # no limit shows in PiB


def duckdb_memory_limit() -> str:
    """DuckDB's memory cap per connection: ``FANLIB_DUCKDB_MEMORY_LIMIT`` or ``DUCKDB_MEMORY_LIMIT``."""
    return os.environ.get("FANLIB_DUCKDB_MEMORY_LIMIT") or DUCKDB_MEMORY_LIMIT


def _sql_str(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def limit_memory(con: Any, spill_dir: str) -> None:
    """Cap a new DuckDB connection's memory and let it spill to ``spill_dir`` beyond the cap."""
    con.raw_sql(f"SET memory_limit = {_sql_str(duckdb_memory_limit())}")
    con.raw_sql(f"SET temp_directory = {_sql_str(spill_dir)}")


def size_bytes(text: str) -> int:
    """``'2.3 GiB'``, ``'512MB'`` -> bytes. DuckDB shows its setting cut to one decimal, so half a
    step is added back to the shown value, else re-setting it would lower the cap each time."""
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]+)?\s*", str(text))
    unit = (m.group(2) or "b").lower() if m else ""
    if not m or unit not in _SIZE_UNITS:
        raise ValueError(f"cannot read the memory size {text!r}; write it like '512MB' or '2GB'")
    number = m.group(1)
    step = 10 ** -len(number.split(".")[1]) / 2 if "." in number else 0
    return int((float(number) + step) * _SIZE_UNITS[unit])


@contextmanager
def memory_cap(fd: Any, limit: str | None) -> Iterator[None]:
    """Lower a DuckDB connection's memory cap to ``limit`` while the block runs, then restore it.

    Only ever lowers it (a smaller cap the user set stays), and only on DuckDB: warehouses
    (PostgreSQL, Spark) run the queries on their own servers. ``None`` leaves the cap alone.
    """
    con = getattr(fd, "con", None)
    if limit is None or con is None or getattr(con, "name", None) != "duckdb":
        yield
        return
    current = con.raw_sql("SELECT current_setting('memory_limit')").fetchall()[0][0]
    if size_bytes(current) <= size_bytes(limit):
        yield
        return
    con.raw_sql(f"SET memory_limit = '{size_bytes(limit)}B'")
    try:
        yield
    finally:
        con.raw_sql(f"SET memory_limit = '{size_bytes(current)}B'")
