"""``fanlib load``: copy a fan data source into a warehouse, table by table.

    fanlib load data/demo.duckdb --to postgresql://user:pass@host:5432/db [--schema fans_2025]
    fanlib load data/demo.duckdb --to parquet:///path/to/folder
    fanlib load exports/ --to parquet:///path/to/folder --timezone UTC

The contract tables (``fans``, ``events``, ``orders``, ``comments``,
``assignments``) are read through ``fanlib.data.fandata.connect`` with their contract
names and types, and streamed in Arrow batches, so a table never has to fit in
memory. PostgreSQL receives them through ``COPY … FROM STDIN`` (CSV); a
Parquet folder gets one file per table, the layout ``connect(folder)`` and the
Spark source read. Existing tables of the same name are replaced. Timestamps are
written naive, in the ``--timezone`` zone (Asia/Shanghai by default), as
``connect`` reads them; read the copy back in the same zone.

Afterwards ``connect(url)`` (with ``?schema=…`` when a schema was given) and
``fanlib run all --source URL`` read the copy.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from fanlib.data import contract

#: Told each step of a copy, as one line of text (the command line prints it).
Progress = Callable[[str], None]

#: Arrow type -> PostgreSQL column type, for the contract's four types.
_PG_TYPES = {
    "string": "text",
    "large_string": "text",
    "int64": "bigint",
    "double": "double precision",
    "timestamp[us]": "timestamp",
    "timestamp[ns]": "timestamp",
    "timestamp[ms]": "timestamp",
    "timestamp[s]": "timestamp",
    "bool": "boolean",
    "int32": "integer",
}
BATCH_ROWS = 200_000


def _pg_type(arrow_type) -> str:
    name = str(arrow_type)
    if name not in _PG_TYPES:
        raise TypeError(f"no PostgreSQL column type for Arrow type {name}")
    return _PG_TYPES[name]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _csv_bytes(batch) -> bytes:
    """A record batch as CSV without header: every value quoted, NULL as an unquoted empty field,
    so PostgreSQL tells NULL from the empty string."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    buf = io.BytesIO()
    pacsv.write_csv(
        pa.Table.from_batches([batch]),
        buf,
        write_options=pacsv.WriteOptions(include_header=False, quoting_style="all_valid"),
    )
    return buf.getvalue()


def _batches(fd, name: str):
    """A streaming Arrow reader over one typed contract table, row for row as the source has it (order lines
    and cancellations included, join times as given), so the copy reads back as the source does."""
    fd.table(name)  # refuses a table whose structure is broken
    expr = fd.plans[name].typed
    if fd.con.name == "duckdb":
        # ibis' DuckDB batch reader calls an Arrow method DuckDB 2 renamed; ask DuckDB directly.
        return fd.con.con.sql(str(fd.con.compile(expr))).to_arrow_reader(BATCH_ROWS)
    return expr.to_pyarrow_batches(chunk_size=BATCH_ROWS)


def _tables(fd) -> list[str]:
    """The contract tables the source has (not those derived from others: the copy derives them again)."""
    return [name for name in contract.TABLE_NAMES if fd.has(name) and not fd.is_derived(name)]


def to_postgres(
    source: str | Path,
    url: str,
    schema: str | None = None,
    progress: Progress | None = None,
    timezone: str = contract.TIMEZONE,
) -> dict[str, int]:
    """Copy the contract tables of ``source`` into PostgreSQL at ``url``; returns rows per table.

    ``schema`` (created if missing) holds the tables; read them back with
    ``connect(url + "?schema=" + schema)``.
    """
    import psycopg

    from fanlib.data.fandata import connect

    say = progress or (lambda _msg: None)
    fd = connect(source, validate=False, timezone=timezone)
    counts: dict[str, int] = {}
    try:
        with psycopg.connect(_libpq_url(url)) as pg:
            if schema:
                pg.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote(schema)}")
            for name in _tables(fd):
                target = f"{_quote(schema)}.{_quote(name)}" if schema else _quote(name)
                reader = _batches(fd, name)
                columns = ", ".join(f"{_quote(f.name)} {_pg_type(f.type)}" for f in reader.schema)
                names = ", ".join(_quote(f.name) for f in reader.schema)
                pg.execute(f"DROP TABLE IF EXISTS {target}")
                pg.execute(f"CREATE TABLE {target} ({columns})")
                t0, rows = time.perf_counter(), 0
                with pg.cursor().copy(f"COPY {target} ({names}) FROM STDIN WITH (FORMAT csv)") as copy:
                    for batch in reader:
                        copy.write(_csv_bytes(batch))
                        rows += batch.num_rows
                pg.execute(f"ANALYZE {target}")
                pg.commit()
                counts[name] = rows
                say(f"{name}: {rows:,} rows in {time.perf_counter() - t0:.1f} s")
    finally:
        fd.close()
    return counts


def to_parquet(
    source: str | Path, folder: str | Path, progress: Progress | None = None, timezone: str = contract.TIMEZONE
) -> dict[str, int]:
    """Write the contract tables of ``source`` as ``folder/<table>.parquet``; returns rows per table."""
    import pyarrow.parquet as pq

    from fanlib.data.fandata import connect

    say = progress or (lambda _msg: None)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fd = connect(source, validate=False, timezone=timezone)
    counts: dict[str, int] = {}
    try:
        for name in _tables(fd):
            t0, rows = time.perf_counter(), 0
            reader = _batches(fd, name)
            tmp = folder / f".{name}.parquet.tmp"
            with pq.ParquetWriter(tmp, reader.schema) as writer:
                for batch in reader:
                    writer.write_batch(batch)
                    rows += batch.num_rows
            tmp.replace(folder / f"{name}.parquet")
            counts[name] = rows
            say(f"{name}: {rows:,} rows in {time.perf_counter() - t0:.1f} s")
    finally:
        fd.close()
    return counts


def _libpq_url(url: str) -> str:
    """libpq accepts postgresql:// and postgres:// but not SQLAlchemy-style driver suffixes."""
    scheme, rest = url.split("://", 1)
    return "postgresql://" + rest if scheme.startswith("postgres") else url


def load(
    source: str | Path,
    to: str,
    schema: str | None = None,
    progress: Progress | None = None,
    timezone: str = contract.TIMEZONE,
) -> dict[str, int]:
    """Copy ``source`` to ``to``: a ``postgresql://`` URL or a ``parquet://`` folder."""
    scheme = urlsplit(to).scheme.lower()
    if scheme in ("postgresql", "postgres"):
        return to_postgres(source, to, schema=schema, progress=progress, timezone=timezone)
    if scheme == "parquet":
        if schema:
            raise ValueError("--schema applies to PostgreSQL only")
        return to_parquet(source, to.split("://", 1)[1], progress=progress, timezone=timezone)
    raise ValueError(f"--to {to.split('://', 1)[0]}://…: give a postgresql:// URL or a parquet:///folder")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="fanlib load", description=__doc__.splitlines()[0])
    ap.add_argument("source", help="data source to copy (DuckDB file, data folder, workbook or URL)")
    ap.add_argument("--to", required=True, help="postgresql://user:pass@host:port/db or parquet:///folder")
    ap.add_argument("--schema", help="PostgreSQL schema to hold the tables (created if missing)")
    ap.add_argument(
        "--timezone",
        default=contract.TIMEZONE,
        help=f"IANA time zone the timestamps are written in (default {contract.TIMEZONE})",
    )
    args = ap.parse_args(argv)
    from fanlib.data.errors import SourceError
    from fanlib.data.loaded import mask_url

    def say(msg: str) -> None:
        print(f"[fanlib load] {msg}", file=sys.stderr, flush=True)

    try:
        counts = load(args.source, args.to, schema=args.schema, progress=say, timezone=args.timezone)
    except (SourceError, ValueError, TypeError) as e:
        print(f"fanlib load: {e}", file=sys.stderr)
        return 2
    where = mask_url(args.to) + (f" (schema {args.schema})" if args.schema else "")
    say(f"copied {', '.join(f'{k} {v:,}' for k, v in counts.items())} rows into {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
