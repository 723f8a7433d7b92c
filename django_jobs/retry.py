"""The retry policy: given a job's attempt and its error, run again at a time, or dead-letter.

Policy only; the writes live in ``django_jobs.worker.outcome`` and ``django_jobs.deadletter``.
The split follows procrastinate's ``retry.py``: deciding is pure and table-testable.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from . import backoff
from .conf import jobs_settings
from .exceptions import PermanentError, SerializationError

if TYPE_CHECKING:
    from .models import Job


def next_run_at_for(job: Job, error: BaseException, now: datetime) -> datetime | None:
    """Return ``next_run_at`` for ``job``'s current attempt, with the job's own backoff figures."""
    return next_run_at(
        attempts=job.attempts,
        max_attempts=job.max_attempts,
        error=error,
        now=now,
        base_seconds=job.backoff_base_seconds,
        max_seconds=job.backoff_max_seconds,
    )


def next_run_at(
    *,
    attempts: int,
    max_attempts: int,
    error: BaseException,
    now: datetime,
    rng: random.Random | None = None,
    base_seconds: float | None = None,
    max_seconds: float | None = None,
) -> datetime | None:
    """Return when to run a job again after its attempt number ``attempts`` raised ``error``.

    ``None`` means dead-letter: the attempts are used up, or the error is permanent
    (``PermanentError``, or a result that cannot be stored, which a rerun would not fix).
    The delay is ``backoff.retry_delay`` over the job's own ``base_seconds`` and ``max_seconds``
    (``Job.backoff_base_seconds``, ``backoff_max_seconds``), each ``None`` taking its
    ``BACKOFF_*`` setting.
    """
    if isinstance(error, PermanentError | SerializationError) or attempts >= max_attempts:
        return None
    delay = backoff.retry_delay(
        attempts,
        base_seconds=jobs_settings.BACKOFF_BASE_SECONDS if base_seconds is None else base_seconds,
        max_seconds=jobs_settings.BACKOFF_MAX_SECONDS if max_seconds is None else max_seconds,
        jitter_ratio=jobs_settings.BACKOFF_JITTER,
        rng=rng,
    )
    return now + timedelta(seconds=delay)
