"""Tasks the test suite enqueues. Module level, as every task must be."""

import os
import time

from django_jobs import JobContext, PermanentError, job

from .models import Execution


@job
def add(a: int, b: int) -> int:
    return a + b


def undecorated_add(a: int, b: int) -> int:
    """Not a task: this module is not in TASK_MODULES (tests/plain_tasks.py is)."""
    return a + b


@job
def record(key: str) -> str:
    Execution.objects.create(key=key, worker_pid=os.getpid())
    return key


@job(max_attempts=3)
def always_fails(message: str = "boom") -> None:
    raise RuntimeError(message)


@job(max_attempts=5)
def permanent_failure() -> None:
    raise PermanentError("this input can never work")


@job(max_attempts=4, takes_context=True)
def fails_until(context: JobContext, key: str, succeed_on: int) -> int:
    Execution.objects.create(key=key, attempt=context.attempt, worker_pid=os.getpid())
    if context.attempt < succeed_on:
        raise ConnectionError(f"attempt {context.attempt} failed on purpose")
    return context.attempt


@job
def sleep_then_record(key: str, seconds: float) -> str:
    time.sleep(seconds)
    Execution.objects.create(key=key, worker_pid=os.getpid())
    return key


@job(takes_context=True)
def reports_progress(context: JobContext) -> bool:
    return context.set_progress(50, "half way")


@job
async def async_add(a: int, b: int) -> int:
    return a + b


@job
def returns_object() -> object:
    return object()


@job(queue="mail", priority=10)
def send_mail_task(to: str) -> str:
    return to


@job(timeout_seconds=1, max_attempts=2)
def overruns(key: str, seconds: float) -> str:
    time.sleep(seconds)
    Execution.objects.create(key=key, worker_pid=os.getpid())
    return key


@job(max_attempts=5)
def sleep_and_return_pid(key: str, seconds: float) -> int:
    """Record the run, sleep, and return the pid, so tests see which process completed the job."""
    Execution.objects.create(key=key, worker_pid=os.getpid())
    time.sleep(seconds)
    return os.getpid()


@job
def noop() -> None:
    return None


@job(timeout_seconds=1, max_attempts=3, takes_context=True)
def slow_first_attempt(context: JobContext, key: str) -> int:
    if context.attempt == 1:
        time.sleep(2.5)
    Execution.objects.create(key=key, attempt=context.attempt, worker_pid=os.getpid())
    return context.attempt


@job
def square(n: int) -> int:
    """A group member: its result goes into the callback's list."""
    return n * n


@job
def collect(results: list, key: str) -> int:
    """A group callback: records one run under ``key`` with the results, returns their sum."""
    Execution.objects.create(key=key, attempt=len(results), worker_pid=os.getpid())
    return sum(results)


@job
def chain_step(previous: list | None, name: str) -> list:
    """A chain step: appends ``name`` to what the previous step returned (the first gets None)."""
    Execution.objects.create(key=f"step-{name}", worker_pid=os.getpid())
    return [*(previous or []), name]


@job(max_attempts=1)
def fails_until_allowed(key: str) -> str:
    """Dead-letters at once unless an Execution row ``allow-<key>`` exists (then returns key)."""
    if not Execution.objects.filter(key=f"allow-{key}").exists():
        raise PermanentError(f"{key} not allowed yet")
    return key


@job
def slow_square(n: int, seconds: float) -> int:
    """A group member that takes a while: records each run under ``square-<n>``."""
    Execution.objects.create(key=f"square-{n}", worker_pid=os.getpid())
    time.sleep(seconds)
    return n * n
