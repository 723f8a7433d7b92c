"""The process's resident memory, for ``--max-memory`` recycling and the benchmarks."""

from __future__ import annotations

import os
import resource


def rss_bytes() -> int:
    """Return this process's current resident set size in bytes.

    Reads ``/proc/self/statm`` on Linux; elsewhere falls back to the peak RSS from
    ``getrusage``, which only grows (so recycling there triggers on the peak).
    """
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if os.uname().sysname == "Darwin" else peak * 1024
