"""Who may read a job's status through ``django_jobs.urls``: the ``STATUS_PERMISSION`` hook;
and who may scrape the queue metrics there: the ``METRICS_PERMISSION`` hook.

The setting is the dotted path of a function ``f(request, job_id) -> bool``. It is called for every
status request, before the job is looked up, so it must not leak whether a job exists: refused
callers get a 403 whatever the id. A hook may instead raise ``django.http.Http404`` to answer as if
the job did not exist, the same 404 an unknown id gets, for sites whose other pages answer a
stranger's ids with 404 too.

The default, ``can_view_job``, asks for the ``django_jobs.view_job`` model permission, the one the
admin's job pages need, so the JSON view shows a job's result and error to exactly the people the
admin would. ``staff_only``, the default before, lets any active staff user see every job. A
project that shows users their own jobs records the owner where it enqueues (in its own table, or
in the job's kwargs) and checks it there: see ``testproject/reports/permissions.py``.

The metrics hook is ``f(request) -> bool``. Its default, ``can_scrape_metrics``, lets in a
scraper presenting ``METRICS_TOKEN`` as a bearer token (Prometheus' ``authorization`` scrape
option), and users holding ``django_jobs.view_job``; with no token set, only those users.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable

from django.http import HttpRequest
from django.utils.module_loading import import_string

from .conf import jobs_settings
from .exceptions import ConfigurationError

StatusPermission = Callable[[HttpRequest, int], bool]
MetricsPermission = Callable[[HttpRequest], bool]

#: The model permission ``can_view_job`` asks for.
VIEW_JOB = "django_jobs.view_job"


def can_view_job(request: HttpRequest, job_id: int) -> bool:
    """Let active users holding ``django_jobs.view_job`` see any job, and nobody else.

    The default hook. Superusers hold every permission; staff status alone is not enough, as it
    is not in the admin either. One permission look-up, cached on the user for the request.
    """
    user = request.user
    return bool(user.is_authenticated and user.is_active and user.has_perm(VIEW_JOB))


def staff_only(request: HttpRequest, job_id: int) -> bool:
    """Let active staff users see any job, and nobody else. The default of django-jobs 0.1."""
    user = request.user
    return bool(user.is_authenticated and user.is_active and user.is_staff)


def can_scrape_metrics(request: HttpRequest) -> bool:
    """Let in a request bearing ``METRICS_TOKEN`` (``Authorization: Bearer <token>``), or an
    active user holding ``django_jobs.view_job``; nobody else.

    The default metrics hook. The token is compared in constant time; with ``METRICS_TOKEN``
    None (the default) no token is accepted.
    """
    token = jobs_settings.METRICS_TOKEN
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer":
        return hmac.compare_digest(given.strip().encode(), str(token).encode())
    user = getattr(request, "user", None)  # None without AuthenticationMiddleware
    return bool(user and user.is_authenticated and user.is_active and user.has_perm(VIEW_JOB))


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


def metrics_permission() -> MetricsPermission:
    """Return the function ``DJANGO_JOBS['METRICS_PERMISSION']`` names.

    Raises ``ConfigurationError`` when the path does not import or names something not callable.
    """
    path = jobs_settings.METRICS_PERMISSION
    try:
        func = import_string(path)
    except (ImportError, TypeError, ValueError) as exc:
        raise ConfigurationError(
            f"DJANGO_JOBS['METRICS_PERMISSION'] {path!r} does not import: {exc}. Give the dotted "
            "path of a function f(request) -> bool."
        ) from exc
    if not callable(func):
        raise ConfigurationError(
            f"DJANGO_JOBS['METRICS_PERMISSION'] {path!r} is not callable. Give the dotted path "
            "of a function f(request) -> bool."
        )
    return func
