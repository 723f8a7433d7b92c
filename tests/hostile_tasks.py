"""Hostile tasks for the fault-injection suite (tests/faults): each does what a worker must survive.

Module level and ``@job``-decorated, as every task must be. Tasks that record a run write one
``tests.models.Execution`` row first, so a test can count runs per key.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from django.db import transaction

from django_jobs import JobContext, Snooze, job

from .models import Execution, Order


class Doom(BaseException):
    """A user-defined ``BaseException`` that is not an ``Exception``."""


#: What ``raises_base_exception`` raises, by name.
BASE_EXCEPTIONS: dict[str, type[BaseException]] = {
    "KeyboardInterrupt": KeyboardInterrupt,
    "GeneratorExit": GeneratorExit,
    "CancelledError": asyncio.CancelledError,
    "SystemExit": SystemExit,
    "Doom": Doom,
}


@job(max_attempts=3)
def returns_nul() -> str:
    """Return a string ``json.dumps`` accepts and PostgreSQL's ``jsonb`` refuses (U+0000)."""
    return "a\x00b"


@job(max_attempts=3)
def returns_lone_surrogate() -> str:
    """Return a string ``json.dumps`` accepts and ``jsonb`` refuses (an unpaired surrogate)."""
    return "\ud800"


@job(max_attempts=3)
def raises_unstorable_message() -> None:
    """Fail with a message holding a NUL byte and a lone surrogate."""
    raise RuntimeError("bad\x00bytes\ud800")


@job(max_attempts=2)
def raises_base_exception(name: str) -> None:
    """Raise the ``BaseException`` named ``name`` (a key of ``BASE_EXCEPTIONS``)."""
    raise BASE_EXCEPTIONS[name](f"raised by a task on purpose: {name}")


@job(timeout_seconds=1, max_attempts=1)
def sleeps_past_its_timeout(seconds: float) -> None:
    """Sleep ``seconds`` (meant to be far past the 1 s timeout); record nothing."""
    time.sleep(seconds)


@job(max_attempts=1)
def leaves_atomic_open(key: str) -> str:
    """Enter ``atomic()`` and never leave it, after writing one Execution row inside it."""
    transaction.atomic().__enter__()
    Execution.objects.create(key=key, worker_pid=os.getpid())
    return key


@job(max_attempts=1)
def turns_autocommit_off(key: str) -> str:
    """Turn autocommit off and leave it off, after writing one Execution row in that state."""
    transaction.set_autocommit(False)
    Execution.objects.create(key=key, worker_pid=os.getpid())
    return key


@job(max_attempts=1)
def exits_the_process() -> None:
    """Kill the whole worker process at once, as a segfault in a C extension would."""
    os._exit(1)


@job(timeout_seconds=2, max_attempts=1)
def locks_order(order_id: int) -> int:
    """Lock the ``Order`` row ``order_id`` (waiting as long as another transaction holds it)."""
    with transaction.atomic():
        return Order.objects.select_for_update().get(id=order_id).id


@job(max_attempts=5)
def record_then_wait(key: str, path: str, max_seconds: float = 120.0) -> int:
    """Record a run, wait until file ``path`` exists (at most ``max_seconds``), return the pid.

    Lets a test keep jobs running for exactly as long as it needs, busy machine or not, and see
    which process completed each one.
    """
    Execution.objects.create(key=key, worker_pid=os.getpid())
    deadline = time.monotonic() + max_seconds
    while not Path(path).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return os.getpid()


@job(max_attempts=5, takes_context=True)
def sleep_then_rerun_waits(
    context: JobContext, key: str, seconds: float, path: str, max_seconds: float = 300.0
) -> int:
    """Record a run; sleep ``seconds`` on attempt 1, or on a later one wait until file ``path``
    exists (at most ``max_seconds``); return the pid.

    Lets a test hold the second run of a rescued job for as long as it needs (while the first
    run's worker comes back and tries its late writes), and see which process completed it.
    """
    Execution.objects.create(key=key, attempt=context.attempt, worker_pid=os.getpid())
    if context.attempt == 1:
        time.sleep(seconds)
        return os.getpid()
    deadline = time.monotonic() + max_seconds
    while not Path(path).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return os.getpid()


class _BareSnooze(Snooze):
    """A snooze whose constructor never ran: it has no ``seconds``."""

    def __init__(self) -> None:
        Exception.__init__(self, "bare")


@job(max_attempts=1)
def snooze_without_seconds() -> None:
    raise _BareSnooze()


@job(max_attempts=1)
def returns_snooze_spoiled_after() -> Snooze:
    spoiled = Snooze(5)
    spoiled.seconds = float("nan")
    return spoiled
