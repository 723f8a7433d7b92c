"""``@job``: a module-level function registered as a task, enqueued with ``.enqueue()``.

The shape follows ``django.tasks.Task``: a frozen object that ``using()`` copies with other options.
``enqueue(task, ...)`` and ``enqueue_many`` take a task, its function, or its dotted path; they
live here, above ``django_jobs.enqueue`` (which validates and inserts), so neither module imports
the other's caller.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, overload

from asgiref.sync import sync_to_async

from . import registry
from .enqueue import enqueue_calls, enqueue_job
from .exceptions import InvalidJobOptionsError, InvalidTaskError, UnknownTaskError
from .validation import (
    check_concurrency_key,
    check_concurrency_limit,
    check_debounce_seconds,
    check_idempotency_key,
    check_max_attempts,
    check_priority,
    check_queue_name,
    check_timeout_seconds,
    check_unique_for,
    resolve_run_at,
)

if TYPE_CHECKING:
    from .models import Job


@dataclasses.dataclass(frozen=True, slots=True)
class Task:
    """A task function with the options its jobs get.

    ``None`` options take the ``DJANGO_JOBS`` defaults when a job is enqueued. ``takes_context``
    tasks receive a ``django_jobs.context.JobContext`` as their first argument. Calling the task
    calls the function directly, in this process, without a job.
    """

    func: Callable[..., Any]
    queue: str | None = None
    priority: int | None = None
    max_attempts: int | None = None
    timeout_seconds: float | None = None
    takes_context: bool = False
    run_at: datetime | None = None
    idempotency_key: str | None = None
    unique_for: float | None = None
    debounce_seconds: float | None = None
    concurrency_key: str | None = None
    concurrency_limit: int | None = None

    @property
    def path(self) -> str:
        """The dotted path workers look this task up by.

        Raises ``InvalidTaskError`` if the function cannot be imported back by its path, or is
        not a registered task (see ``django_jobs.registry``).
        """
        path = registry.task_path(self.func)
        try:
            found = registry.load(path)
        except UnknownTaskError as exc:
            raise InvalidTaskError(str(exc)) from None
        if getattr(found, "func", found) is not self.func:
            raise InvalidTaskError(f"{path} names another task than this one. {_HOW}")
        return path

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.func(*args, **kwargs)

    def using(
        self,
        *,
        run_at: datetime | None = None,
        delay: float | timedelta | None = None,
        priority: int | None = None,
        queue: str | None = None,
        idempotency_key: str | None = None,
        max_attempts: int | None = None,
        timeout_seconds: float | None = None,
        unique_for: float | None = None,
        debounce_seconds: float | None = None,
        concurrency_key: str | None = None,
        concurrency_limit: int | None = None,
    ) -> Task:
        """Return a copy with the given options replaced; ``delay`` is seconds or a timedelta.

        ``unique_for`` (seconds): enqueueing returns the job holding the same key while it is
        queued or running, or done within that many seconds. ``debounce_seconds``: enqueueing
        replaces the arguments of the queued job holding the key and pushes its ``run_at`` to
        now + that many seconds. Without ``idempotency_key`` either derives a key from the task
        and queue (and, for ``unique_for``, the arguments). ``concurrency_key`` groups jobs of
        which at most ``concurrency_limit`` (this call's, else the task's
        ``@job(concurrency_limit=...)``) run at once across all workers.

        Raises ``InvalidJobOptionsError`` for both ``run_at`` and ``delay``, or a bad value.
        Whether ``queue`` is in ``DJANGO_JOBS["QUEUES"]`` is checked at enqueue time.
        """
        changes: dict[str, Any] = {
            "run_at": resolve_run_at(run_at, delay),
            "priority": None if priority is None else check_priority(priority),
            "queue": None if queue is None else check_queue_name(queue),
            "idempotency_key": check_idempotency_key(idempotency_key),
            "max_attempts": None if max_attempts is None else check_max_attempts(max_attempts),
            "timeout_seconds": check_timeout_seconds(timeout_seconds),
            "unique_for": check_unique_for(unique_for),
            "debounce_seconds": check_debounce_seconds(debounce_seconds),
            "concurrency_key": check_concurrency_key(concurrency_key),
            "concurrency_limit": check_concurrency_limit(concurrency_limit),
        }
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def job_options(self) -> dict[str, Any]:
        """Return this task's options as ``enqueue_job`` keyword arguments (None: the default)."""
        return {
            "queue": self.queue,
            "priority": self.priority,
            "run_at": self.run_at,
            "max_attempts": self.max_attempts,
            "timeout_seconds": self.timeout_seconds,
            "idempotency_key": self.idempotency_key,
            "unique_for": self.unique_for,
            "debounce_seconds": self.debounce_seconds,
            "concurrency_key": self.concurrency_key,
            "concurrency_limit": self.concurrency_limit,
        }

    def enqueue(self, *args: Any, **kwargs: Any) -> Job:
        """Enqueue a job that calls this task with ``args`` and ``kwargs``; return the ``Job``.

        One INSERT in the caller's transaction; see ``django_jobs.enqueue`` for the errors.
        """
        return enqueue_job(self.path, args, kwargs, **self.job_options())

    async def aenqueue(self, *args: Any, **kwargs: Any) -> Job:
        """Async twin of ``enqueue``."""
        return await sync_to_async(self.enqueue)(*args, **kwargs)

    def s(self, *args: Any, **kwargs: Any) -> Signature:
        """Return a signature of this task: ``args``, ``kwargs`` and its options, not enqueued;
        a step of ``django_jobs.chain`` or a member of ``django_jobs.group``. No SQL.

        Named after Celery's ``task.s()``, with its meaning: a chain's next step gets the previous
        result as its first argument. (Django's ``Task.call()`` runs a task at once; this does
        not run anything.)
        """
        return Signature(self, args, dict(kwargs))


@dataclasses.dataclass(frozen=True, slots=True)
class Signature:
    """A task with its arguments and options, not enqueued yet: one job of a workflow.

    Made by ``task.s(*args, **kwargs)`` (options through ``task.using(...).s(...)``), as in
    Celery, whose signatures these are.
    """

    task: Task
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)


_HOW = registry.HOW_TO_REGISTER


@overload
def job(func: Callable[..., Any], /) -> Task: ...
@overload
def job(
    *,
    queue: str | None = ...,
    priority: int | None = ...,
    max_attempts: int | None = ...,
    timeout_seconds: float | None = ...,
    takes_context: bool = ...,
    unique_for: float | None = ...,
    debounce_seconds: float | None = ...,
    concurrency_limit: int | None = ...,
) -> Callable[[Callable[..., Any]], Task]: ...
def job(
    func: Callable[..., Any] | None = None,
    /,
    *,
    queue: str | None = None,
    priority: int | None = None,
    max_attempts: int | None = None,
    timeout_seconds: float | None = None,
    takes_context: bool = False,
    unique_for: float | None = None,
    debounce_seconds: float | None = None,
    concurrency_limit: int | None = None,
) -> Task | Callable[[Callable[..., Any]], Task]:
    """Register a module-level function as a task: ``@job`` or ``@job(queue="mail", priority=10)``.

    ``concurrency_limit``: at most this many of the task's jobs run at once across all workers,
    per ``concurrency_key`` given in ``using()`` (the whole task shares one key without it).

    Options are checked at decoration time (``InvalidJobOptionsError``); whether ``queue`` is in
    ``DJANGO_JOBS["QUEUES"]`` is checked by ``manage.py check`` (django_jobs.E301) and at
    enqueue time. ``unique_for`` and ``debounce_seconds`` are as for ``Task.using``. The task
    is registered under its dotted path, the one its jobs store; a function that is not at a
    module's top level is not registered, and enqueueing it raises ``InvalidTaskError``.
    """
    if queue is not None:
        check_queue_name(queue)
    if priority is not None:
        check_priority(priority)
    if max_attempts is not None:
        check_max_attempts(max_attempts)
    check_timeout_seconds(timeout_seconds)
    check_unique_for(unique_for)
    check_debounce_seconds(debounce_seconds)
    check_concurrency_limit(concurrency_limit)

    def decorate(f: Callable[..., Any]) -> Task:
        task = Task(
            func=f,
            queue=queue,
            priority=priority,
            max_attempts=max_attempts,
            timeout_seconds=timeout_seconds,
            takes_context=takes_context,
            unique_for=unique_for,
            debounce_seconds=debounce_seconds,
            concurrency_limit=concurrency_limit,
        )
        # A nested or __main__ function is not registered: callable here, refused at enqueue.
        with contextlib.suppress(InvalidTaskError):
            registry.register(registry.module_level_path(f), task)
        return task

    return decorate(func) if func is not None else decorate


def as_task(obj: Any) -> Task:
    """Return ``obj`` as a ``Task``: a ``Task`` itself, a function, or a dotted path to either.

    Raises ``UnknownTaskError`` for a path that names no registered task, ``InvalidTaskError``
    for a callable that is not a module-level, registered task (see ``django_jobs.registry``).
    """
    if isinstance(obj, Task):
        return obj
    if isinstance(obj, str):
        found = registry.load(obj)
        _refuse_other_kinds(found)
        return found if isinstance(found, Task) else Task(func=found)
    _refuse_other_kinds(obj)
    path = registry.task_path(obj)  # raises InvalidTaskError with advice
    try:
        found = registry.load(path)
    except UnknownTaskError as exc:
        raise InvalidTaskError(str(exc)) from None
    return found if isinstance(found, Task) else Task(func=found)


def _refuse_other_kinds(obj: Any) -> None:
    kind = registry.kind_of(obj)
    if kind is not None:
        raise InvalidTaskError(
            f"{obj!r:.80} is a {kind.name} task: enqueue it through its own API "
            "(task.enqueue(...)), so that its backend, options and results apply."
        )


def enqueue(task: Any, *args: Any, **kwargs: Any) -> Job:
    """Enqueue ``task(*args, **kwargs)`` with its defaults and return the saved ``Job``.

    ``task`` is an ``@django_jobs.job`` task, a plain function that ``DJANGO_JOBS["TASK_MODULES"]``
    allows, or the dotted path of either. For other options (``run_at``, ``priority``...) use
    ``task.using(...).enqueue(...)``. Runs one INSERT on the default database in the caller's
    transaction, if any. Raises ``InvalidTaskError``, ``UnknownTaskError``,
    ``SerializationError`` or ``InvalidJobOptionsError`` on bad input, having run no SQL.
    """
    return as_task(task).enqueue(*args, **kwargs)


async def aenqueue(task: Any, *args: Any, **kwargs: Any) -> Job:
    """Async twin of ``enqueue``; same arguments, result and errors."""
    return await sync_to_async(enqueue)(task, *args, **kwargs)


def enqueue_many(task: Any, calls: Iterable[Sequence[Any] | Mapping[str, Any]]) -> list[int]:
    """Enqueue one job per item of ``calls`` in few INSERT statements; return the new job ids.

    ``task`` is as for ``enqueue`` (options through ``task.using(...)``, except an idempotency key,
    which cannot be shared by many jobs). Each item of ``calls`` is a tuple or list of positional
    arguments, or a dict of keyword arguments. Every item is validated before anything is
    inserted, all in the caller's transaction (or one of their own), so all jobs commit or none
    do. ``job_enqueued`` is not sent per job. Raises as ``enqueue`` does, naming the item at fault.
    """
    spec = as_task(task)
    if spec.idempotency_key is not None:
        raise InvalidJobOptionsError(
            "enqueue_many cannot share one idempotency_key among many jobs; enqueue those jobs "
            "one by one."
        )
    if spec.unique_for is not None or spec.debounce_seconds is not None:
        raise InvalidJobOptionsError(
            "enqueue_many does not take unique_for or debounce_seconds: each job's key is "
            "settled on its own. Enqueue those jobs one by one."
        )
    options = spec.job_options()
    for name in ("idempotency_key", "unique_for", "debounce_seconds"):
        del options[name]
    return enqueue_calls(spec.path, calls, **options)
