"""Jobs and dead jobs as the plain dicts ``jobs list`` and ``jobs show`` print.

A dead job is shown under its original job id (``DeadJob.job_id``) with the status ``dead``, so
one id finds a job wherever it is now.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ..models import DeadJob, Job

#: What ``jobs list`` reads of a job: enough for its row, never the call or the result.
LIST_FIELDS = (
    "id",
    "status",
    "queue",
    "task_path",
    "priority",
    "attempts",
    "max_attempts",
    "enqueued_at",
    "run_at",
    "finished_at",
    "errors",
)
DEAD_LIST_FIELDS = (
    "job_id",
    "queue",
    "task_path",
    "priority",
    "attempts",
    "max_attempts",
    "enqueued_at",
    "failed_at",
    "exception_class",
    "message",
    "replayed_job_id",
)
ERROR_SUMMARY_LENGTH = 200


def summary(exception_class: str, message: str) -> str:
    """Return ``"ClassName: message"`` on one line, at most ``ERROR_SUMMARY_LENGTH`` characters.

    >>> summary("builtins.ValueError", "bad\\ninput")
    'ValueError: bad input'
    """
    text = f"{exception_class.rsplit('.', 1)[-1]}: {' '.join(message.split())}"
    return text[:ERROR_SUMMARY_LENGTH]


def job_row(job: Job) -> dict[str, Any]:
    """Return a job's row for ``jobs list``: the keys of ``ROW_KEYS``, the last error summed up."""
    last = job.last_error
    return {
        "id": job.id,
        "status": str(job.status),
        "queue": job.queue,
        "task_path": job.task_path,
        "priority": job.priority,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "enqueued_at": job.enqueued_at,
        "run_at": job.run_at,
        "finished_at": job.finished_at,
        "error": summary(last["exception_class"], last["message"]) if last else "",
        "replayed_job_id": None,
    }


def dead_row(dead: DeadJob) -> dict[str, Any]:
    """Return a dead job's row for ``jobs list``, keyed by its original job id."""
    return {
        "id": dead.job_id,
        "status": "dead",
        "queue": dead.queue,
        "task_path": dead.task_path,
        "priority": dead.priority,
        "attempts": dead.attempts,
        "max_attempts": dead.max_attempts,
        "enqueued_at": dead.enqueued_at,
        "run_at": None,
        "finished_at": dead.failed_at,
        "error": summary(dead.exception_class, dead.message),
        "replayed_job_id": dead.replayed_job_id,
    }


#: The keys of every ``jobs list`` row, in the order its table shows them.
ROW_KEYS = (
    "id",
    "status",
    "queue",
    "task_path",
    "priority",
    "attempts",
    "max_attempts",
    "enqueued_at",
    "run_at",
    "finished_at",
    "error",
    "replayed_job_id",
)


def full(record: Job | DeadJob) -> dict[str, Any]:
    """Return every field of a job or dead job, plus ``kind`` (``job``/``dead``) and ``status``.

    A dead job's ``id`` is its original job id; its own row id is ``dead_job_pk``. Lease
    tokens are strings; datetimes stay datetimes (``Output`` writes them as ISO 8601).
    """
    # By column (attname): a job's workflow is ``workflow_id``, as on a dead job.
    data = {field.attname: getattr(record, field.attname) for field in record._meta.concrete_fields}
    if isinstance(record, DeadJob):
        pk = data.pop("id")
        job_id = data.pop("job_id")
        return {"kind": "dead", "id": job_id, "status": "dead", **data, "dead_job_pk": pk}
    if data.get("lease_token") is not None:
        data["lease_token"] = str(data["lease_token"])
    return {"kind": "job", "id": data.pop("id"), "status": data.pop("status"), **data}


def when(value: datetime | None) -> str:
    """Return a datetime as ``YYYY-MM-DD HH:MM:SS`` (UTC) for a table, ``""`` for None."""
    return "" if value is None else f"{value.astimezone(UTC):%Y-%m-%d %H:%M:%S}"
