"""Map ``Job`` and ``DeadJob`` rows to ``django.tasks`` ``TaskResult`` objects.

A result's id is the job's id as a string. A dead job keeps its original id in ``DeadJob.job_id``,
so the id a caller got from ``enqueue()`` finds the job whichever table it ended in.

- queued: READY (never run, or waiting for its next attempt after a failure);
- running: RUNNING; done: SUCCESSFUL;
- dead-lettered (attempts used up, or ``PermanentError``), or cancelled (before it ran, or
  stopped at a cancel request): FAILED. ``django.tasks`` has no cancelled status.

``errors`` holds one ``TaskError`` per failed attempt, oldest first, and ``worker_ids`` one worker
per attempt, so ``TaskResult.attempts`` is the number of attempts made.
"""

from __future__ import annotations

from typing import Any

from .. import registry
from ..exceptions import UnknownTaskError
from ..models import DeadJob, Job, JobStatus
from .compat import InvalidTask, Task, TaskError, TaskResult, TaskResultStatus, set_frozen
from .kind import is_django_task

STATUSES = {
    JobStatus.QUEUED: TaskResultStatus.READY,
    JobStatus.RUNNING: TaskResultStatus.RUNNING,
    JobStatus.DONE: TaskResultStatus.SUCCESSFUL,
    JobStatus.CANCELLED: TaskResultStatus.FAILED,
}

FINISHED = (TaskResultStatus.SUCCESSFUL, TaskResultStatus.FAILED)


def load_task(path: str) -> Task | None:
    """Return the ``django.tasks`` ``Task`` at dotted ``path``; ``None`` if there is none.

    Looks the path up with ``registry.load`` (cached), so it imports only what a worker would.
    """
    try:
        found = registry.load(path)
    except UnknownTaskError:
        return None
    return found if is_django_task(found) else None


def task_for_row(task: Task, row: Job | DeadJob, *, backend: str | None = None) -> Task:
    """Return ``task`` with the queue, priority and ``run_after`` the job ``row`` was given.

    ``run_after`` is the row's ``run_at`` when it differs from its enqueue time: the deferred
    time, or after a failure the time of the next attempt. When the row no longer fits the
    backend (its queue was removed from ``QUEUES``), ``task`` is returned as it is.
    """
    run_at = getattr(row, "run_at", None)
    changes: dict[str, Any] = {"priority": row.priority, "queue_name": row.queue}
    if run_at is not None and run_at != row.enqueued_at:
        changes["run_after"] = run_at
    if backend is not None:
        changes["backend"] = backend
    try:
        return task.using(**changes)
    except InvalidTask:
        return task


def result_for_job(job: Job, *, task: Task, backend: str) -> TaskResult:
    """Return the ``TaskResult`` of ``job`` as it is in memory; ``task`` is used as given."""
    status = STATUSES[JobStatus(job.status)]
    worker_ids = _worker_ids(job.errors)
    if status in (TaskResultStatus.RUNNING, TaskResultStatus.SUCCESSFUL):
        worker_ids.append(job.worker_id)  # the current (or last) attempt has no error entry
    result: TaskResult[Any, Any] = TaskResult(
        task=task,
        id=str(job.id),
        status=status,
        enqueued_at=job.enqueued_at,
        started_at=job.started_at,
        last_attempted_at=job.started_at,
        finished_at=job.finished_at if status in FINISHED else None,
        args=job.args,
        kwargs=job.kwargs,
        backend=backend,
        errors=_task_errors(job.errors),
        worker_ids=worker_ids,
    )
    if status == TaskResultStatus.SUCCESSFUL:
        set_frozen(result, _return_value=job.result)
    return result


def result_for_dead_job(dead: DeadJob, *, task: Task, backend: str) -> TaskResult:
    """Return the FAILED ``TaskResult`` of dead job ``dead``, id ``str(dead.job_id)``."""
    worker_ids = _worker_ids(dead.errors)
    if worker_ids and not worker_ids[-1]:
        worker_ids[-1] = dead.worker_id
    return TaskResult(
        task=task,
        id=str(dead.job_id),
        status=TaskResultStatus.FAILED,
        enqueued_at=dead.enqueued_at,
        started_at=dead.started_at,
        last_attempted_at=dead.started_at,
        finished_at=dead.failed_at,
        args=dead.args,
        kwargs=dead.kwargs,
        backend=backend,
        errors=_task_errors(dead.errors),
        worker_ids=worker_ids,
    )


def _task_errors(errors: list[dict[str, Any]]) -> list[TaskError]:
    return [
        TaskError(exception_class_path=error["exception_class"], traceback=error["traceback"])
        for error in errors
    ]


def _worker_ids(errors: list[dict[str, Any]]) -> list[str]:
    # Failures recorded before worker ids were kept have none: "" keeps one entry per attempt.
    return [error.get("worker_id") or "" for error in errors]
