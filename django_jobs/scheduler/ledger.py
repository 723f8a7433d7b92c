"""The scheduler's ledger: record a fire time and enqueue its job, once, whoever asks.

``ScheduleRun`` has one row per (schedule, fire time), enforced by a unique constraint. ``fire()``
inserts that row and enqueues the job in one transaction, the row first: of several schedulers
that reach the same fire time, one inserts it and the others get an ``IntegrityError`` and enqueue
nothing. The ledger is the scheduler's only memory, so it works across restarts, with any number
of schedulers, and whether or not job rows are kept. (The unique-key-per-fire-time idea is
GoodJob's ``cron_key``/``cron_at``.)
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from django.db import IntegrityError, transaction

from .. import registry

# The one clock fire times are judged by (the database's), also used by the admin and runner.
from ..db import database_now as database_now
from ..enqueue import enqueue_job
from ..models import Job, ScheduleRun
from ..task import Task
from .schedules import Schedule

logger = logging.getLogger(__name__)


def last_fire_times(names: Iterable[str]) -> dict[str, datetime]:
    """Return the newest recorded fire time of each named schedule that has one.

    One query per schedule, each a backward walk of the unique index on (schedule, fire_at) that
    stops at its first row: the cost does not grow with the ledger (a GROUP BY would read all of
    it). Manual runs are recorded under another name, so they do not count.
    """
    found = {}
    for name in names:
        last = (
            ScheduleRun.objects.filter(schedule=name)
            .order_by("-fire_at")
            .values_list("fire_at", flat=True)
            .first()
        )
        if last is not None:
            found[name] = last
    return found


def prune(before: datetime, names: Iterable[str]) -> int:
    """Delete ledger rows whose fire time is before ``before``; return how many were deleted.

    The newest row of each schedule in ``names`` (the declared ones) is kept whatever its age:
    it is where that schedule stands, and without it a fire time could be enqueued again.
    Rows of schedules no longer declared, and old manual runs, go. One DELETE.
    """
    keep = [
        run_id
        for name in names
        if (
            run_id := ScheduleRun.objects.filter(schedule=name)
            .order_by("-fire_at")
            .values_list("id", flat=True)
            .first()
        )
        is not None
    ]
    deleted, _ = ScheduleRun.objects.filter(fire_at__lt=before).exclude(id__in=keep).delete()
    return deleted


def fire(schedule: Schedule, fire_at: datetime, *, enqueue: bool = True) -> ScheduleRun | None:
    """Record ``fire_at`` for ``schedule`` and enqueue its job; return the new ledger row.

    Returns ``None``, having enqueued nothing, when the fire time is already recorded (another
    scheduler got there first). With ``enqueue=False`` the row is recorded with no job: a fire
    time skipped under the ``"skip"`` misfire policy. One transaction; raises what
    ``enqueue_job`` raises, or a database error, having recorded nothing.
    """
    # Cheap look first: usually the winner has committed, and a losing INSERT would log a
    # unique-violation error on the server for nothing.
    if ScheduleRun.objects.filter(schedule=schedule.name, fire_at=fire_at).exists():
        return None
    with transaction.atomic():
        try:
            # The savepoint keeps a lost race from aborting the outer transaction. The INSERT
            # waits on the unique index while a rival holds the same key uncommitted, then
            # fails or succeeds by the rival's outcome.
            with transaction.atomic():
                run = ScheduleRun.objects.create(schedule=schedule.name, fire_at=fire_at)
        except IntegrityError:
            return None
        if enqueue:
            run.job_id = enqueue_scheduled(schedule).id
            run.save(update_fields=["job_id"])
    logger.info(
        "Schedule %s fired for %s: %s",
        schedule.name, fire_at.isoformat(), f"job {run.job_id}" if enqueue else "skipped",
        extra={"schedule": schedule.name, "job_id": run.job_id},
    )  # fmt: skip
    return run


def fire_now(schedule: Schedule) -> ScheduleRun:
    """Enqueue ``schedule``'s job at once and record it under its ``manual_name``.

    The row is kept apart from the schedule's fire times, so a manual run never takes the place
    of a cron fire time, and the admin can show it as the schedule's last job. One transaction.
    """
    with transaction.atomic():
        job = enqueue_scheduled(schedule)
        run = ScheduleRun.objects.create(
            schedule=schedule.manual_name, fire_at=job.enqueued_at, job_id=job.id
        )
    logger.info(
        "Schedule %s run now: job %s", schedule.name, job.id,
        extra={"schedule": schedule.name, "job_id": job.id},
    )  # fmt: skip
    return run


def enqueue_scheduled(schedule: Schedule) -> Job:
    """Enqueue one job of ``schedule``: its call, its options over the ``@job`` task's own.

    The task is looked up with ``registry.load``: raises ``UnknownTaskError`` if it is no task
    (any more), having enqueued nothing.
    """
    found = registry.load(schedule.task)
    defaults = found if isinstance(found, Task) else Task(func=found)
    return enqueue_job(
        schedule.task,
        schedule.args,
        schedule.kwargs,
        queue=schedule.queue if schedule.queue is not None else defaults.queue,
        priority=schedule.priority if schedule.priority is not None else defaults.priority,
        max_attempts=defaults.max_attempts,
        timeout_seconds=defaults.timeout_seconds,
    )
