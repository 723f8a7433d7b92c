"""``Worker``: the loop behind ``manage.py runworker``.

One main thread claims jobs and hands them to ``concurrency`` slot threads, each with its own
database connection kept open for the worker's life (a reconnect per job would cost more than most
jobs). A heartbeat thread renews the leases of running jobs and rescues expired ones; on
PostgreSQL a listener thread wakes the main thread when jobs are enqueued.

Timeouts: Python cannot kill a thread. A job that runs past its ``timeout_seconds`` is recorded as
failed with ``JobTimeoutError`` (retried or dead-lettered by its policy) and its thread is
abandoned: a new slot thread takes its place, and the abandoned thread's late outcome is discarded
by the lease fence. Its code may still run, with its side effects, until it returns or the process
ends. After ``max_abandoned`` such threads the worker stops claiming, drains and exits with
``EXIT_RECYCLE`` so that its supervisor starts a fresh process.
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

from ..conf import jobs_settings
from ..exceptions import JobTimeoutError
from ..models import Job
from . import lease, listen, outcome
from .claim import claim
from .completer import Completer
from .dbretry import (
    TRANSIENT_ERRORS,
    close_quietly,
    drop_unusable_connection,
    outage_delay,
    retrying,
)
from .execute import execute, record_failure, report_success
from .memory import rss_bytes

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_ABANDONED = 1
EXIT_RECYCLE = 3


def default_worker_id() -> str:
    """Return ``host-pid-random``: unique per process, readable in the admin."""
    return f"{socket.gethostname()[:80]}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class Worker:
    """Claim and run jobs until stopped, drained (``burst``) or ``max_jobs`` were started.

    ``queues``: names to take jobs from, ``None`` for all. ``concurrency``: jobs run at once, each
    in its own thread. ``prefetch``: jobs claimed ahead of free slots (default: ``concurrency``),
    so that claims come in batches; 0 claims only for free slots, fairer to other workers when
    jobs are long. ``max_memory_mb``: recycle (stop claiming, drain, exit ``EXIT_RECYCLE``)
    once the process's resident memory passes it. Durations are in seconds and default to the
    ``DJANGO_JOBS`` settings. ``run()`` blocks and returns the exit code; ``request_stop()`` (from
    a signal handler or another thread) makes it stop claiming and wait up to ``grace_seconds``
    for running jobs. Jobs still running then are released back to the queue and listed in
    ``abandoned``.
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
        self.prefetch = concurrency if prefetch is None else prefetch
        self.max_abandoned = concurrency
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
        self.timed_out: list[int] = []
        # Claims whose thread was abandoned, by lease token: the same job id may be claimed
        # again by this worker (its retry) while the old thread still runs.
        self._abandoned: set[uuid.UUID | None] = set()
        # Bumped whenever this worker meets a database error, so that slot threads check their
        # own connection before their next job instead of failing that job on a dead socket.
        self._db_trouble = 0
        #: A slot idle longer than this checks its connection before its next job.
        self.idle_check_seconds = 1.0
        self.abandoned: list[Job] = []
        self.exit_code = EXIT_OK
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        # Jobs whose lease this worker holds: waiting in the inbox, executing, or waiting for
        # the completer to write their outcome. The heartbeat renews exactly these.
        self._running: dict[int, Job] = {}
        self._executing = 0
        self._deadlines: dict[int, float] = {}
        self._inbox: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._slots: dict[threading.Thread, int | None] = {}
        self._heartbeat_done = threading.Event()
        self._completer = Completer(self._written, deadline_seconds=self.lease_seconds)
        self._listener = (
            listen.Listener(self._wake.set, queues=self.queues) if listen.supported() else None
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

    def running_jobs(self) -> list[Job]:
        """Return the jobs this worker is running now."""
        with self._lock:
            return list(self._running.values())

    # Main loop ----------------------------------------------------------------------------------

    def run(self) -> int:
        """Run until stopped; return ``EXIT_OK``, ``EXIT_ABANDONED`` or ``EXIT_RECYCLE``."""
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
        return code if code != EXIT_OK else self.exit_code

    def _loop(self) -> None:
        failures = 0
        while not self._stop.is_set():
            self._expire_timeouts()
            if self._should_recycle():
                return
            free = self._free_slots()
            if free is None:
                return
            busy = bool(self._running)  # read before claiming: see the burst check below
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
            # A job running during the claim may have been requeued for a retry since: exit only
            # if nothing was running before a claim that found nothing.
            if self.burst and free > 0 and not busy and not self._running:
                logger.info("Worker %s: no ready jobs left (burst mode)", self.worker_id)
                return
            self._wake.wait(self._idle_seconds())
            self._wake.clear()

    def _free_slots(self) -> int | None:
        """Jobs to claim now, or None when ``max_jobs`` were started and have finished.

        Claims wait until the inbox is empty, then fill every free slot and the prefetch room at
        once: instant jobs then come ``concurrency`` at a time instead of one per freed slot.
        """
        if not self._inbox.empty():
            free = 0
        else:
            free = self.concurrency + self.prefetch - len(self._running)
        if self.max_jobs is None:
            return free
        left = self.max_jobs - self.started_count
        if left <= 0 and not self._running:
            logger.info("Worker %s ran its %d jobs", self.worker_id, self.max_jobs)
            return None
        return min(free, left)

    def _idle_seconds(self) -> float:
        with self._lock:
            deadlines = list(self._deadlines.values())
        if not deadlines:
            return self.poll_interval_seconds
        return max(0.0, min(self.poll_interval_seconds, min(deadlines) - time.monotonic()))

    def _back_off(self, failures: int, exc: Exception) -> None:
        self._db_trouble += 1
        self._stop.wait(outage_delay(failures, f"Worker {self.worker_id}", exc))

    def _dispatch(self, job: Job) -> None:
        with self._lock:
            self._running[job.id] = job
        self.started_count += 1
        self._inbox.put(job)

    # Timeouts and recycling ---------------------------------------------------------------------

    def _expire_timeouts(self) -> None:
        now = time.monotonic()
        with self._lock:
            expired = [self._running[i] for i, d in self._deadlines.items() if d <= now]
            for job in expired:
                del self._running[job.id], self._deadlines[job.id]
                self._executing -= 1
                self.timed_out.append(job.id)
                self._abandoned.add(job.lease_token)
        for job in expired:
            error = JobTimeoutError(
                f"Job {job.id} ran past its timeout of {job.timeout_seconds}s; its thread was "
                "abandoned and its late outcome will be discarded."
            )
            try:
                result = retrying(
                    lambda job=job, error=error: record_failure(  # type: ignore[misc]
                        job, error, float(job.timeout_seconds or 0)
                    ),
                    deadline=time.monotonic() + self.lease_seconds,
                    what=f"recording the timeout of job {job.id}",
                )
            except Exception:
                logger.exception("Job %s: recording its timeout failed", job.id)
                result = "unrecorded; rescue will requeue it when its lease expires"
            logger.error("Job %s timed out (%s)", job.id, result, extra={"job_id": job.id})
            # Keep the promised concurrency: a fresh slot replaces the one stuck in this job.
            self._add_slot()

    def _should_recycle(self) -> bool:
        if len(self.timed_out) >= self.max_abandoned:
            reason = f"{len(self.timed_out)} timed-out job threads abandoned"
        elif self.max_memory_mb is not None and rss_bytes() > self.max_memory_mb * 2**20:
            reason = f"resident memory above {self.max_memory_mb} MB"
        else:
            return False
        self.exit_code = EXIT_RECYCLE
        self.request_stop(f"recycling: {reason}")
        return True

    # Threads ------------------------------------------------------------------------------------

    def _start_threads(self) -> None:
        self._completer.start()
        for _ in range(self.concurrency):
            self._add_slot()
        self._spawn(self._heartbeat, "django-jobs-heartbeat")
        if self._listener is not None:
            self._listener.start()

    def _add_slot(self) -> None:
        thread = self._spawn(self._slot, f"django-jobs-slot-{len(self._slots)}")
        self._slots[thread] = None

    @staticmethod
    def _spawn(target: object, name: str) -> threading.Thread:
        # Daemon threads: a job still running when the grace period ends must not hold the
        # process open; its row has been released and will run again elsewhere.
        thread = threading.Thread(target=target, name=name, daemon=True)  # type: ignore[arg-type]
        thread.start()
        return thread

    def _slot(self) -> None:
        trouble_seen, idle_since = self._db_trouble, time.monotonic()
        try:
            while (job := self._inbox.get()) is not None:
                with self._lock:
                    if self._running.get(job.id) is not job:
                        continue  # released at shutdown before it started
                    self._executing += 1
                    if job.timeout_seconds:
                        self._deadlines[job.id] = time.monotonic() + job.timeout_seconds
                idle = time.monotonic() - idle_since
                if trouble_seen != self._db_trouble or idle > self.idle_check_seconds:
                    trouble_seen = self._db_trouble
                    drop_unusable_connection()
                handed_over = self._execute(job)
                idle_since = time.monotonic()
                with self._lock:
                    abandoned = job.lease_token in self._abandoned
                    if not abandoned:
                        self._executing -= 1
                        self._deadlines.pop(job.id, None)
                        if not handed_over:
                            self._forget(job)
                self._wake.set()
                if abandoned:
                    return  # a replacement slot already took this thread's place
        finally:
            close_quietly()

    def _forget(self, job: Job) -> None:
        # By identity: the id may belong to a newer claim of the same job by now. Hold the lock.
        if self._running.get(job.id) is job:
            del self._running[job.id]

    def _execute(self, job: Job) -> bool:
        """Run ``job``; return whether its success went to the completer to be written."""
        try:
            return (
                execute(
                    job,
                    write_deadline_seconds=self.lease_seconds,
                    on_success=self._completer.submit,
                )
                == "handed over"
            )
        except Exception:
            # Only the outcome write can get here (task errors are recorded by execute). The
            # lease will expire and rescue will put the job back: at-least-once, not lost.
            logger.exception(
                "Job %s: could not record its outcome; it will be rescued when its lease expires",
                job.id,
                extra={"job_id": job.id, "worker_id": self.worker_id},
            )
            return False

    def _written(self, job: Job, result: object, duration: float, written: bool | None) -> None:
        if written is not None:  # None: the write was given up (already logged)
            report_success(job, result, duration, written)
        else:
            self._db_trouble += 1
        with self._lock:
            self._forget(job)
        self._wake.set()

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
            # A job that finished since the snapshot is no longer running: not lost.
            lost = {i for i, _ in leases} - held
            with self._lock:
                lost &= self._running.keys()
            if lost:
                logger.warning(
                    "Worker %s lost the lease of jobs %s; their outcome will be discarded",
                    self.worker_id, sorted(lost),
                )  # fmt: skip
            lease.rescue()
        except TRANSIENT_ERRORS as exc:
            self._db_trouble += 1
            close_quietly()
            logger.warning("Heartbeat of %s failed (%s); will retry", self.worker_id, exc)

    # Shutdown -----------------------------------------------------------------------------------

    def _release_unstarted(self) -> None:
        """Give prefetched jobs that no slot started back to the queue, attempt not counted."""
        unstarted = []
        while True:
            try:
                job = self._inbox.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                unstarted.append(job)
        if not unstarted:
            return
        with self._lock:
            for job in unstarted:
                self._forget(job)
        try:
            released = retrying(
                lambda: outcome.release(unstarted),
                deadline=time.monotonic() + 10,
                what="releasing prefetched jobs",
            )
            logger.info("Worker %s released %d prefetched jobs", self.worker_id, released)
        except TRANSIENT_ERRORS:
            logger.warning("Could not release prefetched jobs; rescue will requeue them")

    def _shutdown(self) -> int:
        if self._listener is not None:
            self._listener.stop()
        self._release_unstarted()
        live_slots = [t for t in self._slots if t.is_alive()]
        for _ in live_slots:
            self._inbox.put(None)
        deadline = time.monotonic() + self.grace_seconds
        while self._executing and time.monotonic() < deadline:
            self._wake.wait(min(0.1, max(0.0, deadline - time.monotonic())))
            self._wake.clear()
            self._expire_timeouts()
        self._completer.stop(timeout_seconds=max(1.0, deadline - time.monotonic()))
        self._heartbeat_done.set()
        self.abandoned = self.running_jobs()
        if not self.abandoned:
            logger.info("Worker %s stopped cleanly", self.worker_id)
            return EXIT_OK
        released = retrying(
            lambda: outcome.release(self.abandoned),
            deadline=time.monotonic() + 10,
            what="releasing unfinished jobs",
        )
        logger.warning(
            "Worker %s: %d jobs still running after %.0fs grace; released %d back to the queue",
            self.worker_id, len(self.abandoned), self.grace_seconds, released,
        )  # fmt: skip
        return EXIT_ABANDONED
