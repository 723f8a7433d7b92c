"""``Worker``: the loop behind ``manage.py runworker``.

One main thread claims jobs and hands them to ``concurrency`` slot threads, each with its own
database connection kept open for the worker's life (a reconnect per job would cost more than most
jobs). A heartbeat thread renews the leases of running jobs and rescues expired ones.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
import uuid
from collections.abc import Sequence

from ..backoff import exponential
from ..conf import jobs_settings
from ..models import Job
from . import lease, listen, outcome
from .claim import claim
from .dbretry import TRANSIENT_ERRORS, close_quietly, retrying
from .execute import execute

logger = logging.getLogger(__name__)


def default_worker_id() -> str:
    """Return ``host-pid-random``: unique per process, readable in the admin."""
    return f"{socket.gethostname()[:80]}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class Worker:
    """Claim and run jobs until stopped, drained (``burst``) or ``max_jobs`` were started.

    ``queues``: names to take jobs from, ``None`` for all. ``concurrency``: jobs run at once, each
    in its own thread. Durations are in seconds and default to the ``DJANGO_JOBS`` settings.
    ``run()`` blocks; ``request_stop()`` (from a signal handler or another thread) makes it stop
    claiming and wait up to ``grace_seconds`` for running jobs. Jobs still running then are
    released back to the queue and listed in ``abandoned``.
    """

    def __init__(
        self,
        *,
        queues: Sequence[str] | None = None,
        concurrency: int = 1,
        burst: bool = False,
        max_jobs: int | None = None,
        worker_id: str | None = None,
        poll_interval_seconds: float | None = None,
        grace_seconds: float | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        if max_jobs is not None and max_jobs < 1:
            raise ValueError(f"max_jobs must be at least 1, got {max_jobs}")
        self.queues = list(queues) if queues else None
        self.concurrency = concurrency
        self.burst = burst
        self.max_jobs = max_jobs
        self.worker_id = worker_id or default_worker_id()
        self.poll_interval_seconds = (
            poll_interval_seconds
            if poll_interval_seconds is not None
            else jobs_settings.POLL_INTERVAL_SECONDS
        )
        self.grace_seconds = (
            grace_seconds if grace_seconds is not None else jobs_settings.SHUTDOWN_GRACE_SECONDS
        )
        self.lease_seconds = float(jobs_settings.LEASE_SECONDS)
        self.heartbeat_seconds = float(jobs_settings.HEARTBEAT_SECONDS)
        self.started_count = 0
        self.abandoned: list[Job] = []
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._running: dict[int, Job] = {}
        self._inbox: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._heartbeat_done = threading.Event()
        self._listener = (
            listen.Listener(self._wake.set, queues=self.queues) if listen.supported() else None
        )

    # Control ------------------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Stop claiming; ``run()`` returns once running jobs finish or the grace period ends."""
        if not self._stop.is_set():
            logger.info("Worker %s stopping: no new claims", self.worker_id)
        self._stop.set()
        self._wake.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def running_jobs(self) -> list[Job]:
        """Return the jobs this worker is running now."""
        with self._lock:
            return list(self._running.values())

    # Main loop ----------------------------------------------------------------------------------

    def run(self) -> int:
        """Run until stopped; return 0 after a clean stop, 1 if jobs had to be abandoned."""
        logger.info(
            "Worker %s started: queues=%s concurrency=%d",
            self.worker_id, self.queues or "all", self.concurrency,
        )  # fmt: skip
        self._start_threads()
        try:
            self._loop()
        finally:
            code = self._shutdown()
            close_quietly()
        return code

    def _loop(self) -> None:
        failures = 0
        while not self._stop.is_set():
            free = self.concurrency - len(self._running)
            if self.max_jobs is not None:
                free = min(free, self.max_jobs - self.started_count)
                if free <= 0 and not self._running and self.started_count >= self.max_jobs:
                    logger.info("Worker %s ran its %d jobs", self.worker_id, self.max_jobs)
                    return
            claimed: list[Job] = []
            if free > 0:
                try:
                    claimed = claim(
                        worker_id=self.worker_id,
                        limit=free,
                        lease_seconds=self.lease_seconds,
                        queues=self.queues,
                    )
                    failures = 0
                except TRANSIENT_ERRORS as exc:
                    failures += 1
                    self._back_off(failures, exc)
                    continue
            for job in claimed:
                self._dispatch(job)
            if claimed:
                continue
            if self.burst and free > 0 and not self._running:
                logger.info("Worker %s: no ready jobs left (burst mode)", self.worker_id)
                return
            self._wake.wait(self.poll_interval_seconds)
            self._wake.clear()

    def _back_off(self, failures: int, exc: Exception) -> None:
        close_quietly()
        delay = exponential(failures, base_seconds=0.1, max_seconds=10.0)
        logger.warning(
            "Worker %s cannot reach the database (%s); retrying in %.1fs",
            self.worker_id, exc, delay,
        )  # fmt: skip
        self._stop.wait(delay)

    def _dispatch(self, job: Job) -> None:
        with self._lock:
            self._running[job.id] = job
        self.started_count += 1
        self._inbox.put(job)

    # Threads ------------------------------------------------------------------------------------

    def _start_threads(self) -> None:
        for n in range(self.concurrency):
            self._threads.append(self._spawn(self._slot, f"django-jobs-slot-{n}"))
        self._heartbeat_thread = self._spawn(self._heartbeat, "django-jobs-heartbeat")
        if self._listener is not None:
            self._listener.start()

    @staticmethod
    def _spawn(target: object, name: str) -> threading.Thread:
        # Daemon threads: a job still running when the grace period ends must not hold the
        # process open; its row has been released and will run again elsewhere.
        thread = threading.Thread(target=target, name=name, daemon=True)  # type: ignore[arg-type]
        thread.start()
        return thread

    def _slot(self) -> None:
        try:
            while (job := self._inbox.get()) is not None:
                try:
                    self._execute(job)
                finally:
                    with self._lock:
                        self._running.pop(job.id, None)
                    self._wake.set()
        finally:
            close_quietly()

    def _execute(self, job: Job) -> None:
        try:
            retrying(
                lambda: execute(job),
                deadline=time.monotonic() + self.lease_seconds,
                what=f"recording job {job.id}",
            )
        except Exception:
            # Only the outcome write can get here (task errors are recorded by execute). The
            # lease will expire and rescue will put the job back: at-least-once, not lost.
            logger.exception(
                "Job %s: could not record its outcome; it will be rescued when its lease expires",
                job.id,
                extra={"job_id": job.id, "worker_id": self.worker_id},
            )

    def _heartbeat(self) -> None:
        try:
            while not self._heartbeat_done.wait(self.heartbeat_seconds):
                self._beat()
        finally:
            close_quietly()

    def _beat(self) -> None:
        try:
            leases = [(job.id, job.lease_token) for job in self.running_jobs()]
            held = lease.heartbeat(
                [(i, t) for i, t in leases if t is not None], lease_seconds=self.lease_seconds
            )
            lost = {i for i, _ in leases} - held
            if lost:
                logger.warning(
                    "Worker %s lost the lease of jobs %s; their outcome will be discarded",
                    self.worker_id, sorted(lost),
                )  # fmt: skip
            lease.rescue()
        except TRANSIENT_ERRORS as exc:
            close_quietly()
            logger.warning("Heartbeat of %s failed (%s); will retry", self.worker_id, exc)

    # Shutdown -----------------------------------------------------------------------------------

    def _shutdown(self) -> int:
        for _ in self._threads:
            self._inbox.put(None)
        deadline = time.monotonic() + self.grace_seconds
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._heartbeat_done.set()
        if self._listener is not None:
            self._listener.stop()
        self.abandoned = self.running_jobs()
        if not self.abandoned:
            logger.info("Worker %s stopped cleanly", self.worker_id)
            return 0
        released = retrying(
            lambda: outcome.release(self.abandoned),
            deadline=time.monotonic() + 10,
            what="releasing unfinished jobs",
        )
        logger.warning(
            "Worker %s: %d jobs still running after %.0fs grace; released %d back to the queue",
            self.worker_id, len(self.abandoned), self.grace_seconds, released,
        )  # fmt: skip
        return 1
