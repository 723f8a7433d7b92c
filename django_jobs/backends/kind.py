"""What counts as a ``django.tasks`` task, told without importing ``django.tasks``."""

from __future__ import annotations

from typing import Any


def is_django_task(obj: Any) -> bool:
    """Return whether ``obj`` is a ``django.tasks`` (or ``django_tasks`` backport) ``Task``.

    Subclasses count: ``django_jobs.backends.JobsTask`` is one. Imports nothing, so Django 5.2
    without the backport can ask.

    >>> is_django_task(object())
    False
    """
    return any(
        cls.__module__.startswith(("django.tasks", "django_tasks")) and cls.__name__ == "Task"
        for cls in type(obj).__mro__
    )
