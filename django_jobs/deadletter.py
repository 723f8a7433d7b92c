"""Move a job to the dead-letter table, and replay dead jobs as new jobs; each one transaction."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from .enqueue import enqueue_job
from .exceptions import ReplayConflictError
from .failure import Failure
from .models import DeadJob, Job, JobStatus
from .signals import job_dead_lettered, send_from_worker

logger = logging.getLogger(__name__)


def dead_letter(job: Job, failure: Failure, *, lease_token: uuid.UUID | None) -> DeadJob | None:
    """Delete running ``job`` and insert its ``DeadJob``, in one transaction; return the dead job.

    Fenced: nothing happens, and ``None`` is returned, unless the row is still running under
    ``lease_token`` (the claim that produced ``failure``). ``failure`` is appended to the job's
    errors and becomes the dead job's exception, message and traceback.
    """
    errors = [*job.errors, failure.as_dict()]
    with transaction.atomic():
        deleted, _ = Job.objects.filter(
            id=job.id, status=JobStatus.RUNNING, lease_token=lease_token
        ).delete()
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
            attempts=job.attempts,
            exception_class=failure.exception_class,
            message=failure.message,
            traceback=failure.traceback,
            errors=errors,
            worker_id=job.worker_id,
            enqueued_at=job.enqueued_at,
            started_at=job.started_at,
            failed_at=failure.failed_at,
        )
    job.errors = errors
    send_from_worker(job_dead_lettered, sender=Job, job=job, dead_job=dead)
    return dead


def replay(dead_jobs: Iterable[DeadJob], *, by: str = "") -> list[Job]:
    """Enqueue a new ``Job`` for each dead job, in one transaction; return the new jobs.

    Each dead job records when, by whom (``by``, e.g. a username) and as which job id it was
    replayed. The new job starts with fresh attempts. Raises ``ReplayConflictError``, and replays
    none, when a dead job was replayed already or its idempotency key is held by a live job.
    """
    now = timezone.now()
    replayed = []
    with transaction.atomic():
        for dead in dead_jobs:
            if dead.replayed_job_id is not None:
                raise ReplayConflictError(
                    f"Dead job {dead.job_id} was already replayed as job {dead.replayed_job_id} "
                    f"on {dead.replayed_at:%Y-%m-%d %H:%M} by {dead.replayed_by or 'someone'}; "
                    "replay that job's dead letter instead if it failed again."
                )
            key = dead.idempotency_key
            if key and Job.objects.live().filter(idempotency_key=key).exists():
                raise ReplayConflictError(
                    f"Dead job {dead.job_id} was not replayed: its idempotency key {key!r} belongs "
                    "to a job that is queued or running. Wait for it, or cancel it first."
                )
            job = enqueue_job(
                dead.task_path,
                dead.args,
                dead.kwargs,
                queue=dead.queue,
                priority=dead.priority,
                max_attempts=dead.max_attempts,
                timeout_seconds=dead.timeout_seconds,
                backoff_base_seconds=dead.backoff_base_seconds,
                backoff_max_seconds=dead.backoff_max_seconds,
                idempotency_key=key,
            )
            dead.replayed_at, dead.replayed_by, dead.replayed_job_id = now, by, job.id
            dead.save(update_fields=["replayed_at", "replayed_by", "replayed_job_id"])
            replayed.append(job)
    logger.info("Replayed %d dead jobs", len(replayed), extra={"replayed_by": by})
    return replayed
