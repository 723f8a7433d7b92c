"""``get_status`` and ``get_workflow_status``: where a job or a workflow stands, in the words a
status page shows its user."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from asgiref.sync import sync_to_async

from .exceptions import JobNotFoundError
from .models import LIVE_STATUSES, DeadJob, Job, JobStatus, Workflow


@dataclasses.dataclass(frozen=True, slots=True)
class JobStatusReport:
    """A job's state for people: ``state`` is queued, running, cancelling, done, failed or
    cancelled. ``cancelling`` is a running job asked to stop (``cancel_requested_at``, the time
    of the request): it ends cancelled when its task stops, or done if the task ignores it.

    ``progress_percent`` is 0..100 or None; ``error`` is a one-line summary for failed jobs (and,
    naming the last failed attempt, for queued or running jobs on a retry); ``result`` is the
    task's return value once done, else None; times are aware UTC datetimes or None (``run_at``:
    when a queued job may start).
    ``replayed_job_id`` is set on a failed job that was replayed: the new job's id.
    """

    job_id: int
    task_path: str
    state: str
    attempts: int
    max_attempts: int
    progress_percent: float | None
    progress_message: str
    error: str
    result: Any
    enqueued_at: datetime | None
    run_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    replayed_job_id: int | None = None
    cancel_requested_at: datetime | None = None

    @property
    def finished(self) -> bool:
        """True once the job is done, failed or cancelled: its status will not change again."""
        return self.state in ("done", "failed", "cancelled")

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (datetimes as ISO 8601 strings)."""
        data = dataclasses.asdict(self)
        data["finished"] = self.finished
        for key in ("enqueued_at", "run_at", "started_at", "finished_at", "cancel_requested_at"):
            if data[key] is not None:
                data[key] = data[key].isoformat()
        return data


def _summary(exception_class: str, message: str) -> str:
    return f"{exception_class.rsplit('.', 1)[-1]}: {message}"[:300]


def get_status(job_id: int) -> JobStatusReport:
    """Return the status of the job with ``job_id``, live or dead-lettered.

    Two indexed look-ups at most, which leave the call (args, kwargs) and a dead job's traceback
    unread: they may be megabytes, and a status page polls. Raises ``JobNotFoundError`` when
    neither table has the id.
    """
    job = Job.objects.filter(id=job_id).defer("args", "kwargs").first()
    if job is not None:
        last = job.last_error
        cancelling = job.status == JobStatus.RUNNING and job.cancel_requested_at is not None
        return JobStatusReport(
            job_id=job.id,
            task_path=job.task_path,
            state="cancelling" if cancelling else str(job.status),
            attempts=job.attempts,
            max_attempts=job.max_attempts,
            progress_percent=job.progress_percent,
            progress_message=job.progress_message,
            error=_summary(last["exception_class"], last["message"])
            if last and job.status in LIVE_STATUSES
            else "",
            result=job.result if job.status == JobStatus.DONE else None,
            enqueued_at=job.enqueued_at,
            run_at=job.run_at if job.status == JobStatus.QUEUED else None,
            started_at=job.started_at,
            finished_at=job.finished_at,
            cancel_requested_at=job.cancel_requested_at,
        )
    dead = (
        DeadJob.objects.filter(job_id=job_id).defer("args", "kwargs", "errors", "traceback").first()
    )
    if dead is None:
        raise JobNotFoundError(f"No job or dead job has id {job_id}.")
    return JobStatusReport(
        job_id=dead.job_id,
        task_path=dead.task_path,
        state="failed",
        attempts=dead.attempts,
        max_attempts=dead.max_attempts,
        progress_percent=None,
        progress_message="",
        error=_summary(dead.exception_class, dead.message),
        result=None,
        enqueued_at=dead.enqueued_at,
        run_at=None,
        started_at=dead.started_at,
        finished_at=dead.failed_at,
        replayed_job_id=dead.replayed_job_id,
    )


async def aget_status(job_id: int) -> JobStatusReport:
    """Async twin of ``get_status``; same argument, result and errors."""
    return await sync_to_async(get_status)(job_id)


@dataclasses.dataclass(frozen=True, slots=True)
class WorkflowStatusReport:
    """Where a workflow stands: counts of its jobs and one word for its state.

    ``total`` counts every job of the workflow (a group's callback included), ``done`` those
    that succeeded, ``failed`` members dead-lettered and not replayed, ``cancelled`` members
    cancelled. ``state`` is ``done`` (every job succeeded), ``cancelled`` (a member was
    cancelled: it will not finish), ``blocked`` (a dead member waits for a replay) or
    ``running``. ``job_ids`` are the ids of its jobs so far (replays included), in position order.
    """

    workflow_id: int
    kind: str
    state: str
    total: int
    done: int
    failed: int
    cancelled: int
    job_ids: list[int]

    @property
    def finished(self) -> bool:
        """True once the workflow is done or cancelled: it will not change again."""
        return self.state in ("done", "cancelled")


def get_workflow_status(workflow_id: int) -> WorkflowStatusReport:
    """Return the progress of workflow ``workflow_id``; three indexed reads, no job arguments.

    Raises ``JobNotFoundError`` when there is no such workflow (never enqueued, or pruned).
    """
    workflow = Workflow.objects.filter(id=workflow_id).first()
    if workflow is None:
        raise JobNotFoundError(f"No workflow has id {workflow_id} (never enqueued, or pruned).")
    jobs = list(
        Job.objects.filter(workflow_id=workflow_id)
        .order_by("workflow_position", "id")
        .values_list("id", "status")
    )
    failed = DeadJob.objects.filter(workflow_id=workflow_id, replayed_job_id=None).count()
    cancelled = sum(1 for _, status in jobs if status == JobStatus.CANCELLED)
    done = workflow.total - workflow.pending
    if workflow.pending == 0:
        state = "done"
    elif cancelled:
        state = "cancelled"
    elif failed:
        state = "blocked"
    else:
        state = "running"
    return WorkflowStatusReport(
        workflow_id=workflow.id,
        kind=workflow.kind,
        state=state,
        total=workflow.total,
        done=done,
        failed=failed,
        cancelled=cancelled,
        job_ids=[job_id for job_id, _ in jobs],
    )


async def aget_workflow_status(workflow_id: int) -> WorkflowStatusReport:
    """Async twin of ``get_workflow_status``; same argument, result and errors."""
    return await sync_to_async(get_workflow_status)(workflow_id)
