"""``update_queued``: change when, how urgently or where queued jobs run, before a worker does.

The values are checked by the same validators as ``enqueue``'s, before any SQL; the write is one
guarded UPDATE in ``django_jobs.engine``. Oban's unique ``replace`` option changes the
``scheduled_at``, ``priority`` or ``queue`` of a job not yet executing as it inserts a duplicate;
this does the same at any time, for jobs chosen by id or queryset.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from . import validation
from .conf import jobs_settings
from .exceptions import InvalidJobOptionsError

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from .models import Job


def queued_changes(
    *, run_at: Any = None, priority: Any = None, queue: Any = None
) -> dict[str, Any]:
    """Return the validated changes of ``update_queued`` as a field -> value dict; no SQL.

    ``run_at`` is an aware datetime, ``priority`` an int in -100..100, ``queue`` a queue name
    that ``DJANGO_JOBS["QUEUES"]`` allows (read now). ``None`` leaves a field as it is; at least
    one must be given. Raises ``InvalidJobOptionsError`` naming the bad value.
    """
    changes: dict[str, Any] = {}
    if run_at is not None:
        changes["run_at"] = validation.check_run_at(run_at)
    if priority is not None:
        changes["priority"] = validation.check_priority(priority)
    if queue is not None:
        changes["queue"] = validation.check_queue(queue, jobs_settings.QUEUES)
    if not changes:
        raise InvalidJobOptionsError(
            "update_queued needs at least one of run_at, priority or queue; got none."
        )
    return changes


def job_selection(jobs: Any) -> QuerySet[Job] | list[Job | int]:
    """Return ``jobs`` (a ``Job`` queryset, or an iterable of jobs and ids) checked; no SQL.

    Raises ``InvalidJobOptionsError`` for anything else: a string, a bool, an id that is not a
    positive whole number, a queryset of another model.
    """
    from django.db.models import QuerySet

    from .models import Job

    if isinstance(jobs, QuerySet):
        if jobs.model is not Job:
            raise InvalidJobOptionsError(
                f"jobs must be a queryset of Job, got one of {jobs.model.__name__}."
            )
        return jobs
    if isinstance(jobs, str | bytes | Job) or not isinstance(jobs, Iterable):
        raise InvalidJobOptionsError(
            f"jobs must be a Job queryset or a list of jobs or ids, got {jobs!r:.80}."
        )
    items = list(jobs)
    for item in items:
        if isinstance(item, Job):
            continue
        if isinstance(item, bool) or not isinstance(item, int) or not 1 <= item < 2**63:
            raise InvalidJobOptionsError(
                f"{item!r:.80} is not a job id: give Job instances or positive whole numbers."
            )
    return items


def update_queued(
    jobs: QuerySet[Job] | Iterable[Job | int],
    *,
    run_at: datetime | None = None,
    priority: int | None = None,
    queue: str | None = None,
) -> int:
    """Change ``run_at``, ``priority`` and/or ``queue`` of the queued jobs among ``jobs``.

    ``jobs`` is a ``Job`` queryset, or jobs or ids. Returns how many jobs changed: only queued
    jobs are, in one UPDATE guarded by ``status = 'queued'``, so a job a worker claims at the
    same instant is never changed while it runs (it is either changed first, then claimed, or
    claimed and left alone). ``None`` leaves a field as it is. Raises
    ``InvalidJobOptionsError`` for a bad value or selection, having run no SQL. Runs in the
    caller's transaction, if any; safe to repeat. Oban's unique ``replace`` option is the model.
    """
    changes = queued_changes(run_at=run_at, priority=priority, queue=queue)
    selection = job_selection(jobs)
    from . import engine  # the engine imports models: not at this module's import

    return engine.update_queued(selection, changes)
