"""Steer jobs from outside a worker: ``run_now``, ``update_queued``; and ``set_progress`` from
inside (``cancel`` has its own module).

Each is one UPDATE guarded in its WHERE clause (``status = 'queued'``, or the running attempt's
lease), so a job that changed state meanwhile is left alone: the guard, not a lock, decides who
wins, and the loser learns so from the count it gets back. Two callers at the same instant change
a job once between them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from django.db.models import QuerySet

from ..models import Job, JobStatus
from . import sql


def _ids(jobs: QuerySet[Job] | Iterable[Job | int]) -> QuerySet[Job]:
    if isinstance(jobs, QuerySet):
        return Job.objects.filter(pk__in=jobs.values_list("pk", flat=True))
    ids = [job.pk if isinstance(job, Job) else int(job) for job in jobs]
    return Job.objects.filter(pk__in=ids)


def run_now(jobs: QuerySet[Job] | Iterable[Job | int]) -> int:
    """Make the queued jobs among ``jobs`` ready at once (``run_at`` = now); return how many.

    For jobs scheduled for later or waiting out a retry's backoff. Jobs whose ``run_at`` has
    already come keep it, so they keep their place in the queue; jobs in other states are left
    as they are. Safe to repeat.
    """
    now = sql.clock()
    return _ids(jobs).filter(status=JobStatus.QUEUED, run_at__gt=now).update(run_at=now)


#: The fields ``update_queued`` may change.
UPDATABLE_FIELDS = frozenset({"run_at", "priority", "queue"})


def update_queued(jobs: QuerySet[Job] | Iterable[Job | int], changes: Mapping[str, Any]) -> int:
    """Set ``changes`` (validated values of ``run_at``, ``priority``, ``queue``) on the queued
    jobs among ``jobs`` (a queryset, jobs or ids); return how many changed.

    One UPDATE guarded by ``status = 'queued'``: a job a worker claims at the same instant is
    either changed while still queued, or claimed and left as it is, never changed while it
    runs. Jobs in other states are left alone. Safe to repeat. ``ValueError`` for an empty or
    unknown field (callers validate the values: ``django_jobs.update_queued``).
    """
    if not changes or not set(changes) <= UPDATABLE_FIELDS:
        raise ValueError(f"update_queued changes one of {sorted(UPDATABLE_FIELDS)}, got {changes}")
    return _ids(jobs).filter(status=JobStatus.QUEUED).update(**changes)


def set_progress(job_id: int, lease_token: uuid.UUID | None, percent: float, message: str) -> bool:
    """Record ``percent`` done and ``message`` on running job ``job_id``; return whether written.

    Fenced to the attempt holding ``lease_token``: False, writing nothing, once it is lost.
    The caller validates ``percent`` (0..100) and shortens ``message`` (255 characters).
    """
    updated = sql.held(job_id, lease_token).update(
        progress_percent=float(percent), progress_message=message
    )
    return bool(updated)
