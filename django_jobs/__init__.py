"""django-jobs: durable background jobs for Django, stored in PostgreSQL through the ORM.

The public API: ``job`` (decorator), ``enqueue``/``aenqueue``, ``Task``, ``JobContext``,
``get_status``, ``pause_queue``/``resume_queue``/``paused_queues``, ``cancel_requested``/
``check_cancelled`` (inside a running job) and the exceptions. Importing
the package reads no settings and touches no models.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# Eager, not behind the module __getattr__ below: polled in tight loops; imports no models.
from .cancellation import cancel_requested, check_cancelled
from .exceptions import (
    ConfigurationError,
    DjangoJobsError,
    InvalidJobOptionsError,
    InvalidTaskError,
    JobCancelled,
    JobNotFoundError,
    JobTimeoutError,
    PermanentError,
    ReplayConflictError,
    SerializationError,
    UnknownTaskError,
    WorkerLostError,
)
from .task import Task, aenqueue, enqueue, enqueue_many, job

if TYPE_CHECKING:
    from .context import JobContext
    from .pause import pause_queue, paused_queues, resume_queue
    from .status import get_status

__version__ = "0.1.0"

__all__ = [
    "ConfigurationError",
    "DjangoJobsError",
    "InvalidJobOptionsError",
    "InvalidTaskError",
    "JobCancelled",
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
    "cancel_requested",
    "check_cancelled",
    "enqueue",
    "enqueue_many",
    "get_status",
    "job",
    "pause_queue",
    "paused_queues",
    "resume_queue",
]

_LAZY = {
    "JobContext": "context",
    "get_status": "status",
    "pause_queue": "pause",
    "paused_queues": "pause",
    "resume_queue": "pause",
}


def __getattr__(name: str) -> Any:
    # These import models, which need Django's app registry: defer them to first use so that
    # Django can import this package while it populates the registry.
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'django_jobs' has no attribute {name!r}")
