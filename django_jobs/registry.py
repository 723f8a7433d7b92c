"""Task path <-> callable.

A job stores its task as a dotted path (``"app.jobs.send_welcome"``) and the worker imports it
again, so only module-level callables can be tasks. Both directions live here, with the errors that
say what to do when a path or a callable does not fit.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils.module_loading import import_string

from .exceptions import InvalidTaskError, UnknownTaskError


@dataclass(frozen=True, slots=True)
class Target:
    """What the worker calls for a task path.

    ``make_context``, when set, builds the first argument from the claimed ``Job``: a
    ``JobContext`` for ``@job(takes_context=True)``, a ``TaskContext`` for ``django.tasks``.
    """

    func: Callable[..., Any]
    make_context: Callable[[Any], Any] | None = None


def task_path(func: Callable[..., Any]) -> str:
    """Return the dotted path under which ``func`` can be imported again.

    Raises ``InvalidTaskError`` when ``func`` is a lambda, a nested function, a method, or anything
    that importing its module and looking up its name would not give back.
    """
    module = getattr(func, "__module__", None)
    qualname = getattr(func, "__qualname__", None)
    if not callable(func) or not module or not qualname:
        raise InvalidTaskError(f"{func!r} is not a function; tasks are module-level functions.")
    if "<" in qualname or "." in qualname or module == "__main__":
        raise InvalidTaskError(
            f"{module}.{qualname} is not a module-level function of an importable module, so a "
            "worker could not import it. Define the task at the top level of a module."
        )
    path = f"{module}.{qualname}"
    try:
        found = import_string(path)
    except ImportError as exc:
        raise InvalidTaskError(f"{path} cannot be imported back ({exc}).") from exc
    if _unwrap(found) is not _unwrap(func):
        raise InvalidTaskError(
            f"{path} names another object than the function given; tasks must be reachable by "
            "their module and name."
        )
    return path


@functools.lru_cache(maxsize=1024)
def resolve(path: str) -> Target:
    """Import the task at dotted ``path`` and return what the worker should call.

    Accepts plain functions, ``@django_jobs.job`` tasks and ``django.tasks`` tasks. Raises
    ``UnknownTaskError`` when the path does not import or names something that is not callable.
    Successful look-ups are cached for the life of the process (a worker never reloads code);
    failures are not, so a path is tried again on its next job.
    """
    try:
        found = import_string(path)
    except ImportError as exc:
        raise UnknownTaskError(
            f"No task at {path!r} ({exc}). Check the spelling, that its module imports without "
            "error on the worker, and that the worker runs the same code as the enqueuer."
        ) from exc
    func = _unwrap(found)
    if not callable(func):
        raise UnknownTaskError(f"{path!r} names {type(found).__name__}, which is not callable.")
    if not getattr(found, "takes_context", False):
        return Target(func=func)
    if is_django_task(found):
        from .backends.context import django_task_context

        return Target(func=func, make_context=django_task_context)
    from .context import JobContext

    return Target(func=func, make_context=JobContext.for_job)


def is_django_task(obj: Any) -> bool:
    """Return whether ``obj`` is a ``django.tasks`` (or ``django_tasks`` backport) ``Task``.

    Subclasses count: ``django_jobs.backends.JobsTask`` is one.
    """
    return any(
        cls.__module__.startswith(("django.tasks", "django_tasks")) and cls.__name__ == "Task"
        for cls in type(obj).__mro__
    )


def is_coroutine(func: Callable[..., Any]) -> bool:
    """Return whether calling ``func`` gives a coroutine to await."""
    return inspect.iscoroutinefunction(func)


def _unwrap(obj: Any) -> Any:
    # @job and django.tasks' @task both keep the function in ``func``.
    func = getattr(obj, "func", None)
    return func if callable(func) else obj
