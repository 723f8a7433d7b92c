"""The smallest size a B-tree index of ``tuples`` entries of ``key_width`` bytes can have.

The estimate behind the common "btree bloat" queries (check_postgres, ioguix's
pgsql-bloat-estimation), reduced to what the job tables' indexes need: each leaf entry is an
8-byte index tuple header, the key padded to 8 bytes, and a 4-byte line pointer; leaf pages are
filled to the default fillfactor of 90 %; one meta page. Internal pages (well under 1 % for
these keys) are left out, so the estimate is a floor. PostgreSQL 13's deduplication stores
repeated keys once, so an index of few distinct keys can be smaller than this floor: the
estimate then finds no bloat rather than too much.
"""

from __future__ import annotations

import math

PAGE_BYTES = 8192
PAGE_OVERHEAD_BYTES = 24 + 16  # page header, B-tree special space
FILLFACTOR = 0.9
ENTRY_OVERHEAD_BYTES = 8 + 4  # index tuple header, line pointer


def estimated_bytes(tuples: float, key_width: int) -> int:
    """Return the floor size in bytes of a B-tree of ``tuples`` entries of ``key_width`` bytes.

    >>> estimated_bytes(0, 8), estimated_bytes(50_000, 8)
    (16384, 1130496)
    """
    entry = ENTRY_OVERHEAD_BYTES + math.ceil(max(key_width, 1) / 8) * 8
    per_page = int((PAGE_BYTES - PAGE_OVERHEAD_BYTES) * FILLFACTOR) // entry
    leaves = max(1, math.ceil(max(tuples, 0) / per_page))
    return (leaves + 1) * PAGE_BYTES
