"""What a running task knows of a cancel request: ``cancel_requested()`` and ``check_cancelled()``.

``engine.cancel`` marks a running job's row (``cancel_requested_at``); the worker's heartbeat,
whose one UPDATE per beat renews every lease it holds, returns that column, and the heartbeat
thread copies it onto the job the task runs for. A NOTIFY from ``cancel`` makes the heartbeat
beat at once, so with LISTEN a request reaches the task within milliseconds, and within
``HEARTBEAT_SECONDS`` (10 s by default) without it. Reading the flag is an attribute look-up, no
query: poll it in a tight loop if you like. A task that ignores the request and returns is
``done``; one that raises (``JobCancelled`` or anything else) once asked is ``cancelled``.

The current job is found from the slot thread that runs it, or, inside an ``async`` task, from a
context variable the worker sets only for coroutines; plain jobs pay nothing for either.
Python's ``asyncio`` cancels by raising ``CancelledError`` at the next ``await``; this is the
cooperative half of that idea, with the request carried by the database to any host.
"""

from __future__ import annotations

import contextvars
import threading
from typing import TYPE_CHECKING

from .exceptions import JobCancelled

if TYPE_CHECKING:
    from .models import Job

#: The job an ``async`` task runs for (set by the worker around the coroutine only).
async_job: contextvars.ContextVar[Job | None] = contextvars.ContextVar(
    "django_jobs_async_job", default=None
)


def current_job() -> Job | None:
    """Return the job the calling code runs for inside a worker, or None outside one.

    Thread-safe; no query. Within a job's own threads or processes that it started itself, None.
    """
    job = async_job.get()
    if job is not None:
        return job
    return getattr(threading.current_thread(), "running_job", None)


def is_requested(job: Job | None) -> bool:
    """Return whether the worker has seen a cancel request for ``job`` (False for None)."""
    return job is not None and job.cancel_requested_at is not None


def cancel_requested() -> bool:
    """Return whether the job this code runs for was asked to stop; False outside a job.

    For code that has no ``JobContext``: a ``django.tasks`` task, a helper deep in a call
    chain. One attribute look-up, no query: cheap enough for a tight loop. True from when the
    worker learns of the request (at once with LISTEN, else within ``HEARTBEAT_SECONDS``).
    """
    return is_requested(current_job())


def check_cancelled() -> None:
    """Raise ``JobCancelled`` if the job this code runs for was asked to stop; else return.

    Outside a job it always returns. Let the error propagate out of the task: the job then ends
    ``cancelled`` (no retry, no dead letter).
    """
    job = current_job()
    if is_requested(job):
        assert job is not None
        raise JobCancelled(f"Job {job.id} was asked to stop at {job.cancel_requested_at}.")
