"""Backends that let other task APIs run on django-jobs.

``JobsBackend`` is the ``django.tasks`` backend: ``TASKS = {"default": {"BACKEND":
"django_jobs.backends.JobsBackend"}}``. It is imported on first use, so this package imports
without ``django.tasks`` (Django 5.2 without the ``django-tasks`` backport).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .tasks import JobsBackend, JobsTask

__all__ = ["JobsBackend", "JobsTask"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import tasks

        return getattr(tasks, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
