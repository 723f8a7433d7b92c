"""``snooze``: a running job goes back to the queue for later, its attempt given back.

A task asks for it by raising or returning ``django_jobs.Snooze(seconds)`` (Oban's
``{:snooze, seconds}``). Snoozes are written one job at a time by the slot that ran the job, not
through the success completer's batch, so a plain success pays nothing for them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import F
from django.utils import timezone

from ..conf import jobs_settings
from ..exceptions import SnoozeLimitError
from ..models import Job, JobStatus
from ..outcome import Recorded, SnoozeRecord
from ..snooze import Snooze
from . import sql
from .cancel import acknowledge_cancel
from .fail import fail


def snooze(job: Job, seconds: float, *, now: datetime | None = None) -> SnoozeRecord:
    """Queue running ``job`` again ``seconds`` (validated, >= 0) from now without using an attempt.

    One UPDATE fenced by the job's lease token: ``status`` back to queued, ``run_at`` = now +
    ``seconds``, ``attempts`` less the one charged at start, ``snoozes`` plus one, the lease
    cleared. Returns SNOOZED with the new ``run_at``, CANCELLED if a cancel was requested on the
    row meanwhile (``acknowledge_cancel``: the request wins), or LOST (nothing written) if the
    lease was gone. A job that already snoozed ``DJANGO_JOBS["MAX_SNOOZES"]`` times is not
    snoozed: its attempt fails with ``SnoozeLimitError`` through ``fail`` (retried or
    dead-lettered): the record then carries ``fail``'s ``FailRecord`` in ``failed`` and the
    error. The limit is also in the WHERE clause, so no writer can take a row past it. ``job``
    is updated in memory. Database errors propagate; the write is safe to repeat. Oban's
    ``{:snooze, seconds}`` is the model.
    """
    now = now or timezone.now()
    limit = jobs_settings.MAX_SNOOZES
    if job.snoozes >= limit:
        error = SnoozeLimitError(
            f"Job {job.id} {job.task_path} asked to snooze after {job.snoozes} snoozes; "
            f"DJANGO_JOBS['MAX_SNOOZES'] is {limit}. Its attempt counts as failed. Snooze "
            "less often (longer seconds), raise MAX_SNOOZES, or enqueue a new job instead."
        )
        failed = fail(job, error, now=now)
        return SnoozeRecord(failed.recorded, failed.run_at, failed=failed, error=error)
    run_at = now + timedelta(seconds=seconds)
    guard = {"snoozes__lt": limit, "attempts__gt": 0, "cancel_requested_at__isnull": True}
    updated = sql.held(job.id, job.lease_token, **guard).update(
        status=JobStatus.QUEUED,
        run_at=run_at,
        attempts=F("attempts") - 1,
        snoozes=F("snoozes") + 1,
        worker_id="",
        lease_token=None,
        lease_expires_at=None,
    )
    if not updated:
        # Off the common path: a cancel requested since the worker last looked wins.
        return SnoozeRecord(acknowledge_cancel(job, Snooze(seconds), now=now))
    job.status, job.run_at = JobStatus.QUEUED, run_at
    job.attempts, job.snoozes = job.attempts - 1, job.snoozes + 1
    return SnoozeRecord(Recorded.SNOOZED, run_at=run_at)
