"""``Feed``: the worker's small buffer of claimed jobs, and the hand-over to idle slots.

Claims come in batches (``concurrency + prefetch`` at most held at once), but a buffered job has
not started: its attempt is charged only as it is handed to a slot. Jobs claimed while slots are
idle are started by the claim itself (one statement claims the batch and starts as many as there
are idle slots); buffered jobs are started by ``engine.start``, in one statement for every slot
that is free at that moment.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Sequence

from .. import engine
from ..models import Job
from .observers import Observers
from .shared import Held
from .slots import Slot

logger = logging.getLogger(__name__)


class Feed:
    """Claim jobs for ``worker_id`` into a buffer and start them on idle slots (main thread)."""

    def __init__(
        self,
        held: Held,
        *,
        worker_id: str,
        lease_seconds: float,
        queues: Sequence[str] | None,
        observers: Observers | None = None,
    ) -> None:
        self.held = held
        self.observers = observers or Observers()
        self.worker_id = worker_id
        self.lease_seconds = lease_seconds
        self.queues = queues
        self.started_count = 0
        self._buffer: collections.deque[Job] = collections.deque()

    def __len__(self) -> int:
        return len(self._buffer)

    def feed(self, *, room: int, idle: list[Slot]) -> int:
        """Hand jobs to the ``idle`` slots, buffered ones first, and claim up to ``room`` more
        once the buffer is empty; return how many jobs were handed over or claimed.

        Database errors propagate; buffered jobs are kept for the next try.
        """
        handed = self._start_buffered(idle) if self._buffer and idle else 0
        idle = idle[handed:]
        if room <= 0 or self._buffer:
            return handed
        claimed = engine.claim(
            worker_id=self.worker_id,
            limit=room,
            lease_seconds=self.lease_seconds,
            queues=self.queues,
            start_first=len(idle),
        )
        self.observers.claimed(len(claimed))
        self.held.add(claimed)
        started = [job for job in claimed if job.started_at is not None]
        self._buffer.extend(claimed[len(started) :])
        self._hand(idle, started)
        return handed + len(claimed)

    def _start_buffered(self, idle: list[Slot]) -> int:
        count = min(len(idle), len(self._buffer))
        jobs = [self._buffer.popleft() for _ in range(count)]
        try:
            started = engine.start(jobs)
        except BaseException:
            self._buffer.extendleft(reversed(jobs))
            raise
        begun = {id(job) for job in started}
        lost = [job for job in jobs if id(job) not in begun]
        if lost:
            self.held.drop(lost)
            logger.warning("Worker %s: jobs %s were rescued or cancelled before they started",
                           self.worker_id, [job.id for job in lost])  # fmt: skip
        self._hand(idle, started)
        return count

    def _hand(self, idle: list[Slot], started: list[Job]) -> None:
        for slot, job in zip(idle, started, strict=False):
            slot.hand(job)
        self.started_count += len(started)

    def take_all(self) -> list[Job]:
        """Empty the buffer and return what it held (at shutdown, to release)."""
        jobs = list(self._buffer)
        self._buffer.clear()
        return jobs
