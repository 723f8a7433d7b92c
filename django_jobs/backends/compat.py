"""The ``django.tasks`` names this backend uses, from Django 6.0+ or the ``django-tasks`` backport.

Django 6.0 ships ``django.tasks``; on Django 5.2 the same API comes from the ``django-tasks``
package (``pip install "django-durable-jobs[tasks]"``), whose only differences here are two
exception names.
"""

from __future__ import annotations

from typing import Any

try:
    from django.tasks import Task, TaskContext, TaskResult, TaskResultStatus, task_backends
    from django.tasks.backends.base import BaseTaskBackend
    from django.tasks.base import TaskError
    from django.tasks.exceptions import (
        InvalidTask,
        InvalidTaskBackend,
        TaskResultDoesNotExist,
        TaskResultMismatch,
    )
    from django.tasks.signals import task_enqueued, task_finished, task_started
except ImportError:
    try:
        from django_tasks import (  # type: ignore[no-redef]
            TaskContext,
            TaskResult,
            TaskResultStatus,
            task_backends,
        )
        from django_tasks.backends.base import BaseTaskBackend  # type: ignore[no-redef]
        from django_tasks.base import Task, TaskError  # type: ignore[no-redef]
        from django_tasks.exceptions import (  # type: ignore[no-redef]
            InvalidTaskBackendError as InvalidTaskBackend,
        )
        from django_tasks.exceptions import (  # type: ignore[no-redef]
            InvalidTaskError as InvalidTask,
        )
        from django_tasks.exceptions import (  # type: ignore[no-redef]
            TaskResultDoesNotExist,
            TaskResultMismatch,
        )
        from django_tasks.signals import (  # type: ignore[no-redef]
            task_enqueued,
            task_finished,
            task_started,
        )
    except ImportError as exc:
        raise ImportError(
            "django_jobs.backends.JobsBackend needs django.tasks: use Django 6.0 or later, or "
            'install the backport on Django 5.2 with pip install "django-durable-jobs[tasks]".'
        ) from exc

__all__ = [
    "BaseTaskBackend",
    "InvalidTask",
    "InvalidTaskBackend",
    "Task",
    "TaskContext",
    "TaskError",
    "TaskResult",
    "TaskResultDoesNotExist",
    "TaskResultMismatch",
    "TaskResultStatus",
    "task_backends",
    "task_enqueued",
    "task_finished",
    "task_started",
]


def set_frozen(obj: Any, **values: Any) -> None:
    """Set attributes of frozen dataclass ``obj``, as Django's own backends do with TaskResult."""
    for name, value in values.items():
        object.__setattr__(obj, name, value)
