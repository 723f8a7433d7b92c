"""Tasks the test suite enqueues. Module level, as every task must be."""

import os
import time

from django_jobs import JobContext, PermanentError, Snooze, job

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


@job(takes_context=True)
def snooze_times(context: JobContext, key: str, times: int, seconds: float) -> int:
    """Record the run; snooze (raising) ``seconds`` on the first ``times`` runs, then succeed."""
    Execution.objects.create(key=key, attempt=context.attempt, worker_pid=os.getpid())
    if context.snoozes < times:
        raise Snooze(seconds)
    return context.snoozes


@job
def returns_snooze(seconds: float) -> Snooze:
    """Snooze by returning the request instead of raising it (always)."""
    return Snooze(seconds)


@job
def snooze_with(seconds: object) -> None:
    """Ask for a snooze of whatever ``seconds`` is: bad values fail the attempt."""
    raise Snooze(seconds)  # type: ignore[arg-type]


@job(takes_context=True)
def snooze_checked(context: JobContext, key: str, times: int, seconds: float) -> int:
    """As ``snooze_times``, but fail (an error on the job) if run before the job's ``run_at``."""
    from django.utils import timezone

    from django_jobs.models import Job

    run_at = Job.objects.values_list("run_at", flat=True).get(id=context.job_id)
    if timezone.now() < run_at:
        raise RuntimeError(f"ran at {timezone.now()} before its run_at {run_at}")
    Execution.objects.create(key=key, attempt=context.attempt, worker_pid=os.getpid())
    if context.snoozes < times:
        raise Snooze(seconds)
    return context.snoozes


@job(unique_for=3600)
def sync_account(account_id: int) -> int:
    """Unique per account for an hour after it ran (its key derived from the arguments)."""
    return account_id


@job(debounce_seconds=60)
def reindex(document_ids: list[int]) -> list[int]:
    """Debounced: calls within a minute of each other make one job with the latest arguments."""
    return document_ids


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


@job(concurrency_limit=1)
def limited_sleep(seconds: float = 0.0) -> float:
    """At most one runs at once per concurrency key (``using(concurrency_key=...)``)."""
    time.sleep(seconds)
    return seconds


@job
def enqueue_unique_sync(key: str) -> int:
    """Enqueue ``sync_account(42)`` (unique for an hour; ahead of the queue, so it is done while
    the other enqueuers still run) from a worker; record the id it got."""
    found = sync_account.using(priority=50).enqueue(42).id
    Execution.objects.create(key=key, attempt=found, worker_pid=os.getpid())
    return found


@job(max_attempts=1, takes_context=True)
def priority_holds(context: JobContext, seconds: float) -> int:
    """Fail if this running job's priority changes while it runs (an update must not touch it)."""
    from django_jobs.models import Job

    row = Job.objects.filter(id=context.job_id)
    before = row.values_list("priority", flat=True).get()
    time.sleep(seconds)
    after = row.values_list("priority", flat=True).get()
    if after != before:
        raise RuntimeError(f"priority changed from {before} to {after} while running")
    return before


@job
def slow_square(n: int, seconds: float) -> int:
    """A group member that takes a while: records each run under ``square-<n>``."""
    Execution.objects.create(key=f"square-{n}", worker_pid=os.getpid())
    time.sleep(seconds)
    return n * n
