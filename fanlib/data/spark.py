"""Spark sources: ``spark://local/<folder>`` or ``spark://HOST:PORT[/<folder>]``, through ibis' PySpark backend."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import ibis

from fanlib.data import contract
from fanlib.data.errors import SourceError
from fanlib.data.loaded import Loaded, contract_tables, database_tables


def _teach_spark_bit_or() -> None:
    """ibis 12's Spark compiler lacks the BIT_OR aggregate (the cohort counts use it); Spark SQL has it."""
    from ibis.backends.sql.compilers.pyspark import PySparkCompiler

    PySparkCompiler.visit_BitOr = lambda self, op, *, arg, where: self.agg.bit_or(arg, where=where)


def load_spark(url: str) -> Loaded:
    """``spark://local/<folder>`` (a local Spark, all cores) or ``spark://HOST:PORT/<folder>`` (a cluster):
    the folder holds ``<table>.parquet`` files or folders, as ``fanlib load --to parquet://`` writes them.
    Without a folder (``spark://HOST:PORT``), the tables come from the session's current database."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as e:
        raise SourceError("a spark:// source needs PySpark: pip install 'fanlib[spark]'") from e
    parts = urlsplit(url)
    master = "local[*]" if parts.netloc in ("", "local") else f"spark://{parts.netloc}"
    folder = Path(parts.path) if parts.path not in ("", "/") else None
    if folder is not None and not folder.is_dir():
        raise SourceError(f"{url}: no such folder of Parquet tables: {folder}")
    # Contract timestamps are naive China Standard Time; a UTC session keeps them as stored.
    session = (
        SparkSession.builder.master(master)
        .appName("fanlib")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    _teach_spark_bit_or()
    con = ibis.pyspark.connect(session)
    if folder is None:
        return Loaded(con, contract_tables(con), f"Spark {master}, current database", tables=database_tables(con))
    raw = {}
    for name in contract.TABLE_NAMES:
        found = [p for p in (folder / f"{name}.parquet", folder / name) if p.exists()]
        if found:
            raw[name] = con.read_parquet(str(found[0]), table_name=f"fanlib_{name}")
    readers = {name: (lambda t=t: t) for name, t in raw.items()}
    for i, p in enumerate(sorted(folder.iterdir())):
        name = p.name.removesuffix(".parquet")
        if name not in contract.TABLES and not p.name.startswith(".") and (p.is_dir() or p.suffix == ".parquet"):
            readers[name] = lambda p=p, i=i: con.read_parquet(str(p), table_name=f"fanlib_source_{i}")
    return Loaded(con, raw, f"Spark {master}, Parquet tables in {folder}", tables=readers)
