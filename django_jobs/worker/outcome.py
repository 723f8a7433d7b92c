"""Record what happened to a claimed job: ``complete``, ``retry``, ``release``.

Every write is fenced by the claim's lease token: a worker whose lease expired and whose job was
rescued (and perhaps run and finished elsewhere) updates nothing, and learns so from the return
value. The idea is Martin Kleppmann's fencing token ("How to do distributed locking", 2016).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import connections, router, transaction
from django.db.models import F
from django.utils import timezone

from ..failure import Failure
from ..models import Job, JobStatus

logger = logging.getLogger(__name__)


def _held(job: Job) -> Any:
    return Job.objects.filter(id=job.id, status=JobStatus.RUNNING, lease_token=job.lease_token)


def complete(job: Job, result: Any) -> bool:
    """Mark running ``job`` done with JSON ``result``; return False if its lease was lost."""
    now = timezone.now()
    updated = _held(job).update(
        status=JobStatus.DONE,
        result=result,
        finished_at=now,
        lease_token=None,
        lease_expires_at=None,
        progress_percent=100.0,
    )
    job.status, job.result, job.finished_at = JobStatus.DONE, result, now
    return bool(updated)


def retry(job: Job, failure: Failure, run_at: datetime) -> bool:
    """Requeue running ``job`` to run at ``run_at`` (aware, UTC), recording ``failure``.

    Returns False, and writes nothing, if the job's lease was lost.
    """
    errors = [*job.errors, failure.as_dict()]
    updated = _held(job).update(
        status=JobStatus.QUEUED,
        run_at=run_at,
        errors=errors,
        worker_id="",
        lease_token=None,
        lease_expires_at=None,
    )
    job.status, job.run_at, job.errors = JobStatus.QUEUED, run_at, errors
    return bool(updated)


def release(jobs: Iterable[Job]) -> int:
    """Put running ``jobs`` back in the queue unchanged, the interrupted attempt not counted.

    For a worker that stops before these jobs finished (shutdown grace exceeded). Fenced per job;
    returns how many were released.
    """
    released = 0
    for job in jobs:
        released += _held(job).update(
            status=JobStatus.QUEUED,
            attempts=F("attempts") - 1,
            worker_id="",
            lease_token=None,
            lease_expires_at=None,
        )
    return released


def complete_many(done: list[tuple[Job, Any]]) -> set[int]:
    """Mark many running jobs done with their JSON results in one statement; return ids written.

    ``done`` holds ``(job, result)`` pairs. Each row is fenced by its own lease token, as in
    ``complete``; a job missing from the returned ids had lost its lease. On PostgreSQL one
    ``UPDATE ... FROM unnest(...)``, so N completions cost one round trip and one commit;
    elsewhere one fenced UPDATE per job inside a single transaction.
    """
    if not done:
        return set()
    now = timezone.now()
    alias = router.db_for_write(Job)
    connection = connections[alias]
    if connection.vendor != "postgresql":
        with transaction.atomic(using=alias):
            return {job.id for job, result in done if complete(job, result)}
    table = connection.ops.quote_name(Job._meta.db_table)
    sql = (
        f"UPDATE {table} AS job SET status = %s, result = done.result, finished_at = %s, "
        "lease_token = NULL, lease_expires_at = NULL, progress_percent = 100 "
        "FROM unnest(%s::bigint[], %s::uuid[], %s::jsonb[]) AS done(id, token, result) "
        "WHERE job.id = done.id AND job.lease_token = done.token AND job.status = %s "
        "RETURNING job.id"
    )
    params: list[Any] = [
        JobStatus.DONE,
        now,
        [job.id for job, _ in done],
        [job.lease_token for job, _ in done],
        # SQL NULL for None, as the ORM stores a JSONField's None.
        [None if result is None else json.dumps(result) for _, result in done],
        JobStatus.RUNNING,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        written = {row[0] for row in cursor.fetchall()}
    for job, result in done:
        if job.id in written:
            job.status, job.result, job.finished_at = JobStatus.DONE, result, now
    return written
