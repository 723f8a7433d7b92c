"""The measurements of ``compare.py``: each figure runs the same steps for every adapter.

A figure is a function ``(tools, sizes) -> list[Row]``; ``FIGURES`` names them for ``--only``.
Before each measurement every tool's tables are emptied and vacuumed; rates of drains come from
the tools' own rows (first start to last finish), as each adapter's ``span`` reads them.
"""

from __future__ import annotations

from .common import QUICK, Figure, Row, Sizes
from .costs import growth, idle_poll, memory
from .latency import pickup, pickup_busy
from .limits import keyed_drains
from .throughput import bulk_rates, drains, enqueue_rates, io_bound

FIGURES: dict[str, Figure] = {
    "enqueue": enqueue_rates,
    "bulk": bulk_rates,
    "drain": drains,
    "pickup": pickup,
    "pickup-busy": pickup_busy,
    "io": io_bound,
    "growth": growth,
    "idle-poll": idle_poll,
    "memory": memory,
    "keyed-drain": keyed_drains,
}

__all__ = ["FIGURES", "QUICK", "Figure", "Row", "Sizes"]
