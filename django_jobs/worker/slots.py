"""``Slot`` and ``Pool``: the threads that run jobs, one job at a time each.

A slot thread opens a database connection only when its job uses the database (or its failure is
recorded), then keeps it for the worker's life (a reconnect per job would cost more than most
jobs): slots whose tasks never touch the database cost no connection. With Django's connection
pool (``OPTIONS["pool"]``) a slot borrows a connection for one job and gives it back when the
job's outcome is recorded, so the pool's size, not the concurrency, bounds the connections.
The main thread hands a started job to an idle slot (or the slot takes one from the runway as its
last one ends); the slot runs it, records its outcome and becomes idle again. A slot whose job ran
past its timeout is abandoned (Python cannot kill a thread): it ends once its task returns, its
late outcome discarded, and a fresh slot takes its place. A slot thread that dies of a
bug in django-jobs is noticed by ``Pool.reap`` and replaced; its job is failed, never left running.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

from .. import db
from ..models import Job
from .runway import Runway
from .shared import Health

logger = logging.getLogger(__name__)

#: A slot idle longer than this checks its connection before its next job (seconds).
IDLE_CHECK_SECONDS = 1.0

RunJob = Callable[["Slot", Job], None]


class Slot:
    """One job-running thread. ``job`` is what it runs now (None when idle).

    ``deadline`` (a ``time.monotonic()`` value) is set while a job with a timeout runs and
    cleared once its outcome is claimed for recording; ``abandoned`` once the job was taken from
    it (timeout, shutdown). The lock orders the two: a job's outcome is recorded either by the
    slot (``claim_outcome``) or by whoever abandoned it (``abandon``), never both.
    """

    def __init__(
        self,
        index: int,
        run_job: RunJob,
        health: Health,
        on_idle: Callable[[], None],
        runway: Runway | None = None,
    ) -> None:
        self.index = index
        self.job: Job | None = None
        self.deadline: float | None = None
        self.handed_at = 0.0  # time.monotonic() of the last hand-over
        # Cancels the statement the slot's connection runs (db.statement_canceller); set by the
        # slot's thread as it starts, and it opens no connection.
        self.cancel_statement: Callable[[], bool] | None = None
        self.abandoned = False
        self.crash: BaseException | None = None
        self._run_job = run_job
        self._health = health
        self._on_idle = on_idle
        self._runway = runway
        self._lock = threading.Lock()
        self._inbox: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self.thread = SlotThread(self)

    @property
    def idle(self) -> bool:
        return self.job is None and not self.abandoned and self.crash is None

    def hand(self, job: Job) -> None:
        """Give this idle slot ``job`` to run; its timeout clock starts now."""
        with self._lock:
            self._assign(job)
        self._inbox.put(job)

    def _assign(self, job: Job) -> None:
        self.job = job
        self.handed_at = time.monotonic()
        self.deadline = self.handed_at + job.timeout_seconds if job.timeout_seconds else None

    def _next(self) -> Job | None:
        # The next job from the runway, taken as the last one ends: the slot stays busy, so
        # the main thread never hands it a job meanwhile; an abandoned slot takes none.
        if self._runway is None:
            return None
        with self._lock:
            if self.abandoned or (job := self._runway.take()) is None:
                return None
            self._assign(job)
            return job

    def stop(self) -> None:
        """End the thread once it has finished what it holds."""
        self._inbox.put(None)

    def abandon(self, *, expired_at: float | None = None) -> Job | None:
        """Take the job from this slot; return it, or None if there is none to take.

        With ``expired_at`` only a job whose deadline is at or before it is taken (a timeout).
        The caller then records the job's outcome; the slot's own late outcome is discarded.
        """
        with self._lock:
            job = self.job
            if job is None or self.abandoned:
                return None
            if expired_at is not None and (self.deadline is None or self.deadline > expired_at):
                return None
            self.abandoned = True
            return job

    def claim_outcome(self) -> bool:
        """Return whether this slot may record its job's outcome (it was not abandoned)."""
        with self._lock:
            if self.abandoned:
                return False
            self.deadline = None
            return True

    def _done(self) -> None:
        with self._lock:
            self.job = None

    def _run(self) -> None:
        seen, idle_since = self._health.trouble, time.monotonic()
        pooled = db.pooled()
        self.cancel_statement = db.statement_canceller(db.thread_connection())
        try:
            while (job := self._inbox.get()) is not None:
                while job is not None:
                    if (
                        seen != self._health.trouble
                        or time.monotonic() - idle_since > IDLE_CHECK_SECONDS
                    ):
                        seen = self._health.trouble
                        db.drop_unusable_connection()
                    self._run_job(self, job)
                    if self.abandoned:
                        return  # a replacement slot already took this thread's place
                    if pooled:
                        db.give_back_pooled()  # borrowed for this job only
                    idle_since = time.monotonic()
                    job = self._next()
                self._done()
                self._on_idle()  # after _done: the main thread must see this slot idle
                idle_since = time.monotonic()
        except BaseException as exc:
            self.crash = exc
            logger.critical("Slot %d died; it will be replaced", self.index, exc_info=exc)
        finally:
            db.close_quietly()


class SlotThread(threading.Thread):
    """A slot's thread; ``running_job`` is the slot's job, for ``django_jobs.cancellation``."""

    def __init__(self, slot: Slot) -> None:
        super().__init__(target=slot._run, name=f"django-jobs-slot-{slot.index}", daemon=True)
        self.slot = slot

    @property
    def running_job(self) -> Job | None:
        # Read by the task's own thread: found with no per-job bookkeeping on the hot path.
        return self.slot.job


class Pool:
    """The worker's slots: ``size`` of them running at once, replaced when abandoned or dead.

    ``on_idle`` is called (in the slot's thread) whenever a slot becomes idle, so the main loop
    hands it more work. A slot that finishes a job first takes the next from ``runway``, if
    any, and is idle only once it is empty. Only the main thread calls the methods below.
    """

    def __init__(
        self,
        size: int,
        run_job: RunJob,
        health: Health,
        *,
        on_idle: Callable[[], None],
        runway: Runway | None = None,
    ) -> None:
        self.size = size
        self._run_job = run_job
        self._health = health
        self._on_idle = on_idle
        self.runway = runway
        self._count = 0
        self.slots: list[Slot] = []

    def start(self) -> None:
        for _ in range(self.size):
            self._add()

    def _add(self) -> Slot:
        slot = Slot(self._count, self._run_job, self._health, self._on_idle, self.runway)
        self._count += 1
        self.slots.append(slot)
        slot.thread.start()
        return slot

    def replace(self, slot: Slot) -> None:
        """Retire ``slot`` (abandoned or dead) and start a fresh one in its place."""
        slot.stop()
        self.slots.remove(slot)
        self._add()

    def idle(self) -> list[Slot]:
        return [slot for slot in self.slots if slot.idle]

    def busy(self) -> list[Slot]:
        return [slot for slot in self.slots if slot.job is not None and not slot.abandoned]

    def just_handed(self, within_seconds: float) -> bool:
        """Return whether a busy slot got its job less than ``within_seconds`` ago."""
        since = time.monotonic() - within_seconds
        return any(slot.handed_at > since for slot in self.busy())

    def reap(self) -> list[tuple[Job | None, BaseException]]:
        """Replace slots whose thread died; return each one's job (None if idle) and error."""
        dead = [slot for slot in self.slots if slot.crash is not None and not slot.abandoned]
        found = []
        for slot in dead:
            found.append((slot.abandon(), slot.crash or RuntimeError("slot died")))
            self.replace(slot)
        return found

    def stop(self) -> None:
        """Ask every slot to end after its current job."""
        for slot in self.slots:
            slot.stop()
