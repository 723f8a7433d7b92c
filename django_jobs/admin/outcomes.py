"""What an admin is told when an action found its rows changed: by a worker, or by another admin.

Actions are guarded writes (``cancel`` touches only queued jobs and running ones not asked yet,
``run_now`` only queued jobs, ``replay`` only
dead jobs not replayed yet), so the one who comes second changes nothing. These messages then say
what has become of the row instead, read from the database after the fact.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import QuerySet

from ..models import DeadJob, Job, JobStatus

_STATUS_NOW: dict[str, str] = {
    JobStatus.QUEUED: "it is queued and due already",
    JobStatus.RUNNING: "it had already started",
    JobStatus.DONE: "it had already finished",
    JobStatus.CANCELLED: "it had already been cancelled",
}
#: At most this many dead jobs are named in one message.
NAMED = 5


def dead(job_id: int) -> QuerySet[DeadJob]:
    """Return the dead job that job ``job_id`` became, as a queryset (empty if it did not)."""
    return DeadJob.objects.filter(job_id=job_id)


def where_now(job_id: int) -> str:
    """Say what has become of job ``job_id``, e.g. "it had already started".

    One or two indexed reads; the answer may be a moment old by the time it is shown.
    """
    status = Job.objects.filter(id=job_id).values_list("status", flat=True).first()
    if status is None:
        return "it failed and is now a dead job" if dead(job_id).exists() else "it is gone"
    return _STATUS_NOW.get(status, f"it is {status}")


def replayed_already(dead_jobs: Sequence[DeadJob]) -> str:
    """Name each dead job in ``dead_jobs`` (replayed ones) with its new job, who and when.

    Return "" for no dead jobs.

    >>> from datetime import UTC, datetime
    >>> at = datetime(2025, 1, 2, 3, 4, tzinfo=UTC)
    >>> replayed_already([DeadJob(job_id=7, replayed_job_id=9, replayed_by="ada", replayed_at=at)])
    'Dead job 7 was already replayed as job 9 by ada at 2025-01-02 03:04 UTC; not replayed again.'
    """
    if not dead_jobs:
        return ""
    named = [
        f"Dead job {d.job_id} was already replayed as job {d.replayed_job_id} by "
        f"{d.replayed_by or 'someone'}"
        + (f" at {d.replayed_at:%Y-%m-%d %H:%M %Z}" if d.replayed_at else "")
        for d in dead_jobs[:NAMED]
    ]
    more = len(dead_jobs) - NAMED
    tail = f"; and {more} more dead job(s) were replayed already" if more > 0 else ""
    return "; ".join(named) + tail + "; not replayed again."
