"""``claim``: the one place that takes queued jobs for a worker."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from ..models import Job, JobStatus


def claim(
    *,
    worker_id: str,
    limit: int,
    lease_seconds: float,
    queues: Sequence[str] | None = None,
) -> list[Job]:
    """Claim up to ``limit`` ready jobs for ``worker_id``; return them marked running.

    Ready means queued with ``run_at <= now``, in ``queues`` (all if None), taken in priority
    (highest first), then run_at, then id order. Each claim counts an attempt, starts a lease of
    ``lease_seconds`` and gives the batch a new ``lease_token`` that every later write about these
    jobs must present. Runs its own short transaction; call it outside any other.
    """
    now = timezone.now()
    token = uuid.uuid4()
    with transaction.atomic():
        # SKIP LOCKED lets concurrent workers each take different rows without waiting on one
        # another (the pattern of Oban's and GoodJob's fetch queries). The row locks last until
        # this short transaction commits, by which time the rows are no longer queued.
        jobs = list(
            Job.objects.ready(now)
            .in_queues(queues)
            .order_by("-priority", "run_at", "id")
            .select_for_update(skip_locked=True)[:limit]
        )
        if not jobs:
            return []
        ids = [job.id for job in jobs]
        changes = {
            "status": JobStatus.RUNNING,
            "worker_id": worker_id,
            "lease_token": token,
            "lease_expires_at": now + timedelta(seconds=lease_seconds),
            "started_at": now,
        }
        # The status guard is what keeps claims exclusive where FOR UPDATE is a no-op (SQLite):
        # a second worker that read the same rows updates none of them.
        won = Job.objects.filter(id__in=ids, status=JobStatus.QUEUED).update(
            attempts=F("attempts") + 1, **changes
        )
        if won != len(jobs):
            return list(
                Job.objects.filter(id__in=ids, lease_token=token).order_by(
                    "-priority", "run_at", "id"
                )
            )
    for job in jobs:
        job.attempts += 1
        for field, value in changes.items():
            setattr(job, field, value)
    return jobs
