"""The retry policy: given an attempt and its error, run again at a time, or dead-letter.

Pure: every figure comes in as an argument (no settings, no models), so the policy is
table-testable; ``django_jobs.engine.fail`` applies its answer. The split follows procrastinate's
``retry.py``.
"""

from __future__ import annotations

import dataclasses
import random
from datetime import datetime, timedelta

from . import backoff
from .exceptions import (
    PermanentError,
    ResultStorageError,
    SerializationError,
    UnknownTaskError,
)

#: Errors a new attempt cannot fix: the job is dead-lettered at once.
PERMANENT_ERRORS: tuple[type[BaseException], ...] = (
    PermanentError,  # the task said so
    SerializationError,  # its result cannot be stored; the same input gives the same result
    UnknownTaskError,  # the row names no registered task; nothing was run
    ResultStorageError,  # the database refused the result; the same input gives the same result
)


@dataclasses.dataclass(frozen=True, slots=True)
class Backoff:
    """The figures of a retry delay: ``base_seconds * 2**(attempt-1)`` capped at ``max_seconds``,
    then shortened by up to ``jitter_ratio`` (0..1) of itself."""

    base_seconds: float
    max_seconds: float
    jitter_ratio: float


def next_run_at(
    *,
    attempts: int,
    max_attempts: int,
    error: BaseException,
    now: datetime,
    backoff_figures: Backoff,
    rng: random.Random | None = None,
) -> datetime | None:
    """Return when to run a job again after its attempt number ``attempts`` raised ``error``.

    ``None`` means dead-letter: the attempts are used up (``attempts >= max_attempts``), or the
    error is one of ``PERMANENT_ERRORS``. Otherwise ``now`` (an aware datetime) plus
    ``backoff.retry_delay`` of the given figures. ``rng`` is for tests.

    >>> from datetime import UTC
    >>> figures = Backoff(base_seconds=10, max_seconds=3600, jitter_ratio=0)
    >>> now = datetime(2026, 1, 1, tzinfo=UTC)
    >>> next_run_at(attempts=2, max_attempts=5, error=OSError(), now=now,
    ...             backoff_figures=figures).isoformat()
    '2026-01-01T00:00:20+00:00'
    >>> next_run_at(attempts=5, max_attempts=5, error=OSError(), now=now,
    ...             backoff_figures=figures) is None
    True
    """
    if isinstance(error, PERMANENT_ERRORS) or attempts >= max_attempts:
        return None
    delay = backoff.retry_delay(
        max(attempts, 1),
        base_seconds=backoff_figures.base_seconds,
        max_seconds=backoff_figures.max_seconds,
        jitter_ratio=backoff_figures.jitter_ratio,
        rng=rng,
    )
    return now + timedelta(seconds=delay)
