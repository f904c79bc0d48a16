"""The data layer: the contract, the sources, the engine and the checks at the door.

Flow: ``contract`` (what a fan data set holds) → ``sources`` (one loader per kind: CSV, Parquet, Excel,
DuckDB, PostgreSQL, Spark) → ``columns`` (mapping and casting into the contract's types) →
``fandata`` (:class:`FanData`, ``connect``: the engine-side tables every report queries) →
``validate`` (the contract checked against real rows), with ``load`` (copy a source into a warehouse),
``audit`` (what each step took from the engine) and ``freshness`` (stale or too-short data).

Reports call ``connect(source)`` and then run their own queries through ``FanData``.
"""

from fanlib.data.fandata import FanData, connect

__all__ = ["FanData", "connect"]
