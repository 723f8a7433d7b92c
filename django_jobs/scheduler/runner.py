"""``Scheduler``: the loop behind ``manage.py runscheduler`` and ``runworker --with-scheduler``.

Each pass reads the database's clock and the ledger, records what is due, and sleeps until the
next fire time. The process keeps no state a restart would lose: where each schedule stands is its
newest ledger row. Any number of schedulers may run; the ledger's unique constraint lets exactly
one of them enqueue each fire time.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping
from datetime import datetime

from ..db import TRANSIENT_ERRORS, close_quietly, outage_delay
from ..models import ScheduleRun
from . import ledger
from .schedules import Schedule, load_schedules

logger = logging.getLogger(__name__)

#: Longest sleep between passes: bounds the drift between the host's timer and the database's
#: clock, and the wait for a fire time that is far away.
MAX_SLEEP_SECONDS = 60.0


@dataclasses.dataclass(frozen=True, slots=True)
class Pass:
    """What one scheduler pass did: the ledger rows it wrote and when the next fire time is."""

    runs: list[ScheduleRun]
    now: datetime
    next_fire_at: datetime | None

    @property
    def sleep_seconds(self) -> float:
        """Seconds until ``next_fire_at``, at most ``MAX_SLEEP_SECONDS``."""
        if self.next_fire_at is None:
            return MAX_SLEEP_SECONDS
        return max(0.0, min((self.next_fire_at - self.now).total_seconds(), MAX_SLEEP_SECONDS))


class Scheduler:
    """Enqueue each schedule's job at each fire time until stopped.

    ``schedules`` default to ``DJANGO_JOBS["SCHEDULES"]`` (``ConfigurationError`` if one is
    bad). ``clock`` returns the current aware UTC time; it defaults to the database's clock, and
    tests pass their own. ``run()`` blocks; ``request_stop()``, from a signal handler or another
    thread, makes it return after the current pass.
    """

    def __init__(
        self,
        schedules: Mapping[str, Schedule] | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
        scheduler_id: str | None = None,
    ) -> None:
        self.schedules = dict(load_schedules() if schedules is None else schedules)
        self.clock = clock or ledger.database_now
        self.scheduler_id = scheduler_id or f"{socket.gethostname()[:80]}-{os.getpid()}"
        self.started_at: datetime | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def request_stop(self) -> None:
        """Make ``run()`` return once the current pass is over; safe from a signal handler."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def start_in_thread(self) -> threading.Thread:
        """Run ``run()`` in a daemon thread (``runworker --with-scheduler``) and return it."""
        self._thread = threading.Thread(target=self.run, name="django-jobs-scheduler", daemon=True)
        self._thread.start()
        return self._thread

    def stop_and_join(self, *, timeout_seconds: float) -> None:
        """Stop the thread ``start_in_thread()`` started and wait up to ``timeout_seconds``."""
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout_seconds)

    def run(self) -> int:
        """Run passes until stopped; return 0."""
        logger.info(
            "Scheduler %s started: %d schedules (%s)",
            self.scheduler_id, len(self.schedules), ", ".join(sorted(self.schedules)) or "none",
        )  # fmt: skip
        failures = 0
        try:
            while not self._stop.is_set():
                try:
                    wait = self.run_pass().sleep_seconds
                    failures = 0
                except TRANSIENT_ERRORS as exc:
                    failures += 1
                    wait = outage_delay(failures, f"Scheduler {self.scheduler_id}", exc)
                self._stop.wait(wait)
        finally:
            close_quietly()
        logger.info("Scheduler %s stopped", self.scheduler_id)
        return 0

    def run_pass(self) -> Pass:
        """Record every due fire time of every schedule; return what was done.

        A schedule with no ledger row yet starts from this scheduler's first pass: it does not
        fire for times before it was deployed. A schedule whose job cannot be enqueued is logged
        and retried on the next pass; the others go on.
        """
        now = self.clock()
        if self.started_at is None:
            self.started_at = now
        last = ledger.last_fire_times(self.schedules)
        runs: list[ScheduleRun] = []
        upcoming: list[datetime] = []
        for schedule in self.schedules.values():
            runs.extend(self._fire_due(schedule, last.get(schedule.name, self.started_at), now))
            next_fire_at = schedule.next_fire_at(now)
            if next_fire_at is not None:
                upcoming.append(next_fire_at)
        return Pass(runs=runs, now=now, next_fire_at=min(upcoming, default=None))

    def _fire_due(self, schedule: Schedule, since: datetime, now: datetime) -> list[ScheduleRun]:
        runs: list[ScheduleRun] = []
        for fire_at, enqueue in schedule.due(since, now):
            try:
                run = ledger.fire(schedule, fire_at, enqueue=enqueue)
            except TRANSIENT_ERRORS:
                raise
            except Exception:
                logger.exception(
                    "Schedule %s: could not enqueue its job for %s; will retry",
                    schedule.name, fire_at.isoformat(), extra={"schedule": schedule.name},
                )  # fmt: skip
                break
            if run is not None:
                runs.append(run)
        return runs
