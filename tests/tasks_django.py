"""``django.tasks`` tasks for tests/integration/test_tasks_backend.py, on TASKS' JobsBackend.

Written as a user would: ``django.tasks`` on Django 6.x, the ``django_tasks`` backport on 5.2.
"""

import inspect
import os
import time

try:
    from django.tasks import TaskContext, task
except ImportError:
    from django_tasks import TaskContext, task

from .models import Execution

# Django 6.1 and the backport pass extra @task() keywords to the backend's task_class; 6.0 does not.
PER_TASK_OPTIONS = "kwargs" in inspect.signature(task).parameters


@task
def add(a: int, b: int) -> int:
    return a + b


@task
def record(key: str) -> str:
    Execution.objects.create(key=key, worker_pid=os.getpid())
    return key


@task
def always_fails(message: str = "boom") -> None:
    raise RuntimeError(message)


@task(takes_context=True)
def fails_until(context: TaskContext, key: str, succeed_on: int) -> dict:
    Execution.objects.create(key=key, attempt=context.attempt, worker_pid=os.getpid())
    if context.attempt < succeed_on:
        raise ConnectionError(f"attempt {context.attempt} failed on purpose")
    result = context.task_result
    return {
        "attempt": context.attempt,
        "id": result.id,
        "status": str(result.status),
        "worker_ids": result.worker_ids,
        "errors": len(result.errors),
    }


@task
def wait_for_key(started_key: str, release_key: str) -> str:
    """Record ``started_key``, then run until a row with ``release_key`` exists (30 s at most)."""
    Execution.objects.create(key=started_key, worker_pid=os.getpid())
    deadline = time.monotonic() + 30
    while not Execution.objects.filter(key=release_key).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"nobody created {release_key!r}")
        time.sleep(0.02)
    return release_key


@task
def sleeps(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@task
async def async_add(a: int, b: int) -> int:
    return a + b


@task(takes_context=True)
async def async_record(context: TaskContext, key: str) -> int:
    await Execution.objects.acreate(key=key, attempt=context.attempt, worker_pid=os.getpid())
    return context.attempt


@task(backend="once")
def fails_once(message: str) -> None:
    raise ValueError(message)


def not_a_task() -> None:
    """A plain function: jobs of it have no TaskResult."""


if PER_TASK_OPTIONS:

    @task(max_attempts=2, timeout_seconds=7, backoff_base_seconds=0.0, backoff_max_seconds=1.5)
    def fails_twice(message: str) -> None:
        raise KeyError(message)

    @task(concurrency_limit=1)
    def one_at_a_time(n: int) -> int:
        return n


@task
def snoozes_once(key: str) -> str:
    """Snooze the first run for an hour (django-jobs' Snooze, raised from a django.tasks task)."""
    from django_jobs import Snooze

    if not Execution.objects.filter(key=key).exists():
        Execution.objects.create(key=key, worker_pid=os.getpid())
        raise Snooze(3600)
    return key
