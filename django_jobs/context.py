"""``JobContext``: what a ``takes_context`` task knows of its job, how it reports progress, and
whether it was asked to stop."""

from __future__ import annotations

import dataclasses
import uuid

from .cancellation import is_requested
from .exceptions import InvalidJobOptionsError, JobCancelled
from .models import Job


@dataclasses.dataclass(frozen=True, slots=True)
class JobContext:
    """The running job as its task sees it. ``attempt`` counts from 1; ``snoozes`` counts the
    times the job snoozed before this run (``django_jobs.Snooze``).

    ``cancel_requested`` and ``check_cancelled()`` tell the task a cancel was asked for (see
    ``django_jobs.cancellation``).
    """

    job_id: int
    attempt: int
    max_attempts: int
    worker_id: str
    lease_token: uuid.UUID | None
    snoozes: int = 0
    # The worker's own copy of the row, whose cancel flag the heartbeat sets.
    job: Job | None = dataclasses.field(default=None, repr=False, compare=False)

    @classmethod
    def for_job(cls, job: Job) -> JobContext:
        return cls(
            job_id=job.id,
            attempt=job.attempts,
            max_attempts=job.max_attempts,
            worker_id=job.worker_id,
            lease_token=job.lease_token,
            snoozes=job.snoozes,
            job=job,
        )

    @property
    def cancel_requested(self) -> bool:
        """Whether this job was asked to stop. An attribute read, no query: poll it freely.

        True from when the worker learns of the request: at once where it LISTENs, else at its
        next heartbeat (``HEARTBEAT_SECONDS``, 10 s by default). Stop by raising
        ``JobCancelled`` (``check_cancelled()``) or any error: the job ends ``cancelled``.
        Returning normally instead makes it ``done``.
        """
        return is_requested(self.job)

    def check_cancelled(self) -> None:
        """Raise ``JobCancelled`` if this job was asked to stop; else return. No query."""
        if is_requested(self.job):
            assert self.job is not None
            raise JobCancelled(
                f"Job {self.job_id} was asked to stop at {self.job.cancel_requested_at}."
            )

    def set_progress(self, percent: float, message: str = "") -> bool:
        """Record ``percent`` (0..100) done and an optional short ``message`` for status pages.

        One UPDATE by primary key, fenced to this attempt's lease: returns False, writing nothing,
        once the lease is lost. Raises ``InvalidJobOptionsError`` for a percent outside 0..100.
        """
        if isinstance(percent, bool) or not isinstance(percent, int | float):
            raise InvalidJobOptionsError(f"percent must be a number, got {percent!r}.")
        if not 0 <= percent <= 100:
            raise InvalidJobOptionsError(f"percent must be within 0..100, got {percent}.")
        from . import engine

        return engine.set_progress(self.job_id, self.lease_token, percent, message[:255])
