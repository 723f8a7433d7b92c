"""``Feed``: the worker's small buffer of claimed jobs, and the hand-over to idle slots.

Claims come in batches (``concurrency + prefetch`` at most held at once), but a buffered job has
not started: its attempt is charged (``engine.start``) only as it is handed to a slot, in one
statement for every slot that is free at that moment.
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

    def claim(self, *, room: int, idle: int) -> int:
        """Claim up to ``room`` jobs unless the buffer can feed ``idle`` slots; return how many."""
        if room <= 0 or (self._buffer and len(self._buffer) >= idle):
            return 0
        claimed = engine.claim(
            worker_id=self.worker_id,
            limit=room,
            lease_seconds=self.lease_seconds,
            queues=self.queues,
        )
        self.observers.claimed(len(claimed))
        self.held.add(claimed)
        self._buffer.extend(claimed)
        return len(claimed)

    def start(self, idle: list[Slot]) -> int:
        """Charge an attempt to a buffered job for each idle slot and hand it over; return how
        many left the buffer. Database errors propagate, the jobs kept for the next try."""
        count = min(len(idle), len(self._buffer))
        if not count:
            return 0
        jobs = [self._buffer.popleft() for _ in range(count)]
        try:
            started = engine.start(jobs)
        except BaseException:
            self._buffer.extendleft(reversed(jobs))
            raise
        lost = [job for job in jobs if job not in started]
        if lost:
            self.held.drop(lost)
            logger.warning("Worker %s: jobs %s were rescued before they started",
                           self.worker_id, [job.id for job in lost])  # fmt: skip
        for slot, job in zip(idle, started, strict=False):
            slot.hand(job)
        self.started_count += len(started)
        return count

    def take_all(self) -> list[Job]:
        """Empty the buffer and return what it held (at shutdown, to release)."""
        jobs = list(self._buffer)
        self._buffer.clear()
        return jobs
