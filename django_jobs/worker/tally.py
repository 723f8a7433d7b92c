"""``Tally``: the worker's count of outcomes, for its periodic summary line at INFO.

One line every ``SUMMARY_SECONDS`` (when something finished) says what a worker did, instead of
a line per job: at thousands of jobs a second, formatting and writing a log record per job costs
more than running the job. The per-job lines are still there at DEBUG (``runworker -v 2``);
failures are always logged one by one, as warnings and errors.
"""

from __future__ import annotations

import collections
import threading
import time

from ..models import Job
from .observers import Observer, Outcome

#: How often a busy worker logs its summary (seconds).
SUMMARY_SECONDS = 10.0


class Tally(Observer):
    """Count finished jobs by outcome since the last ``take()``. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: collections.Counter[str] = collections.Counter()
        self._since = time.monotonic()

    def finished(self, job: Job, outcome: Outcome, duration_seconds: float) -> None:
        with self._lock:
            self._counts[outcome] += 1

    def due(self) -> bool:
        """Return whether a summary is due (``SUMMARY_SECONDS`` passed since the last take)."""
        return time.monotonic() - self._since >= SUMMARY_SECONDS

    def take(self) -> tuple[collections.Counter[str], float]:
        """Return the counts since the last take and the seconds they cover; start afresh."""
        with self._lock:
            counts, self._counts = self._counts, collections.Counter()
        now = time.monotonic()
        seconds, self._since = now - self._since, now
        return counts, seconds


def summary(counts: collections.Counter[str], seconds: float) -> str:
    """Return the summary text for ``counts`` over ``seconds``.

    >>> summary(collections.Counter(done=1200, retry=3), 10.02)
    '1200 done, 3 retried, 0 dead-lettered, 0 lost in the last 10.0s (120/s)'
    >>> summary(collections.Counter(done=5, snoozed=2), 10.0)
    '5 done, 0 retried, 0 dead-lettered, 2 snoozed, 0 lost in the last 10.0s (1/s)'
    >>> summary(collections.Counter(done=5, cancelled=2), 10.0)
    '5 done, 0 retried, 0 dead-lettered, 2 cancelled, 0 lost in the last 10.0s (1/s)'
    """
    total = sum(counts.values())
    snoozed = f"{counts['snoozed']} snoozed, " if counts["snoozed"] else ""
    cancelled = f"{counts['cancelled']} cancelled, " if counts["cancelled"] else ""
    return (
        f"{counts['done']} done, {counts['retry']} retried, {counts['dead']} dead-lettered, "
        f"{snoozed}{cancelled}{counts['lost']} lost in the last {seconds:.1f}s "
        f"({total / max(seconds, 1e-9):.0f}/s)"
    )
