"""django-jobs: durable background jobs for Django, stored in PostgreSQL through the ORM.

The public API: ``job`` (decorator), ``enqueue``/``aenqueue``, ``Task``, ``JobContext``,
``get_status``, ``chain``/``group``/``signature``/``get_workflow_status``,
``pause_queue``/``resume_queue``/``paused_queues``, ``update_queued``, ``Snooze``,
``cancel_requested``/``check_cancelled`` (inside a running job) and the exceptions. Importing
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
    SnoozeLimitError,
    UnknownTaskError,
    WorkerLostError,
)
from .snooze import Snooze
from .task import Task, aenqueue, enqueue, enqueue_many, job
from .workflows import Signature, achain, agroup, chain, group, signature

if TYPE_CHECKING:
    from .context import JobContext
    from .pause import pause_queue, paused_queues, resume_queue
    from .status import get_status, get_workflow_status
    from .update import update_queued

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
    "Signature",
    "Snooze",
    "SnoozeLimitError",
    "Task",
    "UnknownTaskError",
    "WorkerLostError",
    "__version__",
    "achain",
    "aenqueue",
    "agroup",
    "cancel_requested",
    "chain",
    "check_cancelled",
    "enqueue",
    "enqueue_many",
    "get_status",
    "get_workflow_status",
    "group",
    "job",
    "pause_queue",
    "paused_queues",
    "resume_queue",
    "signature",
    "update_queued",
]

_LAZY = {
    "JobContext": "context",
    "get_status": "status",
    "get_workflow_status": "status",
    "pause_queue": "pause",
    "paused_queues": "pause",
    "resume_queue": "pause",
    "update_queued": "update",
}


def __getattr__(name: str) -> Any:
    # These import models, which need Django's app registry: defer them to first use so that
    # Django can import this package while it populates the registry.
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'django_jobs' has no attribute {name!r}")
