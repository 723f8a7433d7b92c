"""``prune``: delete finished jobs older than a cut-off, in small batches."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ..models import Job, JobStatus

FINISHED = (JobStatus.DONE, JobStatus.CANCELLED)


def prune(
    *, finished_before: datetime, statuses: Sequence[str] = FINISHED, batch_size: int = 1000
) -> int:
    """Delete jobs in ``statuses`` (done and cancelled by default) that finished before the
    aware datetime ``finished_before``; return how many were deleted.

    Deletes ``batch_size`` rows per statement, each in its own autocommit, so a large prune
    never holds many locks at once nor writes its WAL in one burst. Queued and running jobs are
    never touched: their statuses are refused with ``ValueError``.
    """
    if set(statuses) - set(FINISHED):
        raise ValueError(f"prune deletes only finished jobs {FINISHED}, got {list(statuses)}")
    deleted = 0
    while True:
        batch = list(
            Job.objects.filter(status__in=statuses, finished_at__lt=finished_before)
            .order_by("finished_at")
            .values_list("id", flat=True)[:batch_size]
        )
        if not batch:
            return deleted
        count, _ = Job.objects.filter(id__in=batch, status__in=statuses).delete()
        deleted += count
