"""``execute``: run one claimed job and record its outcome. Never raises for the task's sake."""

from __future__ import annotations

import inspect
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from asgiref.sync import async_to_sync
from django.db import connection
from django.utils import timezone

from .. import registry
from ..deadletter import dead_letter
from ..exceptions import SerializationError
from ..failure import Failure
from ..models import Job
from ..retry import next_run_at_for
from ..signals import job_failed, job_started, job_succeeded, send_from_worker
from . import outcome
from .dbretry import drop_unusable_connection, retrying

logger = logging.getLogger(__name__)


def execute(
    job: Job,
    *,
    write_deadline_seconds: float = 60.0,
    on_success: Callable[[Job, Any, float], None] | None = None,
) -> str:
    """Run claimed ``job`` in this thread and record the outcome under its lease.

    Returns ``"done"``, ``"retry"``, ``"dead"`` or ``"lost"`` (the lease was gone when the outcome
    was written, so nothing was). Exceptions from task code are caught and recorded. The task runs
    once; only the outcome write is retried through database outages, for up to
    ``write_deadline_seconds``, after which the error propagates and the expired lease is left to
    rescue. With ``on_success``, a success is handed to it as ``(job, result, duration_seconds)``
    instead of being written here (the worker's batching completer), and ``"handed over"`` is
    returned.
    """
    extra = {"job_id": job.id, "worker_id": job.worker_id, "task": job.task_path}
    logger.info(
        "Job %s %s started (attempt %d/%d)",
        job.id, job.task_path, job.attempts, job.max_attempts, extra=extra,
    )  # fmt: skip
    send_from_worker(job_started, sender=Job, job=job, worker_id=job.worker_id)
    started = time.monotonic()
    error: BaseException | None = None
    try:
        result = _call(job)
    except (Exception, SystemExit) as exc:  # a task's sys.exit() must not end its slot thread
        error, result = exc, None
    finally:
        # Task code may leave this thread's connection broken; drop it so the outcome write
        # reconnects. Healthy connections stay open: a reconnect per job costs more than most jobs.
        if connection.errors_occurred:
            drop_unusable_connection()
    duration = time.monotonic() - started
    deadline = time.monotonic() + write_deadline_seconds
    if error is not None:
        return retrying(
            lambda: record_failure(job, error, duration),
            deadline=deadline,
            what=f"recording the failure of job {job.id}",
        )
    if on_success is not None:
        on_success(job, result, duration)
        return "handed over"
    written = retrying(
        lambda: outcome.complete(job, result),
        deadline=deadline,
        what=f"recording the result of job {job.id}",
    )
    return report_success(job, result, duration, written)


def report_success(job: Job, result: Any, duration: float, written: bool) -> str:
    """Log a job's success and send ``job_succeeded`` once its outcome is written.

    Returns ``"done"``, or ``"lost"`` (logged) when ``written`` is False: the lease had been lost.
    """
    extra = {"job_id": job.id, "worker_id": job.worker_id, "task": job.task_path}
    if not written:
        return _lost(job, extra)
    logger.info(
        "Job %s %s done in %.3fs (attempt %d)",
        job.id, job.task_path, duration, job.attempts, extra={**extra, "duration": duration},
    )  # fmt: skip
    send_from_worker(job_succeeded, sender=Job, job=job, result=result, duration_seconds=duration)
    return "done"


def _call(job: Job) -> Any:
    target = registry.resolve(job.task_path)
    args = [target.make_context(job), *job.args] if target.make_context else job.args
    result = target.func(*args, **job.kwargs)
    if inspect.isawaitable(result):
        # async_to_sync, not asyncio.run: the coroutine's sync_to_async calls (the async ORM)
        # then run in this thread, on its connection, instead of on a shared thread whose
        # connection nothing ever closes. Django's Task.call runs coroutines the same way.
        result = async_to_sync(_await)(result)
    try:
        json.dumps(result, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise SerializationError(
            f"Task {job.task_path} returned {type(result).__name__}, which is not "
            f"JSON-serialisable ({exc}); return plain data or store the object yourself."
        ) from exc
    return result


async def _await(awaitable: Any) -> Any:
    return await awaitable


def record_failure(job: Job, exc: BaseException, duration: float) -> str:
    """Record that ``job``'s current attempt failed with ``exc``: retry it or dead-letter it.

    Fenced by the job's lease token. Returns ``"retry"``, ``"dead"`` or ``"lost"``; database
    errors propagate. Used for task exceptions and for timeouts detected by the worker.
    """
    extra: dict[str, Any] = {"job_id": job.id, "worker_id": job.worker_id, "task": job.task_path}
    now = timezone.now()
    failure = Failure.from_exception(exc, attempt=job.attempts, now=now, worker_id=job.worker_id)
    run_at = next_run_at_for(job, exc, now)
    extra = {**extra, "duration": duration}
    if run_at is None:
        if dead_letter(job, failure, lease_token=job.lease_token) is None:
            return _lost(job, extra)
        logger.error(
            "Job %s %s failed in %.3fs on attempt %d/%d and was dead-lettered: %s: %s",
            job.id, job.task_path, duration, job.attempts, job.max_attempts,
            failure.exception_class, failure.message, extra=extra,
        )  # fmt: skip
    else:
        if not outcome.retry(job, failure, run_at):
            return _lost(job, extra)
        logger.warning(
            "Job %s %s failed in %.3fs on attempt %d/%d, retry at %s: %s: %s",
            job.id, job.task_path, duration, job.attempts, job.max_attempts,
            run_at.isoformat(), failure.exception_class, failure.message, extra=extra,
        )  # fmt: skip
    send_from_worker(
        job_failed,
        sender=Job,
        job=job,
        error=exc,
        will_retry=run_at is not None,
        duration_seconds=duration,
    )
    return "dead" if run_at is None else "retry"


def _lost(job: Job, extra: dict[str, Any]) -> str:
    logger.warning(
        "Job %s %s: lease lost before its outcome was written; the outcome was discarded",
        job.id, job.task_path, extra=extra,
    )  # fmt: skip
    return "lost"
