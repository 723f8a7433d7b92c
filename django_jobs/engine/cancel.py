"""``cancel`` and ``acknowledge_cancel``: stop jobs at once when queued, cooperatively when running.

A queued job (or one claimed into a worker's prefetch but not started) has no task code running:
``cancel`` ends it at once. A started job's thread cannot be stopped from outside, so ``cancel``
only sets ``cancel_requested_at`` on its row; the worker learns of it at its next heartbeat (the
heartbeat's UPDATE returns the flag) or at once from a NOTIFY, the task sees it through
``django_jobs.cancellation``, and when the task stops the worker writes ``acknowledge_cancel``,
fenced by the attempt's lease token. Oban cancels executing jobs by messaging the node that runs
them; here the row is the message, so the request survives a lost worker and reaches any host.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from ..exceptions import JobCancelled
from ..failure import Failure
from ..listen_connection import CANCEL_CHANNEL
from ..models import Job, JobStatus
from ..outcome import Recorded
from . import sql


@dataclasses.dataclass(frozen=True, slots=True)
class CancelReport:
    """What ``cancel`` did: ids cancelled at once (queued, or claimed but not started) and ids
    of running jobs asked to stop (they end ``cancelled`` when their task stops)."""

    cancelled: list[int]
    requested: list[int]

    def __len__(self) -> int:
        return len(self.cancelled) + len(self.requested)


def cancel(jobs: QuerySet[Job] | Iterable[Job | int]) -> CancelReport:
    """Cancel ``jobs`` (a queryset, jobs or ids): queued ones at once, running ones by request.

    A queued job, or a claimed one that has not started, becomes ``cancelled`` with
    ``finished_at`` now and is never run; its idempotency key is freed. A started job gets
    ``cancel_requested_at`` now and keeps running until its task stops (see
    ``django_jobs.cancellation``). Done and cancelled jobs, and running jobs already asked, are
    left as they are: safe to repeat. One UPDATE decides each row on its latest version, so a
    job claimed, started or finished at the same instant is either cancelled, asked, or left
    alone, never two of these. On PostgreSQL, the workers running asked jobs are then sent a
    NOTIFY (at the commit of the caller's transaction, if any) so their tasks hear it at once.
    """
    ids_sql, ids_params = _ids_sql(jobs)
    if not ids_sql:
        return CancelReport(cancelled=[], requested=[])
    now = timezone.now()
    # The CASE terms read the row as it was: a running job that started is asked; anything
    # else the WHERE lets through (queued, or claimed and never started) is cancelled.
    started = "(status = %s AND started_at IS NOT NULL)"
    rows = sql.execute_returning(
        f"UPDATE {sql.table()} SET "
        f"status = CASE WHEN {started} THEN status ELSE %s END, "
        f"finished_at = CASE WHEN {started} THEN finished_at ELSE %s END, "
        f"lease_token = CASE WHEN {started} THEN lease_token END, "
        f"lease_expires_at = CASE WHEN {started} THEN lease_expires_at END, "
        "cancel_requested_at = %s "
        f"WHERE id IN ({ids_sql}) AND (status = %s "
        "OR (status = %s AND cancel_requested_at IS NULL)) RETURNING id, status, worker_id",
        [
            *(JobStatus.RUNNING, JobStatus.CANCELLED),
            *(JobStatus.RUNNING, sql.prep("finished_at", now)),
            JobStatus.RUNNING,
            JobStatus.RUNNING,
            sql.prep("cancel_requested_at", now),
            *ids_params,
            JobStatus.QUEUED,
            JobStatus.RUNNING,
        ],
    )
    cancelled = sorted(row[0] for row in rows if row[1] == JobStatus.CANCELLED)
    requested = sorted(row[0] for row in rows if row[1] == JobStatus.RUNNING)
    _notify(sorted({row[2] for row in rows if row[1] == JobStatus.RUNNING}))
    return CancelReport(cancelled=cancelled, requested=requested)


def _ids_sql(jobs: QuerySet[Job] | Iterable[Job | int]) -> tuple[str, Sequence[Any]]:
    if isinstance(jobs, QuerySet):
        query = Job.objects.filter(pk__in=jobs.values_list("pk", flat=True)).values("pk")
        subquery, params = query.query.sql_with_params()
        return subquery, params
    ids = [job.pk if isinstance(job, Job) else int(job) for job in jobs]
    if not ids:
        return "", []
    return sql.placeholders(ids), ids


def _notify(worker_ids: list[str]) -> None:
    if not worker_ids or not sql.postgresql():
        return
    with sql.wrapper().cursor() as cursor:
        cursor.execute(
            "SELECT pg_notify(%s, worker) FROM unnest(%s::text[]) AS worker",
            [CANCEL_CHANNEL, worker_ids],
        )


def acknowledge_cancel(
    job: Job,
    error: BaseException | None = None,
    *,
    now: datetime | None = None,
    guard: dict[str, Any] | None = None,
) -> Recorded:
    """End running ``job``'s attempt as ``cancelled``; return CANCELLED, or LOST (nothing written).

    Fenced by the job's lease token (and ``guard``, e.g. rescue's expired lease). Unless
    ``error`` is ``JobCancelled`` (the task cancelled itself), a cancel must also have been
    requested on the row: an attempt that failed for its own reasons with no request is
    ``fail``'s to record. Another ``error`` (the task raised something else, timed out, or its
    worker stopped or died once asked) is appended to ``errors``, so the record says how the task
    stopped. No retry, no dead letter; the idempotency key is freed. ``job`` is updated in memory.
    """
    now = now or timezone.now()
    lookups = dict(guard or {})
    if not isinstance(error, JobCancelled):
        lookups["cancel_requested_at__isnull"] = False
    changes: dict[str, Any] = {
        "status": JobStatus.CANCELLED,
        "finished_at": now,
        "lease_token": None,
        "lease_expires_at": None,
    }
    errors = job.errors
    if error is not None and not isinstance(error, JobCancelled):
        failure = Failure.from_exception(
            error, attempt=job.attempts, now=now, worker_id=job.worker_id
        )
        errors = changes["errors"] = [*job.errors, failure.as_dict()]
    if not sql.held(job.id, job.lease_token, **lookups).update(**changes):
        return Recorded.LOST
    job.status, job.finished_at, job.errors = JobStatus.CANCELLED, now, errors
    return Recorded.CANCELLED
