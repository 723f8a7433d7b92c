"""The tasks ``compare.py`` runs for the two Django tools: a ``@job`` and a ``@task`` of each kind.

Kinds (``benchmarks.peers.base.KINDS``): ``noop`` does nothing; ``mark`` records its start time
under its key (``benchmarks.marks``); ``sleep`` sleeps 50 ms in a plain function; ``asleep``
sleeps 50 ms as an ``async def``. Import only after Django is set up: ``@task`` checks its
backend at decoration time.
"""

from __future__ import annotations

import asyncio
import time

from django.tasks import task

from benchmarks.marks import mark
from django_jobs import job


@job
def jobs_noop() -> None:
    """Do nothing: the drain measures the queue, not the work."""


@job
def jobs_mark(key: str) -> None:
    """Record ``time.time()`` as this job's first line runs, for pickup latency."""
    mark(key)


@job
def jobs_sleep() -> None:
    """Wait 50 ms as I/O would, in the worker's thread."""
    time.sleep(0.05)


@job
async def jobs_asleep() -> None:
    """Wait 50 ms as async I/O would."""
    await asyncio.sleep(0.05)


@task
def tasks_noop() -> None:
    """Do nothing: the drain measures the queue, not the work."""


@task
def tasks_mark(key: str) -> None:
    """Record ``time.time()`` as this task's first line runs, for pickup latency."""
    mark(key)


@task
def tasks_sleep() -> None:
    """Wait 50 ms as I/O would."""
    time.sleep(0.05)


@task
async def tasks_asleep() -> None:
    """Wait 50 ms as async I/O would."""
    await asyncio.sleep(0.05)


JOBS = {"noop": jobs_noop, "mark": jobs_mark, "sleep": jobs_sleep, "asleep": jobs_asleep}
TASKS = {"noop": tasks_noop, "mark": tasks_mark, "sleep": tasks_sleep, "asleep": tasks_asleep}
