"""``execute``: run one started job's task in this thread and say what came of it.

Task code is hostile: it may raise anything (``BaseException`` included), return what the
database cannot store, or leave this thread's connection mid-transaction. ``execute`` turns all
of it into an ``Outcome`` value and leaves the connection clean for the next job; it writes
nothing about the job itself.
"""

from __future__ import annotations

import inspect
import time
from typing import Any

from asgiref.sync import async_to_sync
from django.db import connection

from .. import cancellation, db, registry, validation
from ..exceptions import (
    InvalidJobOptionsError,
    JobCancelled,
    OpenTransactionError,
    SerializationError,
)
from ..models import Job
from ..outcome import Cancelled, Failed, Outcome, Snoozed, Succeeded
from ..snooze import Snooze


def execute(job: Job) -> Outcome:
    """Run ``job``'s task with its arguments; return ``Succeeded``, ``Failed``, ``Snoozed`` or
    ``Cancelled``. Never raises.

    ``Cancelled`` when the task raised ``JobCancelled``, or raised anything once the worker knew
    of a cancel request (a ``Snooze`` included: the request wins); a task that returns normally
    after one succeeded. A job whose cancel request the worker knew before it ran (one started
    ahead, waiting for a slot) is ``Cancelled`` without its task being called. A task that
    raises or returns ``Snooze(seconds)`` has snoozed.

    A task path that names no registered task fails with ``UnknownTaskError`` without anything
    being imported or called. A task that returns with a transaction still open has it rolled
    back (the connection is thrown away) and fails with ``OpenTransactionError``. A result that
    cannot be stored as JSON fails with ``SerializationError``.
    """
    if cancellation.is_requested(job):
        # Asked to stop while it waited for a slot (started ahead on the runway, or
        # prefetched): the task never runs.
        asked = JobCancelled(
            f"Job {job.id} was asked to stop at {job.cancel_requested_at} before its task ran."
        )
        return Cancelled(asked, 0.0)
    started = time.monotonic()
    error: BaseException | None = None
    result: Any = None
    try:
        result = _call(job)
    except BaseException as exc:
        error = exc
    duration = time.monotonic() - started
    leak = db.open_transaction()
    if leak is not None:
        db.discard_connection()
        leaked = OpenTransactionError(
            f"Task {job.task_path} returned {leak}; its uncommitted writes were rolled back. "
            "Leave every atomic() block (use it as a context manager) and keep autocommit on."
        )
        leaked.__cause__ = error
        return _failed(job, leaked, duration)
    if connection.errors_occurred:
        # The task met a database error: check the connection now, not on the outcome write.
        db.drop_unusable_connection()
    if error is not None:
        if isinstance(error, Snooze) and not cancellation.is_requested(job):
            return snoozed(error, duration)
        return _failed(job, error, duration)
    if isinstance(result, Snooze):
        if cancellation.is_requested(job):
            return _failed(job, result, duration)
        return snoozed(result, duration)
    try:
        result_json = encode_result(job, result)
    except SerializationError as exc:
        return Failed(exc, duration)
    return Succeeded(result, result_json, duration)


def snoozed(request: Snooze, duration: float) -> Snoozed | Failed:
    """Return ``Snoozed`` for a task's ``Snooze``, or ``Failed`` if its ``seconds`` is bad.

    Checked again here: task code may subclass ``Snooze`` without calling its constructor, or
    change ``seconds`` after it, and that must fail the attempt, not the worker.
    """
    try:
        seconds = validation.check_snooze_seconds(getattr(request, "seconds", None))
    except InvalidJobOptionsError as exc:
        return Failed(exc, duration)
    return Snoozed(seconds, duration)


def _failed(job: Job, error: BaseException, duration: float) -> Failed | Cancelled:
    if isinstance(error, JobCancelled) or cancellation.is_requested(job):
        return Cancelled(error, duration)
    return Failed(error, duration)


def _call(job: Job) -> Any:
    target = registry.resolve(job.task_path)
    args = [target.make_context(job), *job.args] if target.make_context else job.args
    result = target.func(*args, **job.kwargs)
    if inspect.isawaitable(result):
        # async_to_sync, not asyncio.run: the coroutine's sync_to_async calls (the async ORM)
        # then run in this thread, on its connection, instead of on a shared thread whose
        # connection nothing ever closes. Django's Task.call runs coroutines the same way.
        token = cancellation.async_job.set(job)  # coroutines run on another thread
        try:
            result = async_to_sync(_await)(result)
        finally:
            cancellation.async_job.reset(token)
    return result


async def _await(awaitable: Any) -> Any:
    return await awaitable


def encode_result(job: Job, result: Any) -> str | None:
    """Return ``result`` as JSON text that PostgreSQL's jsonb accepts, or None for None.

    Raises ``SerializationError`` for what JSON cannot hold (objects, NaN), for text jsonb
    refuses (NUL characters, lone surrogates) and past ``MAX_RESULT_BYTES``: the job fails on its
    own instead of sinking the batch its success would have been written with.
    """
    if result is None:
        return None
    return validation.encode_result(result, task_path=job.task_path)
