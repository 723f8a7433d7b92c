"""Uniqueness past the live job: ``insert_unique`` (a window after a job is done) and
``debounce`` (replace the call of the queued job holding a key).

Both start from validated values (``django_jobs.enqueue``) and join the caller's transaction.
Oban's unique jobs (a period over worker, args and queue) and its ``replace`` option are the
models; the indexes, not a look-up, settle races between enqueuers.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.db.models.expressions import RawSQL
from django.utils import timezone

from ..exceptions import InvalidJobOptionsError
from ..models import Job, JobStatus
from . import sql
from .insert import KEY_SETTLE_ATTEMPTS, insert_call

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
    found, and the INSERT rolled back. Database errors propagate.
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


def debounce(values: Mapping[str, Any], encoded: Mapping[str, str]) -> tuple[Job, bool]:
    """Replace the call of the queued job holding ``values["debounce_key"]``, or INSERT one.

    With a queued holder: one UPDATE guarded by ``status = 'queued'`` sets its ``args``,
    ``kwargs`` and ``run_at`` to the new ones and ``(holder, False)`` is returned. Without one
    (none, or it was claimed meanwhile: a running job does not hold a debounce key) the job is
    inserted in a savepoint and ``(job, True)`` returned; an enqueuer that inserted first at the
    same instant wins the queued-key index, and this call then replaces that job's call. Raises
    ``InvalidJobOptionsError`` if the key kept changing hands, database errors otherwise.
    """
    key = values["debounce_key"]
    for _ in range(KEY_SETTLE_ATTEMPTS):
        job = _replace_queued(key, encoded, values["run_at"])
        if job is not None:
            return job, False
        try:
            with transaction.atomic(using=sql.alias()):
                return insert_call(values, encoded)
        except IntegrityError:
            continue  # another debounce inserted the queued job first: replace its call
    raise InvalidJobOptionsError(f"Could not settle debounce key {key!r}: it kept changing hands.")


def _replace_queued(key: str, encoded: Mapping[str, str], run_at: Any) -> Job | None:
    jsonb = "::jsonb" if sql.postgresql() else ""
    rows = sql.execute_returning(
        f"UPDATE {sql.table()} SET args = %s{jsonb}, kwargs = %s{jsonb}, run_at = %s "
        "WHERE debounce_key = %s AND status = %s RETURNING id",
        [encoded["args"], encoded["kwargs"], sql.prep("run_at", run_at), key, JobStatus.QUEUED],
    )
    if not rows:
        return None
    return Job.objects.get(id=rows[0][0])
