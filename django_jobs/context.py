"""``JobContext``: what a ``takes_context`` task knows of its job, and how it reports progress."""

from __future__ import annotations

import dataclasses
import uuid

from .exceptions import InvalidJobOptionsError
from .models import Job


@dataclasses.dataclass(frozen=True, slots=True)
class JobContext:
    """The running job as its task sees it. ``attempt`` counts from 1; ``snoozes`` counts the
    times the job snoozed before this run (``django_jobs.Snooze``)."""

    job_id: int
    attempt: int
    max_attempts: int
    worker_id: str
    lease_token: uuid.UUID | None
    snoozes: int = 0

    @classmethod
    def for_job(cls, job: Job) -> JobContext:
        return cls(
            job_id=job.id,
            attempt=job.attempts,
            max_attempts=job.max_attempts,
            worker_id=job.worker_id,
            lease_token=job.lease_token,
            snoozes=job.snoozes,
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
