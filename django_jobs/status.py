"""``get_status``: where a job stands, in the words a status page shows its user."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from .exceptions import JobNotFoundError
from .models import DeadJob, Job


@dataclasses.dataclass(frozen=True, slots=True)
class JobStatusReport:
    """A job's state for people: ``state`` is queued, running, done, failed or cancelled.

    ``progress_percent`` is 0..100 or None; ``error`` is a one-line summary for failed jobs (and
    for queued jobs waiting on a retry); times are aware UTC datetimes or None.
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
    started_at: datetime | None
    finished_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (datetimes as ISO 8601 strings)."""
        data = dataclasses.asdict(self)
        for key in ("enqueued_at", "started_at", "finished_at"):
            if data[key] is not None:
                data[key] = data[key].isoformat()
        return data


def _summary(exception_class: str, message: str) -> str:
    return f"{exception_class.rsplit('.', 1)[-1]}: {message}"[:300]


def get_status(job_id: int) -> JobStatusReport:
    """Return the status of the job with ``job_id``, live or dead-lettered.

    Two indexed look-ups at most. Raises ``JobNotFoundError`` when neither table has the id.
    """
    job = Job.objects.filter(id=job_id).first()
    if job is not None:
        last = job.last_error
        return JobStatusReport(
            job_id=job.id,
            task_path=job.task_path,
            state=str(job.status),
            attempts=job.attempts,
            max_attempts=job.max_attempts,
            progress_percent=job.progress_percent,
            progress_message=job.progress_message,
            error=_summary(last["exception_class"], last["message"]) if last else "",
            result=job.result,
            enqueued_at=job.enqueued_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
        )
    dead = DeadJob.objects.filter(job_id=job_id).first()
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
        started_at=dead.started_at,
        finished_at=dead.failed_at,
    )
