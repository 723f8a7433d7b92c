"""``Heartbeat``: the thread that renews this worker's leases and rescues other workers' jobs.

It survives any error: a lost connection is retried quickly (the leases are at stake), any other
error is logged and the next beat comes as usual; one bad row cannot stop it (the engine renews
and rescues row by row when a batch fails).

After a database outage, rescue holds off for one lease period. An outage that reached this
worker most likely reached the others too (a server restart, a failover): their leases ran out
while none of them could renew, not because they died. Giving them a lease period to renew
first keeps a restart from running healthy workers' jobs twice; a worker that really died is
rescued a lease later. (Chubby's master fail-over grace period is the same idea: Burrows,
"The Chubby lock service", OSDI 2006.)
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from .. import db, engine
from ..engine import RescueReport
from .shared import Health, Held

logger = logging.getLogger(__name__)

#: Pause between tries while the database is unreachable (seconds).
OUTAGE_RETRY_SECONDS = 0.2


class Heartbeat:
    """Renew the leases in ``held`` every ``interval_seconds``, then rescue expired jobs.

    The renewal also brings back each held job's cancel request, which is copied onto the job
    its task runs for (``django_jobs.cancellation``); ``poke()`` (from the listener, when a
    cancel NOTIFY names this worker) renews at once, so the request arrives without waiting a
    beat. ``on_rescued`` receives each non-empty ``RescueReport`` (the worker sends the
    dead-letter signals). ``start()`` runs the thread; ``stop()`` ends it.
    """

    def __init__(
        self,
        held: Held,
        health: Health,
        *,
        worker_id: str,
        interval_seconds: float,
        lease_seconds: float,
        on_rescued: Callable[[RescueReport], None],
    ) -> None:
        self.held = held
        self.health = health
        self.worker_id = worker_id
        self.interval_seconds = interval_seconds
        self.lease_seconds = lease_seconds
        self.on_rescued = on_rescued
        self._done = threading.Event()
        self._poked = threading.Event()
        self._trouble_seen = health.trouble
        self._rescue_after = 0.0
        self._thread = threading.Thread(target=self._run, name="django-jobs-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        self._poked.set()

    def poke(self) -> None:
        """Renew now (and so read cancel requests) instead of at the next beat; thread-safe."""
        self._poked.set()

    def _run(self) -> None:
        try:
            delay = self.interval_seconds
            next_beat = time.monotonic() + delay
            while not self._done.is_set():
                self._poked.wait(max(0.0, next_beat - time.monotonic()))
                if self._done.is_set():
                    break
                if self._poked.is_set():
                    self._poked.clear()
                    self.renew_now()
                if time.monotonic() >= next_beat:
                    next_beat = time.monotonic() + self.beat()
        finally:
            db.close_quietly()

    def renew_now(self) -> None:
        """Renew the held leases (reading cancel requests) outside the beat; errors are logged."""
        try:
            self._renew()
        except Exception as exc:  # the next beat renews, and handles an outage
            logger.warning("Worker %s: early renewal failed (%s)", self.worker_id, exc)

    def beat(self) -> float:
        """Renew, then rescue unless holding off; return the seconds until the next beat."""
        try:
            self._renew()
            if self._trouble_seen != self.health.trouble:
                self._trouble_seen = self.health.trouble
                self._hold_off_rescue("another thread of this worker lost the database")
            if time.monotonic() >= self._rescue_after:
                report = engine.rescue()
                if report:
                    self.on_rescued(report)
        except db.TRANSIENT_ERRORS as exc:
            self.health.report_trouble()
            self._trouble_seen = self.health.trouble
            db.close_quietly()
            self._hold_off_rescue(f"heartbeat failed: {exc}")
            return OUTAGE_RETRY_SECONDS
        except Exception:
            logger.exception("Heartbeat of %s failed; will try again", self.worker_id)
        return self.interval_seconds

    def _renew(self) -> None:
        jobs = self.held.snapshot()
        held = engine.heartbeat(jobs, lease_seconds=self.lease_seconds)
        for job in jobs:
            asked = held.get(job.id)
            if asked is not None and job.cancel_requested_at is None:
                # The task's thread reads this attribute: one store, atomic under the GIL.
                job.cancel_requested_at = asked
                logger.info(
                    "Job %s %s was asked to stop (at %s); its task is told",
                    job.id, job.task_path, asked.isoformat(),
                    extra={"job_id": job.id, "worker_id": self.worker_id},
                )  # fmt: skip
        lost = [job for job in jobs if job.id not in held and self.held.holds(job)]
        if lost:
            logger.warning(
                "Worker %s lost the lease of jobs %s; their outcome will be discarded",
                self.worker_id, sorted(job.id for job in lost),
            )  # fmt: skip

    def _hold_off_rescue(self, why: str) -> None:
        self._rescue_after = time.monotonic() + self.lease_seconds
        logger.warning(
            "Worker %s: %s; rescue of other workers' jobs waits %.0fs for them to renew",
            self.worker_id, why, self.lease_seconds,
        )  # fmt: skip
