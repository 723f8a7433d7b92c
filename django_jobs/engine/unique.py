"""Uniqueness past the live job: ``insert_unique`` (a window after a job is done) and
``debounce`` (replace the call of the queued job holding a key).

Both start from validated values (``django_jobs.enqueue``) and join the caller's transaction.
Oban's unique jobs (a period over worker, args and queue) and its ``replace`` option are the
models; the database, not a look-up, settles races between enqueuers (a unique index for
``insert_unique``, an advisory lock for ``debounce``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models.expressions import RawSQL
from django.utils import timezone

from ..models import Job, JobStatus
from . import sql
from .insert import insert_call

if TYPE_CHECKING:
    from django.db.models import QuerySet


class _DoneInWindow(Exception):
    """Rolls back an INSERT that a done job within the window makes redundant."""

    def __init__(self, job: Job) -> None:
        self.job = job


def _done_within(key: str, seconds: float) -> QuerySet[Job]:
    # The database's clock, so every enqueuer judges the window alike whatever its own clock says.
    if sql.postgresql():
        since: Any = RawSQL("clock_timestamp() - make_interval(secs => %s)", [seconds])
    else:
        since = timezone.now() - timedelta(seconds=seconds)
    return Job.objects.filter(
        idempotency_key=key, status=JobStatus.DONE, finished_at__gte=since
    ).order_by("-finished_at")


def insert_unique(
    values: Mapping[str, Any], encoded: Mapping[str, str], unique_for: float
) -> tuple[Job, bool]:
    """INSERT one job unless its key is held: return ``(job, True)``, or the holder and False.

    ``values["idempotency_key"]`` must be set. The key is held by a queued or running job (the
    live partial unique index decides, as for any key) or by a job done within the last
    ``unique_for`` seconds of the database's clock (through ``django_jobs_job_done_key_idx``).
    Dead-lettered and cancelled jobs do not hold it. The done look-up runs again after the
    INSERT, inside its savepoint: a holder that finished while the INSERT waited on the index is
    found, and the INSERT rolled back. Database errors propagate. Oban's ``unique: [period:]``
    is the model.
    """
    key = values["idempotency_key"]
    done = _done_within(key, unique_for).first()
    if done is not None:
        return done, False
    try:
        with transaction.atomic(using=sql.alias()):
            job, inserted = insert_call(values, encoded)
            if not inserted:
                return job, False
            done = _done_within(key, unique_for).exclude(id=job.id).first()
            if done is not None:
                raise _DoneInWindow(done)
    except _DoneInWindow as found:
        return found.job, False
    return job, True


#: The first key of the debounce's advisory locks (two-int form: apart from one-bigint locks).
DEBOUNCE_LOCK_CLASS = 0x646A


def debounce(values: Mapping[str, Any], encoded: Mapping[str, str]) -> tuple[Job, bool]:
    """Replace the call of the queued job holding ``values["debounce_key"]``, or INSERT one.

    With a queued holder (the newest, if a retried or snoozed one came back beside it): one
    UPDATE guarded by ``status = 'queued'`` sets its ``args``, ``kwargs`` and ``run_at`` to the
    new ones and ``(holder, False)`` is returned. Without one (none, or it was claimed meanwhile:
    a running job does not hold a debounce key) the job is inserted and ``(job, True)``
    returned. Enqueuers of one key take turns on a transaction-level advisory lock of that key
    (held to the end of the caller's transaction, as an INSERT waits on a unique index), so
    two at the same instant make one job. Needs no transaction of the caller's (opens one).
    Database errors propagate. Oban's unique ``replace`` option is the model.
    """
    key = values["debounce_key"]
    with transaction.atomic(using=sql.alias()):
        if sql.postgresql():
            sql.execute_returning(
                "SELECT 1 FROM pg_advisory_xact_lock(%s, hashtext(%s))",
                [DEBOUNCE_LOCK_CLASS, key],
            )
        job = _replace_queued(key, encoded, values["run_at"])
        if job is not None:
            return job, False
        return insert_call(values, encoded)


def _replace_queued(key: str, encoded: Mapping[str, str], run_at: Any) -> Job | None:
    jsonb = "::jsonb" if sql.postgresql() else ""
    table = sql.table()
    # The status guard is re-checked on the row itself: a holder claimed since the subquery
    # chose it is left alone, and the call becomes a new job.
    rows = sql.execute_returning(
        f"UPDATE {table} SET args = %s{jsonb}, kwargs = %s{jsonb}, run_at = %s "
        f"WHERE status = %s AND id = (SELECT max(id) FROM {table} "
        "WHERE debounce_key = %s AND status = %s) RETURNING id",
        [
            encoded["args"],
            encoded["kwargs"],
            sql.prep("run_at", run_at),
            JobStatus.QUEUED,
            key,
            JobStatus.QUEUED,
        ],
    )
    if not rows:
        return None
    return Job.objects.get(id=rows[0][0])
