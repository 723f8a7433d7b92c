"""``prune``: delete finished jobs, dead jobs and schedule runs older than a cut-off, in batches.

Each kind has a queryset of what may go (``prunable_*``, also what ``jobs prune --dry-run``
counts) and a function that deletes it ``batch_size`` rows per statement, each statement in its
own autocommit: a large prune never holds many row locks at once nor writes its WAL in one burst,
and ``between_batches`` lets the caller pause (and stop) between two statements.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from ..models import DeadJob, Job, JobStatus, ScheduleRun
from .workflow import unfinished_workflow_member

FINISHED = (JobStatus.DONE, JobStatus.CANCELLED)

#: Called after each batch; returning False stops the prune there (the worker is stopping, or
#: lost its leadership).
BetweenBatches = Callable[[], bool]


def prunable_jobs(finished_before: datetime, statuses: Sequence[str] = FINISHED) -> QuerySet[Job]:
    """Return the jobs in ``statuses`` that finished before ``finished_before`` (aware UTC),
    except the members of a workflow that has not finished.

    Raises ``ValueError`` for a status that is not finished: queued and running jobs are never
    pruned.
    """
    if not statuses or set(statuses) - set(FINISHED):
        raise ValueError(f"prune deletes only finished jobs {FINISHED}, got {list(statuses)}")
    # Done members of an unfinished workflow stay: its callback still needs their results.
    return Job.objects.filter(
        Q(workflow_id__isnull=True) | ~unfinished_workflow_member(),
        status__in=statuses,
        finished_at__lt=finished_before,
    )


def prunable_dead_jobs(failed_before: datetime) -> QuerySet[DeadJob]:
    """Return the dead jobs that failed before ``failed_before`` (aware UTC), replayed or not."""
    return DeadJob.objects.filter(failed_at__lt=failed_before)


def prunable_schedule_runs(created_before: datetime) -> QuerySet[ScheduleRun]:
    """Return the ledger rows recorded before ``created_before`` that are not their schedule's
    newest.

    The newest row of each schedule (declared or not, manual runs' names too) is where it
    stands; without it the scheduler would start that schedule afresh. Age is judged by
    ``created_at``, when the row was recorded, not ``fire_at``: a scheduler catching up on
    missed fire times records rows whose fire times are old, and a rival scheduler that read the
    ledger before them may be about to record the same fire times. Deleting those rows at once
    would let the rival's INSERT succeed and enqueue the job twice; a row a month old is past
    any rival's pass.
    """
    newer = ScheduleRun.objects.filter(
        schedule=OuterRef("schedule"), fire_at__gt=OuterRef("fire_at")
    )
    return ScheduleRun.objects.filter(Exists(newer), created_at__lt=created_before)


def prune(
    *,
    finished_before: datetime,
    statuses: Sequence[str] = FINISHED,
    batch_size: int = 1000,
    between_batches: BetweenBatches | None = None,
) -> int:
    """Delete jobs in ``statuses`` (done and cancelled by default) that finished before the
    aware datetime ``finished_before``; return how many were deleted.

    Oldest first, ``batch_size`` rows per DELETE, each in its own autocommit (call it outside a
    transaction). Queued and running jobs are never touched: each DELETE repeats the status
    guard, and other statuses are refused with ``ValueError`` before any SQL.
    """
    rows = prunable_jobs(finished_before, statuses)
    return _in_batches(rows.order_by("finished_at"), rows, batch_size, between_batches)


def prune_dead_jobs(
    *,
    failed_before: datetime,
    batch_size: int = 1000,
    between_batches: BetweenBatches | None = None,
) -> int:
    """Delete dead jobs that failed before ``failed_before``; return how many were deleted.

    Batched as ``prune``; a dead job deleted cannot be replayed any more.
    """
    rows = prunable_dead_jobs(failed_before)
    return _in_batches(rows.order_by("failed_at"), rows, batch_size, between_batches)


def prune_schedule_runs(
    *,
    created_before: datetime,
    batch_size: int = 1000,
    between_batches: BetweenBatches | None = None,
) -> int:
    """Delete ledger rows recorded before ``created_before``, except each schedule's newest;
    return how many were deleted (see ``prunable_schedule_runs`` for why each is safe to go).

    Batched as ``prune``; each DELETE repeats the "a newer row exists" guard.
    """
    rows = prunable_schedule_runs(created_before)
    return _in_batches(rows.order_by("created_at"), rows, batch_size, between_batches)


def _in_batches(
    ordered: QuerySet[Any],
    guarded: QuerySet[Any],
    batch_size: int,
    between_batches: BetweenBatches | None,
) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    deleted = 0
    while True:
        batch = list(ordered.values_list("pk", flat=True)[:batch_size])
        if not batch:
            return deleted
        # The guard is repeated in the DELETE: a row that changed since it was read stays.
        count, _ = guarded.filter(pk__in=batch).delete()
        deleted += count
        if len(batch) < batch_size or (between_batches is not None and not between_batches()):
            return deleted
