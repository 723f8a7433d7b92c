"""Validate a job, serialise its call and INSERT it in the caller's transaction.

``enqueue_job`` (one job) and ``enqueue_calls`` (many jobs of one task) are the write paths behind
``django_jobs.enqueue()``, ``Task.enqueue()``, ``enqueue_many()``, the scheduler, replay and the
``django.tasks`` backend. Every value is checked by ``django_jobs.validation`` before any SQL, so
bad input raises ``SerializationError`` or ``InvalidJobOptionsError`` and leaves the caller's
transaction as it was; the INSERTs themselves are ``django_jobs.engine.insert``'s.

Importing this module needs no app registry (models are imported inside the functions). There is
no ``on_commit`` here on purpose: the row is part of the caller's transaction, so a rollback takes
the job with it and a commit makes it visible to workers at the same instant as the business data
it belongs to.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.core.signals import setting_changed
from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone

from . import validation
from .conf import jobs_settings
from .exceptions import InvalidJobOptionsError, SerializationError
from .signals import job_enqueued

if TYPE_CHECKING:
    from .models import Job

BULK_BATCH_SIZE = 2000


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
    unique_for: float | None = None,
    debounce_seconds: float | None = None,
    concurrency_key: str | None = None,
    concurrency_limit: int | None = None,
) -> Job:
    """Validate every option, INSERT one ``Job`` and return it.

    ``path`` is a dotted task path, trusted to be a task (callers look it up with
    ``registry.load``; the worker refuses anything else anyway). ``None`` options take the
    ``DJANGO_JOBS`` defaults (the ``backoff_*`` ones when the job is retried, so a settings
    change reaches queued jobs); ``run_at`` is an aware datetime (default: now). With an
    ``idempotency_key`` already held by a queued or running job, that job is returned and
    nothing is inserted. With a ``concurrency_limit``, at most that many jobs of its
    ``concurrency_key`` (default: ``path``) run at once (``engine.claim_limited``).
    Raises ``SerializationError`` or ``InvalidJobOptionsError`` before any
    SQL; sends ``job_enqueued`` after the INSERT, inside the caller's transaction, if it has
    receivers. One statement (one round trip) without an idempotency key; with one, the
    INSERT runs in a savepoint (see ``engine.insert_call``).

    ``unique_for`` (seconds): a job done within that window with the same key is returned too
    (``engine.insert_unique``). ``debounce_seconds``: the queued job with the same key gets
    this call's arguments and ``run_at`` = now + ``debounce_seconds`` instead of a new job being
    inserted (``engine.debounce``); ``run_at`` cannot be given with it. Without
    ``idempotency_key``, either derives one (``derived_key``).
    """
    if unique_for is not None or debounce_seconds is not None:
        return _enqueue_unique(
            path, args, kwargs or {}, unique_for=unique_for, debounce_seconds=debounce_seconds,
            queue=queue, priority=priority, run_at=run_at, max_attempts=max_attempts,
            timeout_seconds=timeout_seconds, idempotency_key=idempotency_key,
            backoff_base_seconds=backoff_base_seconds, backoff_max_seconds=backoff_max_seconds,
            concurrency_key=concurrency_key, concurrency_limit=concurrency_limit,
        )  # fmt: skip
    values, encoded = call_values(
        path,
        args,
        kwargs or {},
        queue=queue,
        priority=priority,
        run_at=run_at,
        max_attempts=max_attempts,
        timeout_seconds=timeout_seconds,
        idempotency_key=idempotency_key,
        backoff_base_seconds=backoff_base_seconds,
        backoff_max_seconds=backoff_max_seconds,
        concurrency_key=concurrency_key,
        concurrency_limit=concurrency_limit,
    )
    from .engine import insert_call  # the engine imports models: not at this module's import

    job, inserted = insert_call(values, encoded)
    if inserted:
        from .models import Job

        if job_enqueued.has_listeners(Job):
            job_enqueued.send(sender=Job, job=job)
    return job  # when not inserted: the live job holding the key


def _enqueue_unique(
    path: str,
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    *,
    unique_for: Any,
    debounce_seconds: Any,
    run_at: datetime | None,
    idempotency_key: str | None,
    **options: Any,
) -> Job:
    unique_for = validation.check_unique_for(unique_for)
    debounce_seconds = validation.check_debounce_seconds(debounce_seconds)
    if unique_for is not None and debounce_seconds is not None:
        raise InvalidJobOptionsError(
            "Give unique_for or debounce_seconds, not both: a debounced job is replaced while "
            "queued, a unique one is kept."
        )
    if debounce_seconds is not None and run_at is not None:
        raise InvalidJobOptionsError(
            "debounce_seconds sets run_at (now + debounce_seconds); do not give run_at or delay."
        )
    if debounce_seconds is not None:
        run_at = timezone.now() + timedelta(seconds=debounce_seconds)
    values, encoded = call_values(
        path, args, kwargs, run_at=run_at, idempotency_key=idempotency_key, **options
    )
    from . import engine  # the engine imports models: not at this module's import

    if debounce_seconds is not None:
        key = values.pop("idempotency_key") or derived_key(values, None)
        job, inserted = engine.debounce({**values, "debounce_key": key}, encoded)
    else:
        values["idempotency_key"] = values["idempotency_key"] or derived_key(values, encoded)
        assert unique_for is not None
        job, inserted = engine.insert_unique(values, encoded, unique_for)
    if inserted:
        from .models import Job

        if job_enqueued.has_listeners(Job):
            job_enqueued.send(sender=Job, job=job)
    return job


def derived_key(values: Mapping[str, Any], encoded: Mapping[str, str] | None) -> str:
    """Return the key a unique or debounced job gets when none is given.

    ``unique:`` then a SHA-256 of the task path, the queue and (for ``unique_for``: ``encoded``
    given) the arguments as canonical JSON (keys sorted), so equal calls get equal keys however
    their kwargs were ordered. Debounce leaves the arguments out: its point is to replace them.

    >>> derived_key({"task_path": "app.jobs.sync", "queue": "default"}, None)[:19]
    'unique:3f320ffc0466'
    """
    parts = [values["task_path"], values["queue"]]
    if encoded is not None:
        parts += [_canonical(encoded["args"]), _canonical(encoded["kwargs"])]
    digest = hashlib.sha256("\x00".join(parts).encode()).hexdigest()
    return f"unique:{digest}"


def _canonical(text: str) -> str:
    return json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))


def call_values(
    path: str,
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    *,
    queue: str | None,
    priority: int | None,
    run_at: datetime | None,
    max_attempts: int | None,
    timeout_seconds: float | None,
    idempotency_key: str | None,
    backoff_base_seconds: float | None = None,
    backoff_max_seconds: float | None = None,
    concurrency_key: str | None = None,
    concurrency_limit: int | None = None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """Return the validated field values of a call of ``path``, and its JSON texts; no SQL.

    The first dict maps ``Job`` field names to values (``engine.insert_call``'s ``values``),
    the second holds the ``args`` and ``kwargs`` JSON texts. Raises ``SerializationError``
    for arguments that are not ``jsonb``-safe JSON or are over
    ``DJANGO_JOBS["MAX_ARGUMENTS_BYTES"]``, ``InvalidJobOptionsError`` for a bad option.
    """
    args_json, kwargs_json = validation.encode_call(
        args, kwargs, max_bytes=jobs_settings.MAX_ARGUMENTS_BYTES
    )
    values = dict(
        options(
            queue,
            priority,
            max_attempts,
            timeout_seconds,
            backoff_base_seconds,
            backoff_max_seconds,
        )
    )
    now = timezone.now()
    values["task_path"] = validation.check_task_path(path)
    values["idempotency_key"] = validation.check_idempotency_key(idempotency_key)
    values["concurrency_key"], values["concurrency_limit"] = validation.resolve_concurrency(
        concurrency_key, concurrency_limit, values["task_path"]
    )
    values["enqueued_at"] = now
    values["run_at"] = now if run_at is None else validation.check_run_at(run_at)
    return values, {"args": args_json, "kwargs": kwargs_json}


def options(
    queue: Any,
    priority: Any,
    max_attempts: Any,
    timeout_seconds: Any,
    backoff_base_seconds: Any,
    backoff_max_seconds: Any,
) -> tuple[tuple[str, Any], ...]:
    """Return the validated options of a job as ``(field name, value)`` pairs; no SQL.

    ``None`` takes the ``DJANGO_JOBS`` default, read now (at enqueue), never at import. The
    validators are pure functions of their value and the settings, so results are cached per
    options (``typed``: ``True`` is not taken for ``1``) until ``DJANGO_JOBS`` changes; a bad
    value raises ``InvalidJobOptionsError`` every time (errors are not cached).
    """
    given: tuple[Any, ...] = (queue, priority, max_attempts, timeout_seconds)
    given += (backoff_base_seconds, backoff_max_seconds)
    try:
        hash(given)
    except TypeError:  # an unhashable (so invalid) value: let its validator say what is wrong
        return _validated_options.__wrapped__(*given)
    return _validated_options(*given)


@functools.lru_cache(maxsize=256, typed=True)
def _validated_options(
    queue: str | None,
    priority: int | None,
    max_attempts: int | None,
    timeout_seconds: float | None,
    backoff_base_seconds: float | None,
    backoff_max_seconds: float | None,
) -> tuple[tuple[str, Any], ...]:
    return (
        (
            "queue",
            validation.check_queue(
                jobs_settings.DEFAULT_QUEUE if queue is None else queue, jobs_settings.QUEUES
            ),
        ),
        (
            "priority",
            validation.check_priority(
                jobs_settings.DEFAULT_PRIORITY if priority is None else priority
            ),
        ),
        (
            "max_attempts",
            validation.check_max_attempts(
                jobs_settings.MAX_ATTEMPTS if max_attempts is None else max_attempts
            ),
        ),
        ("timeout_seconds", validation.check_timeout_seconds(timeout_seconds)),
        (
            "backoff_base_seconds",
            validation.check_backoff_seconds(backoff_base_seconds, "backoff_base_seconds"),
        ),
        (
            "backoff_max_seconds",
            validation.check_backoff_seconds(backoff_max_seconds, "backoff_max_seconds"),
        ),
    )


@receiver(setting_changed)
def _forget_options(*, setting: str, **kwargs: Any) -> None:
    if setting == "DJANGO_JOBS":
        _validated_options.cache_clear()


def enqueue_calls(
    path: str,
    calls: Iterable[Sequence[Any] | Mapping[str, Any]],
    *,
    queue: str | None = None,
    priority: int | None = None,
    run_at: datetime | None = None,
    max_attempts: int | None = None,
    timeout_seconds: float | None = None,
    concurrency_key: str | None = None,
    concurrency_limit: int | None = None,
) -> list[int]:
    """Enqueue one job of ``path`` per item of ``calls``, with shared options; return the ids.

    Each item is a tuple or list of positional arguments, or a dict of keyword arguments. Every
    item is validated before any SQL (``SerializationError`` or ``InvalidJobOptionsError``
    naming the item); rows go in batches of ``BULK_BATCH_SIZE`` inside one transaction (the
    caller's, or one of its own), so all jobs commit or none do. ``job_enqueued`` is not sent.
    Ids are in the order of ``calls``.
    """
    template, _ = call_values(
        path,
        (),
        {},
        queue=queue,
        priority=priority,
        run_at=run_at,
        max_attempts=max_attempts,
        timeout_seconds=timeout_seconds,
        idempotency_key=None,
        concurrency_key=concurrency_key,
        concurrency_limit=concurrency_limit,
    )
    from . import engine  # the engine imports models: not at this module's import

    encoded = [_encode_item(index, call) for index, call in enumerate(calls)]
    if not encoded:
        return []
    ids: list[int] = []
    with transaction.atomic():
        for start in range(0, len(encoded), BULK_BATCH_SIZE):
            ids += engine.insert_jobs(template, encoded[start : start + BULK_BATCH_SIZE])
    return ids


def _encode_item(index: int, call: Any) -> tuple[str, str]:
    args: Sequence[Any]
    kwargs: Mapping[str, Any]
    kind = type(call)
    if kind is tuple or kind is list:
        args, kwargs = call, {}
    elif kind is dict:
        args, kwargs = (), call
    elif isinstance(call, str | bytes) or not isinstance(call, Sequence | Mapping):
        raise InvalidJobOptionsError(
            f"Item {index} of calls is {type(call).__name__} {call!r:.40}; each item must be "
            "a tuple or list of positional arguments or a dict of keyword arguments, e.g. "
            "[('a@example.com',), ('b@example.com',)]."
        )
    else:
        args, kwargs = ((), call) if isinstance(call, Mapping) else (call, {})
    try:
        return validation.encode_call(args, kwargs, max_bytes=jobs_settings.MAX_ARGUMENTS_BYTES)
    except SerializationError as exc:
        raise SerializationError(f"Item {index} of calls: {exc}") from exc
