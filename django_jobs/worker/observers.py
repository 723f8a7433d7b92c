"""``Observer``: what a worker tells in-process instruments (metrics, chart rollups) as it works.

Unlike the public signals, observers are plain method calls on objects the worker was built
with: nothing is dispatched when none is registered, so the hot path pays one empty loop. An
observer's method runs in the worker thread that saw the event (a slot, the completer, the main
thread or the heartbeat) and must be quick and thread-safe; an error it raises is logged and
swallowed, never changing a job's outcome.

Outcomes passed to ``finished``: ``"done"``, ``"retry"``, ``"dead"``, ``"snoozed"`` (queued
again later, its attempt given back), ``"cancelled"`` (the task stopped at a cancel request, or
raised ``JobCancelled``) and ``"lost"`` (the lease was lost before the outcome was written; the
outcome was discarded).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Literal

from ..models import Job

logger = logging.getLogger(__name__)

Outcome = Literal["done", "retry", "dead", "snoozed", "cancelled", "lost"]


class Observer:
    """Base class: every method does nothing; override the ones you need."""

    def claimed(self, count: int) -> None:
        """``count`` jobs were claimed by one statement (0 when a claim found nothing)."""

    def started(self, job: Job) -> None:
        """``job`` is about to run: its attempt is charged and ``started_at`` set (UTC)."""

    def finished(self, job: Job, outcome: Outcome, duration_seconds: float) -> None:
        """``job``'s outcome was written (``lost``: could not be)."""

    def rescued(self, count: int) -> None:
        """The heartbeat rescued ``count`` expired jobs of other workers."""

    def database_error(self) -> None:
        """A database call of this worker failed (a lost connection, a refused write)."""


class Observers:
    """The worker's registered observers; each call fans out to all of them, errors logged."""

    def __init__(self, observers: Sequence[Observer] = ()) -> None:
        self.observers = list(observers)

    def add(self, observer: Observer) -> None:
        self.observers.append(observer)

    def claimed(self, count: int) -> None:
        for observer in self.observers:
            self._call(observer.claimed, count)

    def started(self, job: Job) -> None:
        for observer in self.observers:
            self._call(observer.started, job)

    def finished(self, job: Job, outcome: Outcome, duration_seconds: float) -> None:
        for observer in self.observers:
            self._call(observer.finished, job, outcome, duration_seconds)

    def rescued(self, count: int) -> None:
        for observer in self.observers:
            self._call(observer.rescued, count)

    def database_error(self) -> None:
        for observer in self.observers:
            self._call(observer.database_error)

    @staticmethod
    def _call(method: object, *args: object) -> None:
        try:
            method(*args)  # type: ignore[operator]
        except Exception:
            logger.exception("django-jobs observer %r failed", method)
