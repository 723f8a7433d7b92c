"""``Worker``: the loop behind ``manage.py runworker``; its parts are listed in ``worker/``.

The main thread claims jobs into a small buffer, starts one for each idle slot, enforces
timeouts and replaces dead slots. After ``concurrency`` timed-out jobs (threads that could not
be stopped) it stops claiming, drains and exits with ``EXIT_RECYCLE`` for a fresh process.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
import uuid
from collections.abc import Sequence

from django.db import DatabaseError

from .. import db
from ..conf import jobs_settings
from ..engine import RescueReport
from ..engine.queues import limited_queues
from ..engine.sql import postgresql
from ..exceptions import WorkerLostError
from ..models import Job
from ..outcome import Failed, Recorded, Snoozed, Succeeded
from . import listen, runway, shutdown
from .completer import Completer
from .execute import execute
from .feed import Feed
from .heartbeat import Heartbeat
from .memory import rss_bytes
from .observers import Observer, Observers
from .pruner import Pruner
from .record import Recorder
from .rollup import Rollup
from .shared import Health, Held
from .shutdown import EXIT_OK
from .slots import Pool, Slot
from .tally import Tally, summary
from .timeouts import Timeouts

logger = logging.getLogger(__name__)

EXIT_RECYCLE = 3

#: When jobs typically take less than this and a slot frees up while others got their job less
#: than this long ago, the main loop waits up to this long for them too, so that the next claim
#: takes one job per free slot in a single statement instead of one statement per slot
#: (seconds). Longer jobs are never waited for: they do not end together.
GATHER_SECONDS = 0.002


#: How often a worker that found no limited job looks again by the clock alone (seconds): for
#: limited jobs whose run_at comes, or that wait for a retry. A NOTIFY that its plain claim
#: did not answer, a limited job's end and a full rate window's opening make it look sooner.
LIMITED_LOOK_SECONDS = 5.0


def default_worker_id() -> str:
    """Return ``host-pid-random``: unique per process, readable in the admin."""
    return f"{socket.gethostname()[:80]}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class Worker:
    """Claim and run jobs until stopped, drained (``burst``) or ``max_jobs`` were started.

    ``queues``: names to take jobs from, ``None`` for all. ``concurrency``: jobs run at once, each
    in its own thread. ``prefetch``: jobs claimed ahead of free slots (default 0), held in memory
    until a slot is free; they use no attempt until they start. ``max_memory_mb``:
    recycle (stop claiming, drain, exit ``EXIT_RECYCLE``) once resident memory passes it.
    Durations are in seconds and default to the ``DJANGO_JOBS`` settings. ``run()`` blocks and
    returns the exit code; ``request_stop()`` (from a signal handler or another thread) makes it
    stop claiming and wait up to ``grace_seconds`` for running jobs; those still running then are
    failed with ``WorkerStoppedError`` and listed in ``abandoned``. ``observers``: in-process
    instruments (``worker/observers.py``); the admin charts' ``Rollup`` is always registered
    first. Raises ``ValueError`` for a bad figure.
    """

    def __init__(
        self,
        *,
        queues: Sequence[str] | None = None,
        concurrency: int = 10,
        burst: bool = False,
        max_jobs: int | None = None,
        max_memory_mb: float | None = None,
        prefetch: int | None = None,
        worker_id: str | None = None,
        poll_interval_seconds: float | None = None,
        grace_seconds: float | None = None,
        observers: Sequence[Observer] = (),
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        if max_jobs is not None and max_jobs < 1:
            raise ValueError(f"max_jobs must be at least 1, got {max_jobs}")
        if prefetch is not None and prefetch < 0:
            raise ValueError(f"prefetch must be 0 or more, got {prefetch}")
        if max_memory_mb is not None and max_memory_mb <= 0:
            raise ValueError(f"max_memory_mb must be positive, got {max_memory_mb}")
        self.queues = list(queues) if queues else None
        self.concurrency = concurrency
        self.burst = burst
        self.max_jobs = max_jobs
        self.max_memory_mb = max_memory_mb
        self.prefetch = 0 if prefetch is None else prefetch
        self.worker_id = worker_id or default_worker_id()
        self.poll_interval_seconds = float(
            jobs_settings.POLL_INTERVAL_SECONDS
            if poll_interval_seconds is None
            else poll_interval_seconds
        )
        self.grace_seconds = float(
            jobs_settings.SHUTDOWN_GRACE_SECONDS if grace_seconds is None else grace_seconds
        )
        self.lease_seconds = float(jobs_settings.LEASE_SECONDS)
        self.abandoned: list[Job] = []
        self.exit_code = EXIT_OK
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._give_up_at = math.inf  # outcome writes stop trying through outages after this
        # A moving average of how long jobs run (seconds): are they short enough to gather for?
        self._typical_seconds = math.inf
        self.held = Held()
        self._limited_queues = frozenset(limited_queues())
        self._notified = False  # a NOTIFY or a rescue woke the loop since the last feed
        # Jobs started ahead of free slots while jobs are short (worker/runway.py).
        self.runway = runway.Runway(on_low=self._wake.set)
        self._use_runway = postgresql()
        self.tally = Tally()
        # The admin's charts: per-minute counts, flushed by their own thread (worker/rollup.py).
        self.rollup = Rollup(worker_id=self.worker_id)
        self.observers = Observers([self.tally, self.rollup, *observers])
        self.feed = Feed(
            self.held,
            worker_id=self.worker_id,
            lease_seconds=self.lease_seconds,
            queues=self.queues,
            observers=self.observers,
            look_seconds=max(self.poll_interval_seconds, LIMITED_LOOK_SECONDS),
            burst=burst,
            runway=self.runway,
        )
        self.health = Health()
        self.recorder = Recorder(self.held, self.health, self._giving_up, self.observers)
        self.completer = Completer(self._written, give_up=self._giving_up)
        self.pool = Pool(
            concurrency, self._run_job, self.health, on_idle=self._wake.set, runway=self.runway
        )
        self.timeouts = Timeouts(self.pool, self.recorder)
        self.heartbeat = Heartbeat(
            self.held,
            self.health,
            worker_id=self.worker_id,
            interval_seconds=float(jobs_settings.HEARTBEAT_SECONDS),
            lease_seconds=self.lease_seconds,
            on_rescued=self._rescued,
        )
        self.pruner = Pruner(
            worker_id=self.worker_id,
            lease_seconds=self.lease_seconds,
            renew_seconds=float(jobs_settings.HEARTBEAT_SECONDS),
        )
        self.listener = (
            listen.Listener(
                self._notify,
                queues=self.queues,
                worker_id=self.worker_id,
                on_cancel=self.heartbeat.poke,
            )
            if listen.supported()
            else None
        )

    # Control ------------------------------------------------------------------------------------

    def request_stop(self, reason: str = "stop requested") -> None:
        """Stop claiming; ``run()`` returns once running jobs finish or the grace period ends."""
        if not self._stop.is_set():
            logger.info("Worker %s stopping (%s): no new claims", self.worker_id, reason)
        self._stop.set()
        self._wake.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    @property
    def timed_out(self) -> list[int]:
        """The ids of the jobs this worker failed for running past their timeout, in order."""
        return self.timeouts.timed_out

    def running_jobs(self) -> list[Job]:
        """Return the jobs whose lease this worker holds now (buffered or running)."""
        return self.held.snapshot()

    @property
    def started_count(self) -> int:
        """How many jobs this worker has started."""
        return self.feed.started_count

    def _notify(self) -> None:
        # A job may be ready: a NOTIFY of an enqueue (or a resume), or a rescue.
        self._notified = True
        self._wake.set()

    def _giving_up(self) -> bool:
        return time.monotonic() >= self._give_up_at

    # Main loop ----------------------------------------------------------------------------------

    def run(self) -> int:
        """Run until stopped; return ``EXIT_OK``, ``EXIT_ABANDONED`` or ``EXIT_RECYCLE``."""
        logger.info(
            "Worker %s started: queues=%s concurrency=%d prefetch=%d",
            self.worker_id, self.queues or "all", self.concurrency, self.prefetch,
        )  # fmt: skip
        self.completer.start()
        self.pool.start()
        self.heartbeat.start()
        self.pruner.start()
        self.rollup.start()
        if self.listener is not None:
            self.listener.start()
        try:
            self._loop()
        finally:
            code = self._shut_down()
            db.close_quietly()
        return code if code != EXIT_OK else self.exit_code

    def _loop(self) -> None:
        failures = 0
        while not self._stop.is_set():
            if self.tally.due():
                self._log_summary()
            self.timeouts.enforce()
            self._reap_dead_slots()
            if self._should_recycle() or self._ran_all():
                return
            busy = len(self.held) > 0  # read before claiming: see the burst check below
            self._gather_idle_slots()
            try:
                fed = self._feed_slots()
                failures = 0
            except db.TRANSIENT_ERRORS as exc:
                failures += 1
                self.health.report_trouble()
                self.observers.database_error()
                self._stop.wait(db.outage_delay(failures, f"Worker {self.worker_id}", exc))
                continue
            if fed and not self.feed.exhausted:
                continue
            # A job running during the claim may have been requeued for a retry since: exit only
            # if nothing was held before a claim that found nothing (jobs it took may be done
            # already: that is no reason to exit).
            if self.burst and not fed and not busy and not self.held:
                logger.info("Worker %s: no ready jobs left (burst mode)", self.worker_id)
                return
            self._wake.wait(self._idle_seconds())
            self._wake.clear()

    def _gather_idle_slots(self) -> None:
        # Short jobs end within moments of one another: claim once for all of them (Nagle's
        # idea for small packets, applied to claims). Waits at most GATHER_SECONDS per claim,
        # and not at all when every slot is idle or only long-running jobs are busy. Nor while
        # jobs are started ahead: that claim takes many jobs anyway.
        if self._typical_seconds >= GATHER_SECONDS or self._runway_size() > 0:
            return
        deadline = time.monotonic() + GATHER_SECONDS
        while self.pool.just_handed(GATHER_SECONDS) and not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._wake.wait(left)
            self._wake.clear()

    def _feed_slots(self) -> int:
        """Claim and start what the free slots and the prefetch room allow; return the count.

        Room is counted in idle slots, not in leases held: a job whose outcome is still being
        written (the completer batches successes) no longer needs its slot. While jobs are
        short, the claim also starts jobs ahead, to fill the runway again once it is down to
        half (``worker/runway.py``).
        """
        idle = self.pool.idle()
        target, waiting = self._runway_size(), len(self.runway)
        ahead = max(0, target - waiting) if idle or waiting <= target // 2 else 0
        room = len(idle) + self.prefetch - len(self.feed) + ahead
        if self.max_jobs is not None:
            room = min(room, self.max_jobs - self.feed.started_count - len(self.feed))
            ahead = max(0, min(ahead, room - len(idle)))
        notified, self._notified = self._notified, False
        return self.feed.feed(
            room=room, idle=idle, notified=notified, ahead=ahead, low_water=target // 2
        )

    def _runway_size(self) -> int:
        if not self._use_runway or self._stop.is_set():
            return 0
        return runway.size(self.concurrency, self._typical_seconds)

    def _run_job(self, slot: Slot, job: Job) -> None:
        # Runs in the slot's thread.
        self.recorder.started(job)
        outcome = execute(job)
        typical = self._typical_seconds  # slots update it unlocked: a lost update only lags it
        self._typical_seconds = (
            outcome.duration_seconds
            if typical == math.inf
            else typical + 0.1 * (outcome.duration_seconds - typical)
        )
        if not slot.claim_outcome():
            return  # abandoned (timeout, shutdown): its outcome was recorded by whoever took it
        if isinstance(outcome, Succeeded):  # first: a success pays one check, as before
            self.completer.submit(job, outcome)
        elif isinstance(outcome, Failed):
            self.recorder.fail(job, outcome.error, outcome.duration_seconds)
        elif isinstance(outcome, Snoozed):
            self.recorder.snooze(job, outcome)
        else:
            self.recorder.cancelled(job, outcome)

    def _written(self, job: Job, outcome: Succeeded, fate: Recorded | DatabaseError | None) -> None:
        # Runs in the completer's thread. A limited job's slot under its key or queue is free
        # only once its completion is written: wake the main loop to claim the next one then.
        # A worker that stops once drained (burst, max_jobs) may exit once the last is written:
        # its slots went idle before, and the claim that found nothing still saw this one held.
        self.recorder.written(job, outcome, fate)
        limited = job.concurrency_key is not None or job.queue in self._limited_queues
        drained = (self.burst or self.max_jobs is not None) and not self.held
        if limited or drained:
            self._wake.set()

    def _log_summary(self) -> None:
        counts, seconds = self.tally.take()
        if counts:
            logger.info("Worker %s: %s", self.worker_id, summary(counts, seconds))

    def _reap_dead_slots(self) -> None:
        for job, error in self.pool.reap():
            if job is not None:
                self.recorder.fail(job, error, 0.0)

    def _rescued(self, report: RescueReport) -> None:
        self.observers.rescued(
            len(report.requeued) + len(report.released) + len(report.dead) + len(report.cancelled)
        )
        for job, dead_job in report.dead:
            self.recorder.report_dead(job, dead_job)
        for job in report.cancelled:
            error = WorkerLostError(f"Worker {job.worker_id or '?'} died after a cancel request.")
            self.recorder.report_cancelled(job, error, 0.0)
        self._notify()  # requeued jobs may be ready now

    def _ran_all(self) -> bool:
        if self.max_jobs is None or self.feed.started_count < self.max_jobs or self.held:
            return False
        logger.info("Worker %s ran its %d jobs", self.worker_id, self.max_jobs)
        return True

    def _idle_seconds(self) -> float:
        # A full rate window that opens again before the next poll wakes the worker then.
        wait = self.poll_interval_seconds
        if self.pool.idle():  # with no idle slot, one freeing up wakes the loop
            wait = min(wait, self.feed.next_look_in())
        deadline = self.timeouts.next_deadline()
        if deadline is None:
            return wait
        return max(0.0, min(wait, deadline - time.monotonic()))

    def _should_recycle(self) -> bool:
        if self.timeouts.stuck() >= self.concurrency:
            reason = f"{self.timeouts.stuck()} timed-out job threads still running"
        elif self.max_memory_mb is not None and rss_bytes() > self.max_memory_mb * 2**20:
            reason = f"resident memory above {self.max_memory_mb} MB"
        else:
            return False
        self.exit_code = EXIT_RECYCLE
        self.request_stop(f"recycling: {reason}")
        return True

    # Shutdown -----------------------------------------------------------------------------------

    def _shut_down(self) -> int:
        if self.listener is not None:
            self.listener.stop()
        shutdown.release_unstarted(self.feed.take_all(), self.held, self.worker_id)
        shutdown.release_unstarted(
            self.runway.take_all(), self.held, self.worker_id, started_ahead=True
        )
        shutdown.drain(self.pool, self.timeouts, grace_seconds=self.grace_seconds, wake=self._wake)
        # Past the grace period, outcome writes get a few more seconds through an outage.
        self._give_up_at = time.monotonic() + 10.0
        self.abandoned = shutdown.fail_unfinished(self.pool, self.recorder, self.grace_seconds)
        self.completer.stop(timeout_seconds=15.0)
        self.pruner.stop(timeout_seconds=5.0)
        self.heartbeat.stop()
        self._log_summary()
        self.rollup.stop()
        return shutdown.report(self.worker_id, self.abandoned, self.grace_seconds)
