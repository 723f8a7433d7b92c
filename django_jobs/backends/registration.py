"""Register ``django.tasks`` tasks with the core's task registry, at start-up.

``DjangoJobsConfig.ready()`` calls ``register()``: from then on ``registry.load`` accepts a
``django.tasks`` ``Task`` found at a job's path, and ``takes_context`` ones get a ``TaskContext``.
The core never imports this package; it only takes the registration. Importing this module needs
no ``django.tasks`` (Django 5.2 without the ``django-tasks`` backport).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import registry
from .kind import is_django_task

if TYPE_CHECKING:
    from ..models import Job

KIND = "django.tasks"


def register() -> None:
    """Make ``django.tasks`` tasks runnable by django-jobs' workers; idempotent."""
    registry.register_task_kind(KIND, is_django_task, make_context)


def make_context(job: Job) -> Any:
    """Return the ``TaskContext`` a ``takes_context`` django task receives for ``job``."""
    from .context import django_task_context

    return django_task_context(job)
