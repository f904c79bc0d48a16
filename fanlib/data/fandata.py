"""One entry point to a fan data source: ``connect(source) -> FanData``.

Sources:

* a DuckDB file (the default, ``data/demo.duckdb``), opened read-only;
* a folder with one file per contract table, named after the table
  (``fans.csv``, ``events.parquet``, ``orders.xlsx``), or a sub-folder of parts
  per table (``events/part-0001.parquet``, ``events/2025-01.csv``);
* an Excel workbook with one sheet per table (``fans``, ``events``, …);
* a database URL that ``ibis.connect`` understands (``postgresql://…``).

CSV files are read as UTF-8, UTF-8 with BOM, UTF-16 (with BOM) or GBK/GB18030,
detected from the bytes. CSV and Excel data are loaded into a throwaway DuckDB
database in a temporary folder, so the user's files are never written to.

The tables that ``FanData`` hands out carry the contract's column names and
types (see ``fanlib.data.contract``): identifiers are cast to strings, dates and
date strings to timestamps, numbers to int or float, all in the engine
(``fanlib.data.columns``). Timestamps come out naive in one declared zone
(``timezone``, Asia/Shanghai by default): time-zone-aware values of every
source kind are converted to it. Optional columns that the source lacks are
added as typed NULL columns, so downstream code can always refer to them;
check ``fd.present_columns(name)`` to learn which ones the source really has.
Columns that are not in the contract are kept, after the contract's columns.
An optional table with no rows (a CSV with only its header) is read as absent.

Opening the sources is ``fanlib.data.sources``' work, the tables' class ``fanlib.data.tables``', the
contract check at the door ``fanlib.data.checks``'. Everything runs in the engine;
``FanData.execute`` is the only door into pandas and records what it pulled in
``FanData.materialized``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from fanlib.data import contract
from fanlib.data.checks import validate as check_contract
from fanlib.data.errors import ContractError
from fanlib.data.sources import (
    open_source,
)
from fanlib.data.tables import FanData

DEFAULT_SOURCE = "data/demo.duckdb"


def connect(
    source: str | Path = DEFAULT_SOURCE,
    mapping: dict | None = None,
    validate: bool = True,
    now: Any = None,
    timezone: str = contract.TIMEZONE,
) -> FanData:
    """Open a fan data source and hand out its contract tables.

    ``source``: a DuckDB file, a folder of CSV/Parquet/Excel files named after
    the tables, an Excel workbook with a sheet per table, or a database URL.
    ``mapping``: per-table column renames from the source's names to the
    contract's, e.g. ``{"fans": {"用户ID": "fan_id"}}``; its ``decimal`` entry
    declares a comma decimal mark (``{"decimal": ","}``, or per table or column:
    ``{"decimal": {"orders.amount_cny": ","}}``).
    ``validate``: check the data against the contract and raise
    ``fanlib.data.errors.ContractError`` listing every problem.
    ``now``: the moment timestamps must not exceed (default: now in ``timezone``).
    ``timezone``: the IANA zone the data's timestamps are read in: naive ones are taken as
    wall-clock time there, time-zone-aware ones are converted to it.
    """
    if mapping is not None and not isinstance(mapping, dict):
        raise TypeError(f"mapping must be a dict of per-table column renames, not {type(mapping).__name__}")
    timezone = contract.check_timezone(timezone)
    loaded = open_source(source, timezone)
    try:
        fd = FanData(loaded, mapping=mapping, now=now, timezone=timezone)
    except BaseException:
        loaded.con.disconnect()
        if loaded.tmpdir:
            shutil.rmtree(loaded.tmpdir, ignore_errors=True)
        raise
    if validate:
        try:
            check_contract(fd)
        except ContractError:
            fd.close()
            raise
    return fd
