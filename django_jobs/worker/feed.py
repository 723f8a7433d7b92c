"""``Feed``: the worker's small buffer of claimed jobs, and the hand-over to idle slots.

Claims come in batches (``concurrency + prefetch`` at most held at once), but a buffered job has
not started: its attempt is charged only as it is handed to a slot. Jobs claimed while slots are
idle are started by the claim itself (one statement claims the batch and starts as many as there
are idle slots); buffered jobs are started by ``engine.start``, in one statement for every slot
that is free at that moment.

Jobs under a limit (a concurrency key, a queue with limits) come from ``engine.claim_limited``,
which starts all it takes, so they go straight to idle slots. It runs before the plain claim
while it keeps finding jobs; otherwise after it, for the slots still idle, when a limited job
of this worker has ended (its slot may serve the next one of its key at once), when a NOTIFY
(or a rescue) woke the worker and the plain claim found nothing (the job was a limited one),
before a burst worker exits, and once per ``look_seconds`` or as soon as a full rate window
opens again. Not after a plain job's end: a worker running plain jobs one by one would then
pay a limited claim before each pickup. A worker pays one small transaction per
``look_seconds`` for it, and none per plain claim.
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Sequence

from .. import engine
from ..models import Job
from .observers import Observers
from .runway import Runway
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
        look_seconds: float = 1.0,
        burst: bool = False,
        runway: Runway | None = None,
    ) -> None:
        self.held = held
        self.runway = runway
        self.observers = observers or Observers()
        self.worker_id = worker_id
        self.lease_seconds = lease_seconds
        self.queues = queues
        self.started_count = 0
        self._buffer: collections.deque[Job] = collections.deque()
        self.look_seconds = look_seconds
        self.burst = burst
        self._look_at = 0.0  # time.monotonic() of the next limited claim, when none is owed
        self._limited_found = False
        self._limited_starved = False
        self._limited: list[Job] = []  # limited jobs handed out and maybe still held
        # The last feed() claimed fewer plain jobs than it had room for and no limited ones:
        # nothing more was ready then.
        self.exhausted = False

    def next_look_in(self) -> float:
        """Return the seconds until the next limited claim is due by the clock (0: now).

        While the last one found jobs, the next is due as soon as a slot is idle, which wakes
        the worker anyway: then ``look_seconds``.
        """
        if self._limited_found:
            return self.look_seconds
        return max(0.0, self._look_at - time.monotonic())

    def __len__(self) -> int:
        return len(self._buffer)

    def feed(
        self,
        *,
        room: int,
        idle: list[Slot],
        notified: bool = False,
        ahead: int = 0,
        low_water: int = 0,
    ) -> int:
        """Hand jobs to the ``idle`` slots, from the runway first, then buffered ones, and claim
        up to ``room`` more once the buffer is empty; return how many jobs were handed over or
        claimed.

        ``notified``: a NOTIFY of an enqueued job woke the worker since the last call.
        ``ahead``: how many of the ``room`` to start ahead of free slots, onto the runway,
        whose ``low_water`` then says when to wake the main thread for more.

        Database errors propagate; buffered jobs are kept for the next try.
        """
        self.exhausted = False
        handed = self._from_runway(idle) if self.runway is not None and idle else 0
        idle = idle[handed:]
        ahead += handed  # the room of the slots they took goes back to the runway's room
        buffered = self._start_buffered(idle) if self._buffer and idle else 0
        handed += buffered
        idle = idle[buffered:]
        if room <= 0 or self._buffer:
            if room <= 0:  # nothing may be claimed now (max_jobs): no look due before a poll
                self._look_at = max(self._look_at, time.monotonic() + self.look_seconds)
            return handed
        # Limited jobs first while they keep coming, or when plain ones took every slot the
        # last time a look was due: a plain backlog never starves them.
        first = bool(idle) and (self._limited_found or self._limited_starved)
        took_limited = 0
        if first:
            limited = took_limited = self._claim_limited(idle)
            handed += limited
            idle, room = idle[limited:], room - limited
            if room <= 0:
                return handed
        claimed = engine.claim(
            worker_id=self.worker_id,
            limit=room,
            lease_seconds=self.lease_seconds,
            queues=self.queues,
            start_first=len(idle),
            start_ahead=ahead if self.runway is not None else 0,
        )
        self.observers.claimed(len(claimed))
        self.held.add(claimed)
        started = [job for job in claimed if job.started_at is not None]
        # Not started: prefetched, or on their last attempt (never started ahead).
        self._buffer.extend(job for job in claimed if job.started_at is None)
        self._hand(idle, started, low_water=low_water)
        idle = idle[len(started) :]
        # After the plain claim, so that a plain job's pickup never waits for this one.
        if not first and self._limited_due(found_nothing=not claimed, notified=notified):
            if idle:
                took_limited = self._claim_limited(idle)
                handed += took_limited
            else:
                self._limited_starved = True
        # Limited jobs found: more of them may be claimable at once (the next key's).
        self.exhausted = len(claimed) < room and not took_limited
        return handed + len(claimed)

    def _limited_due(self, *, found_nothing: bool, notified: bool) -> bool:
        # Due by the clock; when one of this worker's limited jobs has ended (its slot may take
        # the next of its key); when a NOTIFY (or a rescue) woke the worker and the plain claim
        # found nothing (it was for a limited job); and in burst mode before it exits. Polls,
        # and the claims that follow a job's end, look by the clock only: an idle worker, or
        # one that runs a plain job every few milliseconds, pays nothing more for limits.
        if time.monotonic() >= self._look_at:
            return True
        if found_nothing and (notified or (self.burst and not len(self.held))):
            return True
        if self._limited and not all(self.held.holds(job) for job in self._limited):
            self._limited = [job for job in self._limited if self.held.holds(job)]
            return True
        return False

    def _claim_limited(self, idle: list[Slot]) -> int:
        result = engine.claim_limited(
            worker_id=self.worker_id,
            limit=len(idle),
            lease_seconds=self.lease_seconds,
            queues=self.queues,
        )
        jobs = result.jobs
        self._limited_found, self._limited_starved = bool(jobs), False
        wait = self.look_seconds if result.wait_seconds is None else result.wait_seconds
        self._look_at = time.monotonic() + min(self.look_seconds, wait)
        if jobs:
            self.observers.claimed(len(jobs))
            self.held.add(jobs)
            self._limited = [job for job in self._limited if self.held.holds(job)] + jobs
            self._hand(idle, jobs)
        return len(jobs)

    def _from_runway(self, idle: list[Slot]) -> int:
        # Started jobs that no slot took yet (slots take them as they finish): a slot that was
        # idle when they were claimed gets one here.
        assert self.runway is not None
        count = 0
        for slot in idle:
            job = self.runway.take()
            if job is None:
                break
            slot.hand(job)
            count += 1
        return count

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

    def _hand(self, idle: list[Slot], started: list[Job], *, low_water: int = 0) -> None:
        for slot, job in zip(idle, started, strict=False):
            slot.hand(job)
        if len(started) > len(idle):
            assert self.runway is not None, "only a claim with a runway starts jobs ahead"
            self.runway.extend(started[len(idle) :], low_water=low_water)
        self.started_count += len(started)

    def take_all(self) -> list[Job]:
        """Empty the buffer and return what it held (at shutdown, to release)."""
        jobs = list(self._buffer)
        self._buffer.clear()
        return jobs
