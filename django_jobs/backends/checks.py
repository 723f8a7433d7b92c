"""Run the system checks of the ``TASKS`` aliases that use ``JobsBackend``.

Django runs every backend's ``check()`` only once ``django.tasks`` has been imported (the backport:
once ``django_tasks`` is in ``INSTALLED_APPS``), which ``manage.py check`` and ``runworker`` may
never do. This check fills that gap, so a bad ``OPTIONS`` value or a queue that ``DJANGO_JOBS``
refuses stops a deploy instead of the first ``enqueue()``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core import checks


@checks.register()
def check_tasks_backends(app_configs: Iterable[Any] | None = None, **kwargs: Any) -> list[Any]:
    """Return the check messages of every ``JobsBackend`` alias in ``TASKS``."""
    configured = getattr(settings, "TASKS", None) or {}
    aliases = [
        alias
        for alias, params in configured.items()
        if str(params.get("BACKEND", "")).startswith("django_jobs.backends")
    ]
    if not aliases or {"django.tasks.checks", "django_tasks.checks"} & set(sys.modules):
        return []  # nothing to check, or Django's own check runs backend.check() already
    try:
        from .compat import InvalidTaskBackend, task_backends
    except ImportError as exc:
        return [checks.Error(str(exc), id="django_jobs.E203")]
    errors: list[Any] = []
    for alias in aliases:
        try:
            errors.extend(task_backends[alias].check())
        except InvalidTaskBackend as exc:
            errors.append(checks.Error(str(exc), id="django_jobs.E203"))
    return errors
