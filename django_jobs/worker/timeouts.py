"""Timeouts: fail jobs that ran past their ``timeout_seconds`` and free their slots.

Python cannot kill a thread. A job past its deadline is taken from its slot and recorded as
failed with ``JobTimeoutError`` (retried or dead-lettered by its policy); a task blocked in a
database statement (a lock wait, a slow query) has that statement cancelled by a cancel request
on its own connection (``db.statement_canceller``, safe behind PgBouncer), so its thread gets
control back; a fresh slot takes the old one's place at once. The abandoned thread's code may
still run, with its side effects, until it returns or the process ends; its late outcome is
discarded by the lease fence and by the slot's own flag.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from ..exceptions import JobTimeoutError
from .record import Recorder
from .slots import Pool, Slot

logger = logging.getLogger(__name__)

#: How long to wait for a thread whose statement was cancelled to end (seconds).
CANCEL_GRACE_SECONDS = 1.0


class Timeouts:
    """Enforce job deadlines for the slots of ``pool``; ``timed_out`` lists the ids failed."""

    def __init__(self, pool: Pool, recorder: Recorder) -> None:
        self.pool = pool
        self.recorder = recorder
        self.timed_out: list[int] = []
        self._abandoned: list[Slot] = []

    def stuck(self) -> int:
        """How many abandoned slot threads are still running their task (still cost a thread and
        a connection each)."""
        self._abandoned = [slot for slot in self._abandoned if slot.thread.is_alive()]
        return len(self._abandoned)

    def next_deadline(self) -> float | None:
        """Return the nearest deadline of a running job (``time.monotonic()``), or None."""
        deadlines = [slot.deadline for slot in self.pool.busy() if slot.deadline is not None]
        return min(deadlines, default=None)

    def enforce(self) -> int:
        """Fail every job past its deadline now; return how many."""
        now = time.monotonic()
        enforced = 0
        for slot in self.pool.busy():
            job = slot.abandon(expired_at=now)
            if job is None:
                continue
            enforced += 1
            self.timed_out.append(job.id)
            self._abandoned.append(slot)
            cancel = slot.cancel_statement
            if cancel is not None and self._cancel_statement(cancel, job.id):
                # A task stuck in a statement gets control back at once: give its thread a
                # moment to end, so it does not count as stuck (see ``stuck``).
                slot.thread.join(CANCEL_GRACE_SECONDS)
            error = JobTimeoutError(
                f"Job {job.id} ran past its timeout of {job.timeout_seconds}s; its thread was "
                "abandoned and its late outcome will be discarded."
            )
            recorded = self.recorder.fail(job, error, float(job.timeout_seconds or 0))
            logger.error(
                "Job %s timed out (%s)", job.id,
                recorded.value if recorded else "unrecorded; rescue will requeue it",
                extra={"job_id": job.id, "worker_id": job.worker_id},
            )  # fmt: skip
            # Keep the promised concurrency: a fresh slot replaces the one stuck in this job.
            self.pool.replace(slot)
        return enforced

    @staticmethod
    def _cancel_statement(cancel: Callable[[], bool], job_id: int) -> bool:
        try:
            return cancel()
        except Exception as exc:  # the timeout is recorded either way
            logger.warning("Job %s: could not cancel its database statement (%s)", job_id, exc)
            return False
