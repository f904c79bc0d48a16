"""The data layer: the contract, the sources, the engine and the checks at the door.

Flow: ``contract`` (what a fan data set holds) → ``sources`` (finds the source's kind and opens it; one
module per file kind beside it: ``csv_files``, ``excel``, ``spark``, sharing ``loaded``) → ``columns``
(mapping and casting into the contract's types, with ``vocabulary`` translating a source's own channels
and event types) → ``tables`` (:class:`FanData`: the engine-side tables
every report queries) → ``fandata`` (``connect``: open, then check) → ``structure`` and ``checks``
(the contract checked against real rows, with ``examples`` of failing rows) → ``validate`` (the checks'
public face and ``fanlib validate``). Beside them: ``errors`` (what goes wrong at the door), ``clock``
(the data's "now"), ``derived`` (fans derived from orders and events, join times filled), ``orders``
(order lines summed into paid orders, cancellations and returns left out), ``asof`` (the analysis date),
``load`` (copy a source into a warehouse), ``audit`` (what each step took from the engine) and
``freshness`` (stale or too-short data).

Reports call ``connect(source)`` and then run their own queries through ``FanData``.
"""

from fanlib.data.fandata import connect
from fanlib.data.tables import FanData

__all__ = ["FanData", "connect"]
