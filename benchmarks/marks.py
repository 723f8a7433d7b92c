"""Marks that bench tasks leave for the harness: ``key time`` lines appended to a file.

A task that must report when it started (pickup latency) or how big its process is calls
``mark(key)``; the line goes to the file named by ``BENCH_MARKS`` in the worker's environment,
one ``write`` in append mode, so lines from several threads or processes do not interleave.
Files, not a table, so that the report costs the measured tool no database round trip.
"""

from __future__ import annotations

import os
import time
from pathlib import Path


def mark(key: str, value: float | None = None) -> None:
    """Append ``key value`` (default: ``time.time()`` now, in seconds) to ``$BENCH_MARKS``."""
    path = os.environ.get("BENCH_MARKS")
    if not path:
        return
    stamp = time.time() if value is None else value
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{key} {stamp!r}\n".encode())
    finally:
        os.close(fd)


def read(path: Path) -> dict[str, float]:
    """Return the marks in ``path`` as ``{key: value}`` (empty if the file does not exist yet)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    marks = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if value:
            marks[key] = float(value)
    return marks
