"""``replay``: enqueue dead jobs again as new jobs, each exactly once."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from ..exceptions import ReplayConflictError
from ..models import DeadJob, Job
from . import sql
from .insert import insert_job

logger = logging.getLogger(__name__)


def replay(dead_jobs: Iterable[DeadJob], *, by: str = "") -> list[Job]:
    """Enqueue a new ``Job`` for each dead job, in one transaction; return the new jobs.

    Each dead job records when, by whom (``by``, e.g. a username) and as which job id it was
    replayed; the new job starts with fresh attempts. Exactly once under concurrency: the dead
    rows are locked (``SELECT ... FOR UPDATE``, in id order so two bulk replays cannot deadlock)
    and re-read before anything is inserted, so of two replays at the same instant the second
    waits, then finds the first's job. Raises ``ReplayConflictError``, and replays none, when a
    dead job was replayed already or its idempotency key is held by a live job.
    """
    ids = sorted({dead.pk for dead in dead_jobs})
    now = timezone.now()
    replayed = []
    with transaction.atomic(using=sql.alias()):
        locked = list(DeadJob.objects.filter(pk__in=ids).order_by("pk").select_for_update())
        for dead in locked:
            if dead.replayed_job_id is not None:
                raise ReplayConflictError(
                    f"Dead job {dead.job_id} was already replayed as job {dead.replayed_job_id} "
                    f"on {dead.replayed_at:%Y-%m-%d %H:%M:%S} by {dead.replayed_by or 'someone'};"
                    " replay that job's dead letter instead if it failed again."
                )
            job = _insert(dead)
            dead.replayed_at, dead.replayed_by, dead.replayed_job_id = now, by, job.id
            dead.save(update_fields=["replayed_at", "replayed_by", "replayed_job_id"])
            replayed.append(job)
    logger.info("Replayed %d dead jobs", len(replayed), extra={"replayed_by": by})
    return replayed


def _insert(dead: DeadJob) -> Job:
    job, inserted = insert_job(
        Job(
            task_path=dead.task_path,
            args=dead.args,
            kwargs=dead.kwargs,
            queue=dead.queue,
            priority=dead.priority,
            max_attempts=dead.max_attempts,
            timeout_seconds=dead.timeout_seconds,
            backoff_base_seconds=dead.backoff_base_seconds,
            backoff_max_seconds=dead.backoff_max_seconds,
            idempotency_key=dead.idempotency_key,
            # A workflow member comes back as one: its success then counts for the workflow.
            workflow_id=dead.workflow_id,
            workflow_position=dead.workflow_position,
            concurrency_key=dead.concurrency_key,
            concurrency_limit=dead.concurrency_limit,
        )
    )
    if not inserted:  # the key is held by a live job, which insert_job returned instead
        raise ReplayConflictError(
            f"Dead job {dead.job_id} was not replayed: its idempotency key "
            f"{dead.idempotency_key!r} belongs to job {job.id}, which is queued or running. Wait "
            "for it, or cancel it first."
        )
    return job
