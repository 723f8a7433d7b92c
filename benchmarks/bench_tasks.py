"""The tasks ``compare.py`` runs: each one as a django-jobs ``@job`` and as a ``@task``.

Import only after Django is set up: ``@task`` checks its backend at decoration time.
"""

from __future__ import annotations

import time

from django.tasks import task

from django_jobs import job
from django_jobs.worker.memory import rss_bytes


@job
def jobs_noop() -> None:
    """Do nothing: the drain measures the queue, not the work."""


@job
def jobs_now() -> float:
    """Return ``time.time()`` when the job starts, for pickup latency."""
    return time.time()


@job
def jobs_rss() -> int:
    """Return the worker process's resident memory in bytes."""
    return rss_bytes()


@task
def tasks_noop() -> None:
    """Do nothing: the drain measures the queue, not the work."""


@task
def tasks_now() -> float:
    """Return ``time.time()`` when the task starts, for pickup latency."""
    return time.time()


@task
def tasks_rss() -> int:
    """Return the worker process's resident memory in bytes."""
    return rss_bytes()
