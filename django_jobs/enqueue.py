"""Validate a job, serialise its call and INSERT it in the caller's transaction.

Importing this module needs no app registry (models are imported inside the functions), so the
package can expose ``django_jobs.enqueue`` as the function, not this module.

There is no ``on_commit`` here on purpose: the row is part of the caller's transaction, so a
rollback takes the job with it and a commit makes it visible to workers at the same instant as the
business data it belongs to.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async
from django.db import IntegrityError, transaction
from django.utils import timezone

from . import bulk
from .conf import jobs_settings
from .exceptions import InvalidJobOptionsError, SerializationError
from .signals import job_enqueued

if TYPE_CHECKING:
    from .models import Job

PRIORITY_MIN, PRIORITY_MAX = -100, 100
QUEUE_MAX_LENGTH = 64
IDEMPOTENCY_KEY_MAX_LENGTH = 255


def enqueue(task: Any, *args: Any, **kwargs: Any) -> Job:
    """Enqueue ``task(*args, **kwargs)`` with its defaults and return the saved ``Job``.

    ``task`` is an ``@django_jobs.job`` task, a module-level function, or the dotted path of
    either. For other options (``run_at``, ``priority``...) use ``task.using(...).enqueue(...)``.
    Runs one INSERT on the default database in the caller's transaction, if any. Raises
    ``InvalidTaskError``, ``UnknownTaskError``, ``SerializationError`` or
    ``InvalidJobOptionsError`` on bad input, having inserted nothing.
    """
    return as_task(task).enqueue(*args, **kwargs)


async def aenqueue(task: Any, *args: Any, **kwargs: Any) -> Job:
    """Async twin of ``enqueue``; same arguments, result and errors."""
    return await sync_to_async(enqueue)(task, *args, **kwargs)


BULK_BATCH_SIZE = 2000


def enqueue_many(task: Any, calls: Iterable[Sequence[Any] | Mapping[str, Any]]) -> list[int]:
    """Enqueue one job per item of ``calls`` in few INSERT statements; return the new job ids.

    ``task`` is as for ``enqueue`` (options through ``task.using(...)``, except an idempotency key,
    which cannot be shared by many jobs). Each item of ``calls`` is a tuple or list of positional
    arguments, or a dict of keyword arguments. Every item is validated before anything is
    inserted; rows go in batches of ``BULK_BATCH_SIZE`` inside the caller's transaction (or one
    of its own), so all jobs commit or none do. ``job_enqueued`` is not sent per job. Raises as
    ``enqueue`` does, naming the item at fault.
    """
    spec = as_task(task)
    if spec.idempotency_key is not None:
        raise InvalidJobOptionsError(
            "enqueue_many cannot share one idempotency_key among many jobs; enqueue those jobs "
            "one by one."
        )
    template = enqueue_job(spec.path, (), {}, **spec.job_options(), save=False)
    encoded = []
    for index, call in enumerate(calls):
        if isinstance(call, str | bytes) or not isinstance(call, Sequence | Mapping):
            raise InvalidJobOptionsError(
                f"Item {index} of calls is {type(call).__name__} {call!r:.40}; each item must be "
                "a tuple or list of positional arguments or a dict of keyword arguments, e.g. "
                "[('a@example.com',), ('b@example.com',)]."
            )
        args, kwargs = ((), call) if isinstance(call, Mapping) else (call, {})
        try:
            encoded.append((_dumps(list(args), "positional"), _dumps(dict(kwargs), "keyword")))
        except SerializationError as exc:
            raise SerializationError(f"Item {index} of calls: {exc}") from exc
    ids: list[int] = []
    with transaction.atomic():
        for start in range(0, len(encoded), BULK_BATCH_SIZE):
            ids += bulk.insert_jobs(template, encoded[start : start + BULK_BATCH_SIZE])
    return ids


def _dumps(value: list[Any] | dict[str, Any], kind: str) -> str:
    try:
        return json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        # Name the culprit: check each argument on its own.
        if kind == "positional":
            assert isinstance(value, list)
            check_json_args(value)
        else:
            assert isinstance(value, dict)
            check_json_kwargs(value)
        raise


def enqueue_job(
    path: str,
    args: Sequence[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
    *,
    queue: str | None = None,
    priority: int | None = None,
    run_at: datetime | None = None,
    max_attempts: int | None = None,
    timeout_seconds: float | None = None,
    idempotency_key: str | None = None,
    backoff_base_seconds: float | None = None,
    backoff_max_seconds: float | None = None,
    save: bool = True,
) -> Job:
    """Validate every option, INSERT one ``Job`` and return it; the one write path for new jobs.

    ``path`` is a dotted task path, trusted to import (callers check it with ``registry``).
    ``None`` options take the ``DJANGO_JOBS`` defaults (the ``backoff_*`` ones when the job is
    retried, so a settings change reaches queued jobs); ``run_at`` is an aware datetime (default:
    now). With an ``idempotency_key`` already held by a queued or running job, that job is returned
    and nothing is inserted; the partial unique index decides, so concurrent callers agree.
    With ``save=False`` the validated, unsaved job is returned (``enqueue_many`` uses it).
    Raises ``SerializationError`` or ``InvalidJobOptionsError`` before touching the database.
    """
    from .models import Job  # models need the app registry; this module must not at import

    job = Job(
        task_path=path,
        args=check_json_args(args),
        kwargs=check_json_kwargs(kwargs or {}),
        queue=check_queue(queue if queue is not None else jobs_settings.DEFAULT_QUEUE),
        priority=check_priority(
            priority if priority is not None else jobs_settings.DEFAULT_PRIORITY
        ),
        max_attempts=check_max_attempts(
            max_attempts if max_attempts is not None else jobs_settings.MAX_ATTEMPTS
        ),
        timeout_seconds=check_timeout(timeout_seconds),
        idempotency_key=check_idempotency_key(idempotency_key),
        backoff_base_seconds=check_backoff(backoff_base_seconds, "backoff_base_seconds"),
        backoff_max_seconds=check_backoff(backoff_max_seconds, "backoff_max_seconds"),
    )
    now = timezone.now()
    job.enqueued_at = now
    job.run_at = check_run_at(run_at) if run_at is not None else now
    if not save:
        return job
    if job.idempotency_key is None:
        job.save(force_insert=True)
    else:
        job, inserted = _insert_or_get_live(job)
        if not inserted:
            return job  # the live job holding the key: nothing was enqueued
    job_enqueued.send(sender=Job, job=job)
    return job


def _insert_or_get_live(job: Job) -> tuple[Job, bool]:
    # A savepoint keeps a conflict from poisoning the caller's transaction. The INSERT waits on
    # the unique index while another transaction holds the same key uncommitted, then fails or
    # succeeds by that transaction's outcome: no check-then-insert race.
    from .models import Job

    for _ in range(3):
        try:
            with transaction.atomic():
                job.save(force_insert=True)
            return job, True
        except IntegrityError:
            existing = Job.objects.live().filter(idempotency_key=job.idempotency_key).first()
            if existing is not None:
                return existing, False
            job.pk = None  # the holder finished in between: the key is free again
    raise InvalidJobOptionsError(
        f"Could not settle idempotency key {job.idempotency_key!r}: it kept changing hands."
    )


def resolve_run_at(run_at: datetime | None, delay: float | timedelta | None) -> datetime | None:
    """Return the absolute ``run_at`` for ``run_at`` or ``delay`` (seconds or a timedelta).

    Raises ``InvalidJobOptionsError`` when both are given or ``delay`` is negative.
    """
    if delay is None:
        return run_at
    if run_at is not None:
        raise InvalidJobOptionsError("Give run_at or delay, not both.")
    seconds = delay.total_seconds() if isinstance(delay, timedelta) else delay
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        raise InvalidJobOptionsError(f"delay must be a number of seconds >= 0, got {delay!r}.")
    return timezone.now() + timedelta(seconds=seconds)


def check_json_args(args: Sequence[Any]) -> list[Any]:
    """Return ``args`` as a list, or raise ``SerializationError`` naming the first bad argument."""
    for index, value in enumerate(args):
        _check_json(value, f"positional argument {index}")
    return list(args)


def check_json_kwargs(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``kwargs`` as a dict, or raise ``SerializationError`` naming the first bad one."""
    for name, value in kwargs.items():
        _check_json(value, f"keyword argument {name!r}")
    return dict(kwargs)


def _check_json(value: Any, what: str) -> None:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise SerializationError(
            f"The {what} ({type(value).__name__}: {value!r:.80}) is not JSON-serialisable: {exc}. "
            "Pass plain data (str, int, float, bool, None, lists, dicts; dict keys become "
            "strings): an id "
            "instead of a model instance, an ISO 8601 string instead of a datetime."
        ) from exc


def check_queue(queue: str) -> str:
    """Return ``queue`` or raise ``InvalidJobOptionsError`` for a bad or disallowed name."""
    if not isinstance(queue, str) or not queue or len(queue) > QUEUE_MAX_LENGTH:
        raise InvalidJobOptionsError(
            f"queue must be a non-empty string of at most {QUEUE_MAX_LENGTH} characters, "
            f"got {queue!r}."
        )
    allowed = jobs_settings.QUEUES
    if allowed is not None and queue not in allowed:
        raise InvalidJobOptionsError(
            f"Unknown queue {queue!r}; DJANGO_JOBS['QUEUES'] allows {sorted(allowed)}. "
            "Add it there or pick one of those."
        )
    return queue


def check_priority(priority: int) -> int:
    """Return ``priority`` or raise ``InvalidJobOptionsError`` unless it is an int in -100..100."""
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise InvalidJobOptionsError(f"priority must be an integer, got {priority!r}.")
    if not PRIORITY_MIN <= priority <= PRIORITY_MAX:
        raise InvalidJobOptionsError(
            f"priority {priority} is out of range: use {PRIORITY_MIN}..{PRIORITY_MAX}, "
            "higher runs first."
        )
    return priority


def check_max_attempts(max_attempts: int) -> int:
    """Return ``max_attempts`` or raise ``InvalidJobOptionsError`` unless it is an int >= 1."""
    if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
        raise InvalidJobOptionsError(
            f"max_attempts must be an integer >= 1 (1 means no retries), got {max_attempts!r}."
        )
    return max_attempts


def check_timeout(timeout_seconds: float | None) -> int | None:
    """Return the timeout in whole seconds (rounded up) or raise for a non-positive value."""
    if timeout_seconds is None:
        return None
    if (
        isinstance(timeout_seconds, bool)
        or not isinstance(timeout_seconds, int | float)
        or not timeout_seconds > 0
    ):
        raise InvalidJobOptionsError(
            f"timeout_seconds must be a number of seconds > 0, got {timeout_seconds!r}."
        )
    return math.ceil(timeout_seconds)


def check_backoff(seconds: float | None, name: str) -> float | None:
    """Return ``seconds`` as a float, or raise ``InvalidJobOptionsError`` unless it is >= 0."""
    if seconds is None:
        return None
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not seconds >= 0:
        raise InvalidJobOptionsError(f"{name} must be a number of seconds >= 0, got {seconds!r}.")
    return float(seconds)


def check_run_at(run_at: datetime) -> datetime:
    """Return ``run_at`` or raise ``InvalidJobOptionsError`` if it is not an aware datetime."""
    if not isinstance(run_at, datetime):
        raise InvalidJobOptionsError(f"run_at must be a datetime, got {run_at!r}.")
    if timezone.is_naive(run_at):
        raise InvalidJobOptionsError(
            f"run_at {run_at.isoformat()} is naive; pass an aware datetime, e.g. "
            "django.utils.timezone.now() + timedelta(...)."
        )
    return run_at


def check_idempotency_key(key: str | None) -> str | None:
    """Return ``key`` or raise ``InvalidJobOptionsError`` unless it is a short non-empty string."""
    if key is None:
        return None
    if not isinstance(key, str) or not key or len(key) > IDEMPOTENCY_KEY_MAX_LENGTH:
        raise InvalidJobOptionsError(
            f"idempotency_key must be a non-empty string of at most {IDEMPOTENCY_KEY_MAX_LENGTH} "
            f"characters, got {key!r:.80}."
        )
    return key


from .task import as_task  # noqa: E402  (task.py imports this module's checks)
