"""What opening a source hands back (``Loaded``), and the small pieces every loader shares.

A loader (``fanlib.data.sources`` and the per-kind modules beside it) gives a connection, the raw
contract tables as the source has them, a description for reports, and the temporary folder to remove
when the data is closed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import ibis.expr.types as ir

from fanlib.data import contract
from fanlib.data.errors import SourceError


def sql_str(value: str | Path) -> str:
    """``value`` as a quoted SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def sql_list(paths: list[Path]) -> str:
    """``paths`` as a SQL list of string literals."""
    return "[" + ", ".join(sql_str(p) for p in paths) + "]"


def mask_url(url: str) -> str:
    """The URL without its password, for reports and manifests."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


@dataclass
class Loaded:
    """An opened source: its connection, raw contract tables, description and temporary folder.

    ``tables`` names every table the source holds, contract or not (files of a folder by their name
    without suffix, sheets of a workbook, tables of a database), each with a reader called on demand;
    ``skipped`` says for each entry of the source that is not read why (a file kind fanlib does not read).
    """

    con: Any
    raw: dict[str, ir.Table]
    description: str
    tmpdir: str | None = None
    tables: dict[str, Callable[[], ir.Table]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def run_load(con: Any, sql: str, files: list[Path], kind: str) -> None:
    """Run a DuckDB statement that reads ``files``; a read error becomes a ``SourceError`` naming them."""
    import duckdb

    try:
        con.raw_sql(sql)
    except duckdb.Error as e:
        names = ", ".join(str(f) for f in files[:3]) + (" …" if len(files) > 3 else "")
        raise SourceError(f"{names}: cannot read the {kind} data: {duckdb_cause(e)}") from e


def duckdb_cause(error: Exception, max_chars: int = 160) -> str:
    """DuckDB's error without its list of fixes and reader options: the line, the cause, the line's text.

    A CSV error reads "CSV Error on Line: 3; Original Line: O2,F2,x; Expected Number of Columns: 2 Found: 3".
    """
    kept = []
    for line in str(error).strip().splitlines():
        line = line.strip()
        if not line or line.startswith(("Possible fix", "Possible Solution", "* ")):
            break  # what follows are DuckDB's suggestions and the reader's options
        if line.startswith("Original Line:"):
            text = line.removeprefix("Original Line:").strip()
            line = "Original Line: " + (text if len(text) <= max_chars else text[: max_chars - 1] + "…")
        kept.append(line)
    return "; ".join(kept) or type(error).__name__


def list_tables(con: Any) -> list[str]:
    """The tables of the connection's current schema."""
    if con.name == "duckdb":
        # ibis' DuckDB list_tables() breaks on DuckDB 2 (a renamed Arrow method); ask the catalog.
        rows = con.raw_sql(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        ).fetchall()
        return [r[0] for r in rows]
    return con.list_tables()


def database_tables(con: Any) -> dict[str, Callable[[], ir.Table]]:
    """Every table of the connection's current schema, by name, with its reader."""
    return {t: (lambda t=t: con.table(t)) for t in list_tables(con)}


def contract_tables(con: Any) -> dict[str, ir.Table]:
    """The connection's tables named like contract tables (in any letter case), by contract name."""
    available = {t.lower(): t for t in list_tables(con)}
    return {name: con.table(available[name]) for name in contract.TABLE_NAMES if name in available}
