"""Who may read a job's status through ``django_jobs.urls``: the ``STATUS_PERMISSION`` hook.

The setting is the dotted path of a function ``f(request, job_id) -> bool``. It is called for every
status request, before the job is looked up, so it must not leak whether a job exists. A project
that shows users their own jobs records the owner where it enqueues (in its own table, or in the
job's kwargs) and checks it there.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest
from django.utils.module_loading import import_string

from .conf import jobs_settings
from .exceptions import ConfigurationError

StatusPermission = Callable[[HttpRequest, int], bool]


def staff_only(request: HttpRequest, job_id: int) -> bool:
    """Let active staff users see any job, and nobody else. The default hook."""
    user = request.user
    return bool(user.is_authenticated and user.is_active and user.is_staff)


def status_permission() -> StatusPermission:
    """Return the function ``DJANGO_JOBS['STATUS_PERMISSION']`` names.

    Raises ``ConfigurationError`` when the path does not import or names something not callable.
    """
    path = jobs_settings.STATUS_PERMISSION
    try:
        func = import_string(path)
    except (ImportError, TypeError, ValueError) as exc:
        raise ConfigurationError(
            f"DJANGO_JOBS['STATUS_PERMISSION'] {path!r} does not import: {exc}. Give the dotted "
            "path of a function f(request, job_id) -> bool."
        ) from exc
    if not callable(func):
        raise ConfigurationError(
            f"DJANGO_JOBS['STATUS_PERMISSION'] {path!r} is not callable. Give the dotted path of "
            "a function f(request, job_id) -> bool."
        )
    return func
