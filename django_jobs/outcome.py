"""Outcomes as values: what running a job produced, and what the engine wrote about it.

River's executor returns a small value describing the new state and hands it to its completer;
django-jobs does the same, so no part of the worker compares strings.
"""

from __future__ import annotations

import dataclasses
import enum
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .failure import Failure
    from .models import DeadJob


@dataclasses.dataclass(frozen=True, slots=True)
class Succeeded:
    """The task returned ``result``; ``result_json`` is its storable JSON text (None for None)."""

    result: Any
    result_json: str | None
    duration_seconds: float


@dataclasses.dataclass(frozen=True, slots=True)
class Failed:
    """The attempt failed with ``error``: raised by the task, or found by the worker."""

    error: BaseException
    duration_seconds: float


@dataclasses.dataclass(frozen=True, slots=True)
class Snoozed:
    """The task raised or returned ``Snooze(seconds)``: run the job again that much later."""

    seconds: float
    duration_seconds: float


@dataclasses.dataclass(frozen=True, slots=True)
class Cancelled:
    """The task stopped at a cancel request: it raised ``JobCancelled``, or any ``error`` once
    the worker knew a cancel was requested (``error`` is then what it raised)."""

    error: BaseException
    duration_seconds: float


Outcome = Succeeded | Failed | Snoozed | Cancelled


class Recorded(enum.Enum):
    """What the engine wrote for a job's attempt."""

    DONE = "done"
    RETRIED = "retried"  # queued again for its next attempt
    DEAD = "dead-lettered"
    SNOOZED = "snoozed"  # queued again later, its attempt given back
    RELEASED = "released"  # given back unstarted, no attempt charged
    CANCELLED = "cancelled"  # stopped at a cancel request: no retry, no dead letter
    LOST = "lost"  # the lease was no longer held: nothing was written


@dataclasses.dataclass(frozen=True, slots=True)
class FailRecord:
    """What ``engine.fail`` did: ``recorded`` is RETRIED (with ``run_at``), DEAD (with
    ``dead_job``), CANCELLED (a cancel had been requested) or LOST; ``failure`` is what was (or
    would have been) recorded."""

    recorded: Recorded
    failure: Failure
    run_at: datetime | None = None
    dead_job: DeadJob | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class SnoozeRecord:
    """What ``engine.snooze`` wrote: SNOOZED (with the new ``run_at``), CANCELLED (a cancel had
    been requested: the request wins over the snooze) or LOST; past the snooze
    limit, ``failed`` is what ``engine.fail`` wrote for ``error`` (a ``SnoozeLimitError``)."""

    recorded: Recorded
    run_at: datetime | None = None
    failed: FailRecord | None = None
    error: BaseException | None = None
