"""``Runway``: jobs started ahead of a free slot, which slots take as they finish.

A claim takes at most one job per idle slot, so with a claim round trip of about a millisecond
and no-op jobs, ten slots spend most of their time waiting for the main thread's next claim.
While jobs are short, the main thread therefore claims and starts more than its idle slots
(``engine.claim(start_ahead=...)``) and leaves the rest here; a slot that finishes takes the
next one at once, without waking the main thread, and the main thread claims again when the
runway runs low, while the slots are still busy. It is the local queue of graphile-worker and
pgqueuer, sized by time instead of by count: ``size(...)`` holds about ``RUNWAY_SECONDS`` of
work, so it vanishes for jobs slower than that and a job started ahead never waits long.

What a started-ahead job costs: it is ``running`` in the table before a slot has it (its lease
renewed like any other), and a crash of the worker charges it an attempt it never used (rescue
cannot tell it from a job that ran). The claim never starts a job ahead on its last attempt, so
no job is dead-lettered for a crash it was not part of. At shutdown what is still here goes
back to the queue, its attempt given back (``engine.release(started_ahead=True)``).
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable

from ..models import Job

#: How much work the runway holds, in seconds of the slots' time: the average wait of a job
#: started ahead, before a slot takes it. The main thread claims again when half is left, so
#: half of this must outlast a claim of that many jobs (about 3 ms for 100 on a 2-core machine,
#: more while the slots compete for the GIL): at 5 ms the slots of a no-op drain waited for
#: claims, and 10 ms drained 26% faster (medians of 5, 40,000 jobs, 1 process; 55% with 2).
RUNWAY_SECONDS = 0.01

#: The most jobs started ahead of free slots, whatever the jobs' speed: with the claim's round
#: trip, about 100 per claim is where more stops paying (the table's PostgreSQL cost per job
#: stops falling), and the claim comes at half of this. It also bounds the attempts one crash
#: of the worker charges to jobs that never ran (``docs/explanation/delivery-guarantees.md``).
MAX_RUNWAY = 200


def size(concurrency: int, typical_seconds: float) -> int:
    """How many jobs to keep started ahead for ``concurrency`` slots whose jobs typically take
    ``typical_seconds``: ``RUNWAY_SECONDS`` of the slots' work, at most ``MAX_RUNWAY``. That is
    0 for jobs not yet timed (``math.inf``) and for jobs slower than ``concurrency *
    RUNWAY_SECONDS`` (100 ms with 10 slots), and 1 job per slot at ``RUNWAY_SECONDS`` a job."""
    jobs = concurrency * RUNWAY_SECONDS / max(typical_seconds, 1e-6)
    return min(MAX_RUNWAY, int(jobs))


class Runway:
    """A thread-safe queue of started jobs; ``on_low()`` is called (in the taking slot's
    thread) once the count falls to ``low_water``, so the main thread claims more."""

    def __init__(self, on_low: Callable[[], None]) -> None:
        self._jobs: collections.deque[Job] = collections.deque()
        self._on_low = on_low
        self._lock = threading.Lock()
        self.low_water = 0

    def __len__(self) -> int:
        return len(self._jobs)

    def extend(self, jobs: list[Job], *, low_water: int) -> None:
        """Add started ``jobs``; wake the main thread when no more than ``low_water`` are left."""
        with self._lock:
            self._jobs.extend(jobs)
            self.low_water = low_water

    def take(self) -> Job | None:
        """Return the next job, or None if there is none (a slot's thread)."""
        with self._lock:
            if not self._jobs:
                return None
            job = self._jobs.popleft()
            low = len(self._jobs) == self.low_water
        if low:
            self._on_low()
        return job

    def take_all(self) -> list[Job]:
        """Empty the runway and return what it held (at shutdown, to release)."""
        with self._lock:
            jobs = list(self._jobs)
            self._jobs.clear()
        return jobs
