"""Leases after the claim: ``heartbeat`` extends them, ``rescue`` reclaims the expired ones.

Rescue runs inside every worker's heartbeat thread, so no separate reaper process is needed, and
is safe with many workers at once: each locks the expired rows it handles with SKIP LOCKED and
re-checks expiry in its guarded writes.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from ..deadletter import dead_letter
from ..exceptions import WorkerLostError
from ..failure import Failure
from ..models import Job, JobStatus
from ..retry import next_run_at_for

logger = logging.getLogger(__name__)


def heartbeat(
    leases: Iterable[tuple[int, uuid.UUID]], *, lease_seconds: float, now: datetime | None = None
) -> set[int]:
    """Extend the leases ``(job_id, lease_token)`` by ``lease_seconds`` from now.

    Returns the ids whose lease is still held; a missing id was rescued from this worker.
    """
    leases = list(leases)
    if not leases:
        return set()
    now = now or timezone.now()
    ids = [job_id for job_id, _ in leases]
    tokens = {token for _, token in leases}
    # Tokens are per claim and never reused, so (id in ids, token in tokens) matches exactly the
    # pairs given: a job reclaimed since, here or elsewhere, carries a token not in the set.
    held = Job.objects.filter(id__in=ids, lease_token__in=tokens, status=JobStatus.RUNNING)
    held.update(lease_expires_at=now + timedelta(seconds=lease_seconds))
    return set(held.values_list("id", flat=True))


@dataclasses.dataclass(frozen=True, slots=True)
class RescueReport:
    """Ids of the expired jobs ``rescue`` put back in the queue, and of those it dead-lettered."""

    requeued: list[int]
    dead: list[int]


def rescue(*, limit: int = 100, now: datetime | None = None) -> RescueReport:
    """Requeue or dead-letter up to ``limit`` running jobs whose lease expired.

    The lost attempt counts: a job with attempts left is queued again at its backoff time with a
    ``WorkerLostError`` in its errors; one without goes to ``DeadJob`` with that error, so a job
    that kills its worker every time stops doing so. Runs one short transaction.
    """
    now = now or timezone.now()
    requeued, dead = [], []
    with transaction.atomic():
        expired = list(
            Job.objects.expired(now)
            .order_by("lease_expires_at")
            .select_for_update(skip_locked=True)[:limit]
        )
        for job in expired:
            error = WorkerLostError(
                f"Worker {job.worker_id or '?'} lost its lease on attempt {job.attempts} "
                f"(expired {job.lease_expires_at}); it died, hung or lost the database."
            )
            failure = Failure.from_exception(
                error, attempt=job.attempts, now=now, worker_id=job.worker_id
            )
            run_at = next_run_at_for(job, error, now)
            if run_at is None:
                if dead_letter(job, failure, lease_token=job.lease_token):
                    dead.append(job.id)
            elif _requeue_expired(job, failure, run_at, now):
                requeued.append(job.id)
    if requeued or dead:
        logger.warning(
            "Rescued %d expired jobs (requeued %s, dead-lettered %s)",
            len(requeued) + len(dead),
            requeued,
            dead,
        )
    return RescueReport(requeued=requeued, dead=dead)


def _requeue_expired(job: Job, failure: Failure, run_at: datetime, now: datetime) -> bool:
    # Guarded on the token read under lock and on expiry, so a late heartbeat wins over rescue.
    return bool(
        Job.objects.filter(
            id=job.id,
            status=JobStatus.RUNNING,
            lease_token=job.lease_token,
            lease_expires_at__lt=now,
        ).update(
            status=JobStatus.QUEUED,
            run_at=run_at,
            errors=[*job.errors, failure.as_dict()],
            worker_id="",
            lease_token=None,
            lease_expires_at=None,
        )
    )
