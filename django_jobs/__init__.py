"""django-jobs: durable background jobs for Django, stored in PostgreSQL through the ORM.

The public API: ``job`` (decorator), ``enqueue``/``aenqueue``, ``Task``, ``JobContext`` and the
exceptions. Everything is imported lazily so that importing the package touches no settings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .exceptions import (
    DjangoJobsError,
    InvalidJobOptionsError,
    InvalidTaskError,
    JobNotFoundError,
    JobTimeoutError,
    PermanentError,
    ReplayConflictError,
    SerializationError,
    UnknownTaskError,
    WorkerLostError,
)

if TYPE_CHECKING:
    from .context import JobContext
    from .enqueue import aenqueue, enqueue
    from .status import get_status
    from .task import Task, job

__version__ = "0.1.0"

__all__ = [
    "DjangoJobsError",
    "InvalidJobOptionsError",
    "InvalidTaskError",
    "JobContext",
    "JobNotFoundError",
    "JobTimeoutError",
    "PermanentError",
    "ReplayConflictError",
    "SerializationError",
    "Task",
    "UnknownTaskError",
    "WorkerLostError",
    "__version__",
    "aenqueue",
    "enqueue",
    "get_status",
    "job",
]

_LAZY = {
    "enqueue": "enqueue",
    "aenqueue": "enqueue",
    "job": "task",
    "Task": "task",
    "JobContext": "context",
    "get_status": "status",
}


def __getattr__(name: str) -> Any:
    # Models import Django's app registry; defer until first use so "import django_jobs" in a
    # settings file or a tasks module is always safe.
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'django_jobs' has no attribute {name!r}")
