"""``fail``: the one place where a failed attempt becomes a retry or a dead letter.

Task exceptions, timeouts, results that cannot be stored, refused task paths, a worker's
shutdown and rescue after a lost lease all come here, so the decision is made once, by the
pure policy in ``django_jobs.retry``, and written in one fenced statement (or one transaction
for a dead letter).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from ..conf import jobs_settings
from ..failure import Failure
from ..models import DeadJob, Job, JobStatus
from ..outcome import FailRecord, Recorded
from ..retry import Backoff, next_run_at
from . import sql
from .cancel import acknowledge_cancel


def backoff_for(job: Job) -> Backoff:
    """Return the retry delay figures of ``job``: its own, else the ``BACKOFF_*`` settings."""
    base, cap = job.backoff_base_seconds, job.backoff_max_seconds
    return Backoff(
        base_seconds=jobs_settings.BACKOFF_BASE_SECONDS if base is None else base,
        max_seconds=jobs_settings.BACKOFF_MAX_SECONDS if cap is None else cap,
        jitter_ratio=jobs_settings.BACKOFF_JITTER,
    )


def fail(
    job: Job, error: BaseException, *, now: datetime | None = None, expired_before: bool = False
) -> FailRecord:
    """Record that ``job``'s current attempt failed with ``error``: retry it or dead-letter it.

    Fenced by the job's lease token (and, with ``expired_before``, by its lease having expired
    before ``now``: rescue's guard, so a late heartbeat wins). A job whose row carries a cancel
    request ends ``cancelled`` instead (``acknowledge_cancel``, ``error`` in its errors): a
    cancel wins over a retry whether the task raised, timed out, or its worker stopped or died.
    Returns what was written; LOST means the lease was gone and nothing was. ``job`` is updated
    in memory. Database errors propagate; the write is safe to repeat.
    """
    now = now or timezone.now()
    failure = Failure.from_exception(error, attempt=job.attempts, now=now, worker_id=job.worker_id)
    run_at = next_run_at(
        attempts=job.attempts,
        max_attempts=job.max_attempts,
        error=error,
        now=now,
        backoff_figures=backoff_for(job),
    )
    guard: dict[str, Any] = {"lease_expires_at__lt": now} if expired_before else {}
    # A job asked to stop is not retried or dead-lettered, however its attempt ended: the
    # request's guard is in these writes, and only when they miss is the cancel looked for.
    unasked = {**guard, "cancel_requested_at__isnull": True}
    if run_at is None:
        dead = dead_letter(job, failure, unasked)
        if dead is None:
            return _cancelled_or_lost(job, error, failure, now, guard)
        return FailRecord(Recorded.DEAD, failure, dead_job=dead)
    errors = [*job.errors, failure.as_dict()]
    updated = sql.held(job.id, job.lease_token, **unasked).update(
        status=JobStatus.QUEUED,
        run_at=run_at,
        errors=errors,
        worker_id="",
        lease_token=None,
        lease_expires_at=None,
    )
    if not updated:
        return _cancelled_or_lost(job, error, failure, now, guard)
    job.status, job.run_at, job.errors = JobStatus.QUEUED, run_at, errors
    return FailRecord(Recorded.RETRIED, failure, run_at=run_at)


def _cancelled_or_lost(
    job: Job, error: BaseException, failure: Failure, now: datetime, guard: dict[str, Any]
) -> FailRecord:
    # Off the common path: one more fenced statement only when the failure's write missed.
    recorded = acknowledge_cancel(job, error, now=now, guard=guard)
    return FailRecord(recorded, failure)


def dead_letter(job: Job, failure: Failure, guard: dict[str, Any] | None = None) -> DeadJob | None:
    """Delete running ``job`` and insert its ``DeadJob``, in one transaction; return the dead job.

    Fenced: nothing happens, and ``None`` is returned, unless the row is still running under
    ``job.lease_token`` (and matches ``guard``). ``failure`` is appended to the job's errors and
    becomes the dead job's exception, message and traceback.
    """
    errors = [*job.errors, failure.as_dict()]
    with transaction.atomic(using=sql.alias()):
        deleted, _ = sql.held(job.id, job.lease_token, **(guard or {})).delete()
        if not deleted:
            return None
        dead = DeadJob.objects.create(
            job_id=job.id,
            task_path=job.task_path,
            args=job.args,
            kwargs=job.kwargs,
            queue=job.queue,
            priority=job.priority,
            max_attempts=job.max_attempts,
            timeout_seconds=job.timeout_seconds,
            backoff_base_seconds=job.backoff_base_seconds,
            backoff_max_seconds=job.backoff_max_seconds,
            idempotency_key=job.idempotency_key,
            concurrency_key=job.concurrency_key,
            concurrency_limit=job.concurrency_limit,
            attempts=job.attempts,
            exception_class=failure.exception_class,
            message=failure.message,
            traceback=failure.traceback,
            errors=errors,
            worker_id=job.worker_id,
            enqueued_at=job.enqueued_at,
            started_at=job.started_at,
            failed_at=failure.failed_at,
            workflow_id=job.workflow_id,
            workflow_position=job.workflow_position,
        )
    job.errors = errors
    return dead
