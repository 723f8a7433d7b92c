"""Tasks for the cancellation tests: each polls for a cancel request its own way.

A task that should run "until released" waits for a file to appear (``release``, a path): it
needs no database connection of its own, so a worker's slots stay connection-free while they
poll. Every loop is bounded by ``limit_seconds`` so a broken feature fails a test, never hangs it.
"""

from __future__ import annotations

import time
from pathlib import Path

import django_jobs
from django_jobs import JobCancelled, JobContext, job

from .hostile_tasks import BASE_EXCEPTIONS

#: How often the tasks look at the flag (seconds): a tight loop, as the docs allow.
POLL_SECONDS = 0.005


def _released(release: str) -> bool:
    return bool(release) and Path(release).exists()


@job(takes_context=True, max_attempts=5)
def polls_context(context: JobContext, release: str, limit_seconds: float = 120) -> str:
    """Run until ``release`` exists, checking ``context.check_cancelled()`` all the while."""
    deadline = time.monotonic() + limit_seconds
    while time.monotonic() < deadline and not _released(release):
        context.check_cancelled()
        time.sleep(POLL_SECONDS)
    return "finished"


@job(max_attempts=5)
def polls_function(release: str, limit_seconds: float = 120) -> str:
    """The same without a context: ``django_jobs.check_cancelled()`` finds the current job."""
    deadline = time.monotonic() + limit_seconds
    while time.monotonic() < deadline and not _released(release):
        django_jobs.check_cancelled()
        time.sleep(POLL_SECONDS)
    return "finished"


@job(max_attempts=5)
def ignores_request(limit_seconds: float = 60) -> str:
    """Wait until asked to stop, then return normally anyway: the job ends done."""
    deadline = time.monotonic() + limit_seconds
    while time.monotonic() < deadline and not django_jobs.cancel_requested():
        time.sleep(POLL_SECONDS)
    return "asked" if django_jobs.cancel_requested() else "never asked"


@job(max_attempts=5)
def raises_when_asked(name: str, limit_seconds: float = 60) -> str:
    """Wait until asked to stop, then raise ``BASE_EXCEPTIONS[name]`` (or RuntimeError)."""
    deadline = time.monotonic() + limit_seconds
    while time.monotonic() < deadline and not django_jobs.cancel_requested():
        time.sleep(POLL_SECONDS)
    raise BASE_EXCEPTIONS.get(name, RuntimeError)(f"{name} after the cancel request")


@job(max_attempts=5)
def cancels_itself() -> None:
    """Raise ``JobCancelled`` with no request: the task decided to stop; the job is cancelled."""
    raise JobCancelled("nothing left to do")


@job(max_attempts=5)
async def polls_async(limit_seconds: float = 60) -> str:
    """A coroutine: ``cancel_requested()`` works inside it too (a context variable)."""
    import asyncio

    deadline = time.monotonic() + limit_seconds
    while time.monotonic() < deadline:
        if django_jobs.cancel_requested():
            raise JobCancelled("asked, in a coroutine")
        await asyncio.sleep(POLL_SECONDS)
    return "never asked"


@job(timeout_seconds=3, max_attempts=5)
def overruns_ignoring_requests(seconds: float = 10) -> str:
    """Never look at the flag and run past the timeout: the timeout ends it, as cancelled."""
    time.sleep(seconds)
    return "slept"
