"""Leases after the claim: ``heartbeat`` extends them, ``release`` gives unstarted claims back,
``rescue`` takes back the expired ones.

Rescue runs inside every worker's heartbeat thread, so no separate reaper process is needed, and
is safe with many workers at once: each locks the expired rows it handles with SKIP LOCKED and
re-checks expiry in its guarded writes.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from django.db import DatabaseError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from ..db import TRANSIENT_ERRORS
from ..exceptions import WorkerLostError
from ..models import DeadJob, Job, JobStatus
from ..outcome import Recorded
from . import sql
from .fail import fail

logger = logging.getLogger(__name__)


def heartbeat(
    jobs: Sequence[Job], *, lease_seconds: float, now: datetime | None = None
) -> dict[int, datetime | None]:
    """Extend the leases of running ``jobs`` to ``lease_seconds`` from now.

    Returns the ids whose lease is still held, each with its row's ``cancel_requested_at`` (None
    unless a cancel was requested: so the worker learns of requests with no query of its own);
    a missing id was rescued from this worker. One
    statement; if it fails for a reason other than a lost connection (a row the database
    refuses to update), each lease is renewed on its own and a refused one counts as not held
    this time, so one bad row cannot stop the renewal of the others. Transient errors propagate.
    """
    jobs = [job for job in jobs if job.lease_token is not None]
    if not jobs:
        return {}
    expires_at = sql.prep(
        "lease_expires_at", (now or timezone.now()) + timedelta(seconds=lease_seconds)
    )
    try:
        return _renew(jobs, expires_at)
    except TRANSIENT_ERRORS:
        raise
    except DatabaseError as exc:
        logger.warning("Renewing %d leases in one statement failed (%s); renewing each",
                       len(jobs), exc)  # fmt: skip
    held: dict[int, datetime | None] = {}
    for job in jobs:
        try:
            held |= _renew([job], expires_at)
        except TRANSIENT_ERRORS:
            raise
        except DatabaseError as exc:
            logger.error("Could not renew the lease of job %s: %s", job.id, exc,
                         extra={"job_id": job.id, "worker_id": job.worker_id})  # fmt: skip
    return held


def _renew(jobs: Sequence[Job], expires_at: object) -> dict[int, datetime | None]:
    where, params = sql.fenced_where(jobs)
    rows = sql.execute_returning(
        f"UPDATE {sql.table()} SET lease_expires_at = %s WHERE {where} "
        "RETURNING id, cancel_requested_at",
        [expires_at, *params],
    )
    return {row[0]: _datetime(row[1]) for row in rows}


def _datetime(value: object) -> datetime | None:
    # PostgreSQL returns aware datetimes; SQLite naive UTC ones, or the stored text.
    if value is None:
        return None
    parsed = value if isinstance(value, datetime) else parse_datetime(str(value))
    if parsed is not None and timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def release(jobs: Sequence[Job], *, started_ahead: bool = False) -> int:
    """Give claimed jobs that never ran back to the queue as they were; return how many.

    For a worker that stops with prefetched jobs, and for rescue of a dead worker's prefetched
    jobs. Fenced by lease and guarded by ``started_at IS NULL``: a job that started is not
    released (its attempt was charged; ``fail`` handles it). No attempt is charged. One statement.

    ``started_ahead=True``: ``jobs`` were started by their claim ahead of a free slot (the
    worker's runway) and never handed to one; their attempt is given back and ``started_at``
    cleared, guarded by ``started_at IS NOT NULL`` instead. Only the worker holding the lease
    knows that a started job never ran, so only it may call this, for its own jobs.
    """
    if not jobs:
        return 0
    where, params = sql.fenced_where(jobs)
    undo = ", attempts = attempts - 1, started_at = NULL" if started_ahead else ""
    guard = "started_at IS NOT NULL" if started_ahead else "started_at IS NULL"
    rows = sql.execute_returning(
        f"UPDATE {sql.table()} SET status = %s, worker_id = '', lease_token = NULL, "
        f"lease_expires_at = NULL{undo} WHERE {where} AND {guard} RETURNING id",
        [JobStatus.QUEUED, *params],
    )
    return len(rows)


@dataclasses.dataclass(frozen=True, slots=True)
class RescueReport:
    """What ``rescue`` did: ids requeued (with a WorkerLostError), released (never started),
    and dead-lettered (with their ``DeadJob``), ids of rows it could not write, and jobs ended
    ``cancelled`` (their worker died after a cancel was requested)."""

    requeued: list[int]
    released: list[int]
    dead: list[tuple[Job, DeadJob]]
    skipped: list[int]
    cancelled: list[Job] = dataclasses.field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.requeued or self.released or self.dead or self.skipped or self.cancelled)


def rescue(*, limit: int = 100, now: datetime | None = None) -> RescueReport:
    """Take back up to ``limit`` running jobs whose lease expired before ``now``.

    A job that never started (still in its dead worker's prefetch) is released unchanged. A job
    that started used an attempt: ``fail`` records a ``WorkerLostError`` for it, so it is queued
    again at its backoff time or, out of attempts, dead-lettered, and a job that kills its
    worker every time stops doing so; a job asked to stop ends ``cancelled``. One short
    transaction with a savepoint per row: a row the database refuses to write is logged and
    skipped, and the others are still rescued.
    """
    now = now or timezone.now()
    report = RescueReport(requeued=[], released=[], dead=[], skipped=[])
    with transaction.atomic(using=sql.alias()):
        expired = list(
            Job.objects.expired(now)
            .order_by("lease_expires_at")
            .select_for_update(skip_locked=True)[:limit]
        )
        for job in expired:
            try:
                with transaction.atomic(using=sql.alias()):
                    _rescue_one(job, now, report)
            except TRANSIENT_ERRORS:
                raise
            except DatabaseError as exc:
                report.skipped.append(job.id)
                logger.error("Could not rescue expired job %s: %s", job.id, exc,
                             extra={"job_id": job.id})  # fmt: skip
    if report:
        logger.warning(
            "Rescued expired jobs: requeued %s, released unstarted %s, dead-lettered %s%s%s",
            report.requeued, report.released, [job.id for job, _ in report.dead],
            f", cancelled (asked to stop) {[job.id for job in report.cancelled]}"
            if report.cancelled else "",
            f", skipped {report.skipped}" if report.skipped else "",
        )  # fmt: skip
    return report


def _rescue_one(job: Job, now: datetime, report: RescueReport) -> None:
    if job.started_at is None:
        if release([job]):
            report.released.append(job.id)
        return
    error = WorkerLostError(
        f"Worker {job.worker_id or '?'} lost its lease on attempt {job.attempts} "
        f"(expired {job.lease_expires_at}); it died, hung or lost the database."
    )
    record = fail(job, error, now=now, expired_before=True)
    if record.recorded is Recorded.RETRIED:
        report.requeued.append(job.id)
    elif record.recorded is Recorded.DEAD and record.dead_job is not None:
        report.dead.append((job, record.dead_job))
    elif record.recorded is Recorded.CANCELLED:
        report.cancelled.append(job)
