"""``@job``: a module-level function with job defaults, enqueued with ``.enqueue()``.

The shape follows ``django.tasks.Task``: a frozen object that ``using()`` copies with other options.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, overload

from asgiref.sync import sync_to_async

from . import registry
from .enqueue import (
    check_max_attempts,
    check_priority,
    check_timeout,
    enqueue_job,
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

    @property
    def path(self) -> str:
        """The dotted path workers import this task by. Raises ``InvalidTaskError`` if none."""
        return registry.task_path(self.func)

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
    ) -> Task:
        """Return a copy with the given options replaced; ``delay`` is seconds or a timedelta.

        Raises ``InvalidJobOptionsError`` for both ``run_at`` and ``delay``, or a bad value.
        """
        changes: dict[str, Any] = {
            "run_at": resolve_run_at(run_at, delay),
            "priority": priority,
            "queue": queue,
            "idempotency_key": idempotency_key,
            "max_attempts": max_attempts,
            "timeout_seconds": timeout_seconds,
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
        }

    def enqueue(self, *args: Any, **kwargs: Any) -> Job:
        """Enqueue a job that calls this task with ``args`` and ``kwargs``; return the ``Job``.

        One INSERT in the caller's transaction; see ``django_jobs.enqueue`` for the errors.
        """
        return enqueue_job(self.path, args, kwargs, **self.job_options())

    async def aenqueue(self, *args: Any, **kwargs: Any) -> Job:
        """Async twin of ``enqueue``."""
        return await sync_to_async(self.enqueue)(*args, **kwargs)


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
) -> Task | Callable[[Callable[..., Any]], Task]:
    """Mark a module-level function as a task: ``@job`` or ``@job(queue="mail", priority=10)``.

    Options are checked at decoration time (``InvalidJobOptionsError``); queue membership in
    ``DJANGO_JOBS["QUEUES"]`` is checked at enqueue time, when settings are surely loaded.
    """

    def decorate(f: Callable[..., Any]) -> Task:
        if priority is not None:
            check_priority(priority)
        if max_attempts is not None:
            check_max_attempts(max_attempts)
        check_timeout(timeout_seconds)
        return Task(
            func=f,
            queue=queue,
            priority=priority,
            max_attempts=max_attempts,
            timeout_seconds=timeout_seconds,
            takes_context=takes_context,
        )

    return decorate(func) if func is not None else decorate


def as_task(obj: Any) -> Task:
    """Return ``obj`` as a ``Task``: a ``Task`` itself, a function, or a dotted path to either.

    Raises ``UnknownTaskError`` for a path that does not import, ``InvalidTaskError`` for a callable
    that is not a module-level function.
    """
    if isinstance(obj, Task):
        return obj
    if isinstance(obj, str):
        from django.utils.module_loading import import_string

        registry.resolve(obj)  # raises UnknownTaskError with advice
        found = import_string(obj)
        return found if isinstance(found, Task) else Task(func=found)
    registry.task_path(obj)  # raises InvalidTaskError with advice
    return Task(func=obj)
