"""``jobs_settings``: the ``DJANGO_JOBS`` setting laid over django-jobs' defaults.

Read lazily on first use and forgotten when a test changes ``DJANGO_JOBS`` (the ``setting_changed``
signal, as django-filter's ``conf.py`` does), so nothing is read at import time. Values are checked
by the system checks in ``django_jobs.checks``; this module only looks them up.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

DEFAULTS: dict[str, Any] = {
    # Queue names a job may use; None allows any name.
    "QUEUES": None,
    "DEFAULT_QUEUE": "default",
    "DEFAULT_PRIORITY": 0,
    # Attempts a job gets before it is dead-lettered, counting the first run.
    "MAX_ATTEMPTS": 20,
    # Retry delay after attempt n: BACKOFF_BASE_SECONDS * 2**(n-1), capped at BACKOFF_MAX_SECONDS,
    # then shortened by up to BACKOFF_JITTER of itself. The 19 waits between 20 attempts add up
    # to 9 to 11.5 hours.
    "BACKOFF_BASE_SECONDS": 10.0,
    "BACKOFF_MAX_SECONDS": 3600.0,
    "BACKOFF_JITTER": 0.2,
    # How many times one job may snooze (raise or return django_jobs.Snooze); the next snooze
    # fails the attempt with SnoozeLimitError (retried or dead-lettered as any failure). 100
    # lets a task poll for something once a minute for over an hour and a half, and stops a
    # task that snoozes on every run from holding its row forever.
    "MAX_SNOOZES": 100,
    # How long an idle worker waits before looking for ready jobs again.
    "POLL_INTERVAL_SECONDS": 1.0,
    # Where the worker LISTENs for new jobs: a libpq URL or key=value string of a direct (or
    # session-pooled) connection to the default database. None: the default database's settings,
    # unless they lead through a connection pooler (PgBouncer): then the worker only polls.
    "LISTEN_DATABASE_URL": None,
    # A claim is held for LEASE_SECONDS; the worker's heartbeat renews it every HEARTBEAT_SECONDS.
    "LEASE_SECONDS": 60.0,
    "HEARTBEAT_SECONDS": 10.0,
    # Worker writes that a database crash may lose without losing a job (claims, starts and
    # completions: such a job only runs again) commit without waiting for the WAL flush. False
    # makes every worker write wait; see docs/explanation/delivery-guarantees.md.
    "ASYNC_COMMIT": True,
    # On SIGTERM, how long running jobs may take to finish before they are put back in the queue.
    "SHUTDOWN_GRACE_SECONDS": 30.0,
    # Who may read a job's status through django_jobs.urls: a dotted path to f(request, job_id);
    # the default asks for the django_jobs.view_job permission, as the admin's job pages do.
    "STATUS_PERMISSION": "django_jobs.permissions.can_view_job",
    # Who may scrape the queue metrics of django_jobs.urls: a dotted path to f(request); the
    # default takes METRICS_TOKEN as a bearer token, or a user holding django_jobs.view_job.
    "METRICS_PERMISSION": "django_jobs.permissions.can_scrape_metrics",
    # The bearer token a scraper presents (Authorization: Bearer <token>); None: no token works.
    "METRICS_TOKEN": None,
    # Recurring jobs: name -> {"task": ..., "cron": ..., ...}; see docs/reference/settings.md.
    "SCHEDULES": {},
    # Modules whose plain (undecorated) module-level functions may run as tasks: "app.jobs"
    # allows app.jobs and app.jobs.*. Empty: only @job and django.tasks tasks run.
    "TASK_MODULES": (),
    # The largest call (args and kwargs as JSON, UTF-8) and the largest result a job may have,
    # in bytes; None for no limit. 1 MiB keeps a claim of 10 jobs and an admin page light.
    "MAX_ARGUMENTS_BYTES": 1024 * 1024,
    "MAX_RESULT_BYTES": 1024 * 1024,
    # Retention: finished rows older than this (seconds) are deleted by the pruner, which runs in
    # the worker that holds the "pruner" leadership, every PRUNE_INTERVAL_SECONDS. None keeps
    # them forever. Dead jobs are kept by default: someone should look at them first.
    "DONE_RETENTION_SECONDS": 7 * 86_400,
    "CANCELLED_RETENTION_SECONDS": 7 * 86_400,
    "DEAD_RETENTION_SECONDS": None,
    # The scheduler's ledger; the newest row of each schedule is kept whatever its age.
    "SCHEDULE_RUN_RETENTION_SECONDS": 30 * 86_400,
    "PRUNE_INTERVAL_SECONDS": 60.0,
}


class JobsSettings:
    """Attribute access to the effective django-jobs settings, e.g. ``jobs_settings.LEASE_SECONDS``.

    Raises ``AttributeError`` for a name that is not a django-jobs setting.
    """

    def __init__(self) -> None:
        self._cache: dict[str, Any] | None = None

    @property
    def user_settings(self) -> dict[str, Any]:
        """Return ``settings.DJANGO_JOBS`` as a dict; ``{}`` when unset or not a dict.

        A ``DJANGO_JOBS`` that is not a dict is reported by the check django_jobs.E010; until it
        is fixed the defaults apply, so nothing crashes before the check can say so.
        """
        raw = getattr(settings, "DJANGO_JOBS", None)
        return dict(raw) if isinstance(raw, Mapping) else {}

    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"{name!r} is not a django-jobs setting")
        if self._cache is None:
            self._cache = {**DEFAULTS, **self.user_settings}
        return self._cache[name]

    def reload(self) -> None:
        """Forget the cached values; the next look-up reads ``settings.DJANGO_JOBS`` again."""
        self._cache = None


jobs_settings = JobsSettings()


@receiver(setting_changed)
def _reload_on_change(*, setting: str, **kwargs: Any) -> None:
    if setting == "DJANGO_JOBS":
        jobs_settings.reload()
