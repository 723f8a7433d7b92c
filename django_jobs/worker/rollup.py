"""``Rollup``: the observer that counts what this worker does per queue and minute, and a thread
that adds the counts to the ``MinuteRollup`` table every ``FLUSH_SECONDS``.

On the hot path each job costs two dict increments under a lock (one when it starts, one when
it finishes): no query, no allocation beyond a new (queue, minute) entry. The flush takes the
pending counts, writes them with one upsert (``django_jobs.rollups.add``) and, if the database
refuses or is away, puts them back to be added with the next flush, so an outage delays the
charts but loses nothing. Memory is bounded: past ``MAX_PENDING`` (queue, minute) entries the
oldest minutes are dropped, with a warning. A last flush runs at shutdown.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime

from .. import db, latency
from ..models import Job
from ..rollups import FLUSH_SECONDS, Counts, add, minute_of
from .observers import Observer, Outcome

logger = logging.getLogger(__name__)

#: Most (queue, minute) entries kept while the database is away: a day of 50 queues or so.
MAX_PENDING = 100_000
#: How long the flush at shutdown keeps trying through an outage (seconds).
FINAL_FLUSH_SECONDS = 3.0

Key = tuple[str, datetime]


class Rollup(Observer):
    """Count done and failed jobs and pickup latencies per (queue, UTC minute); flush them.

    ``start()`` runs the flush thread; ``stop()`` ends it after a last flush (waiting at most
    ``FINAL_FLUSH_SECONDS`` through an outage). ``flush()`` may also be called directly; it
    returns how many (queue, minute) rows it wrote. Thread-safe: the observer methods run in
    the slot and completer threads.
    """

    def __init__(
        self,
        *,
        worker_id: str = "",
        interval_seconds: float = FLUSH_SECONDS,
        max_pending: int = MAX_PENDING,
    ) -> None:
        self.worker_id = worker_id
        self.interval_seconds = interval_seconds
        self.max_pending = max_pending
        self.dropped = 0
        self._pending: dict[Key, Counts] = {}
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="django-jobs-rollup", daemon=True)

    # Observer (hot path) -----------------------------------------------------------------------

    def started(self, job: Job) -> None:
        if job.started_at is None:
            return
        ready_at = max(job.enqueued_at, job.run_at)
        index = latency.bucket_index((job.started_at - ready_at).total_seconds())
        key = (job.queue, minute_of(job.started_at))
        with self._lock:
            self._counts(key).pickup_buckets[index] += 1

    def finished(self, job: Job, outcome: Outcome, duration_seconds: float) -> None:
        if outcome not in ("done", "retry", "dead"):
            return  # cancelled runs and lost outcomes are not the job's result
        key = (job.queue, minute_of(datetime.now(UTC)))
        with self._lock:
            counts = self._counts(key)
            if outcome == "done":
                counts.done += 1
            else:
                counts.failed += 1
            counts.duration_seconds_sum += duration_seconds

    def _counts(self, key: Key) -> Counts:
        # Called with self._lock held.
        counts = self._pending.get(key)
        if counts is None:
            if len(self._pending) >= self.max_pending:
                self._drop_oldest()
            counts = self._pending[key] = Counts()
        return counts

    def _drop_oldest(self) -> None:
        oldest = min(self._pending, key=lambda key: key[1])
        del self._pending[oldest]
        self.dropped += 1
        if self.dropped == 1 or self.dropped % 1000 == 0:
            logger.warning(
                "Worker %s: chart counts dropped unwritten, oldest first: %d queue-minutes so "
                "far (the database has been away long; MAX_PENDING=%d)",
                self.worker_id, self.dropped, self.max_pending,
            )  # fmt: skip

    # Flushing ------------------------------------------------------------------------------------

    def pending(self) -> dict[Key, Counts]:
        """Return a copy of the counts not yet written (for tests and debugging)."""
        with self._lock:
            return {key: _copy(counts) for key, counts in self._pending.items()}

    def flush(self) -> int:
        """Add the pending counts to the table; return the rows written.

        On a database error the counts are put back (merged with any counted meanwhile) and
        the error is raised.
        """
        with self._flush_lock:
            with self._lock:
                taken, self._pending = self._pending, {}
            if not taken:
                return 0
            try:
                add(taken)
            except BaseException:
                self._put_back(taken)
                raise
            return len(taken)

    def _put_back(self, taken: dict[Key, Counts]) -> None:
        with self._lock:
            for key, counts in taken.items():
                if key in self._pending:
                    counts.absorb(self._pending[key])
                self._pending[key] = counts
            while len(self._pending) > self.max_pending:
                self._drop_oldest()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """End the flush thread after a last flush; return once it ended or gave up."""
        self._done.set()
        if self._thread.is_alive():
            self._thread.join(FINAL_FLUSH_SECONDS + 10.0)

    def _run(self) -> None:
        try:
            while not self._done.wait(self.interval_seconds):
                self._flush_logged()
                # One upsert every interval does not need a connection held between them: the
                # worker's connection budget stays at its main, completer, heartbeat and listener.
                db.close_quietly()
            self._final_flush()
        finally:
            db.close_quietly()

    def _flush_logged(self) -> None:
        try:
            self.flush()
        except db.TRANSIENT_ERRORS as exc:
            db.close_quietly()
            logger.warning(
                "Worker %s: chart counts not written (%s); they are kept for the next try",
                self.worker_id, exc,
            )  # fmt: skip
        except Exception:
            logger.exception("Worker %s: chart counts not written; will try again", self.worker_id)

    def _final_flush(self) -> None:
        try:
            db.with_reconnect(
                self.flush,
                what="writing the last chart counts",
                give_up=db.before(time.monotonic() + FINAL_FLUSH_SECONDS),
            )
        except Exception:
            with self._lock:
                lost = len(self._pending)
            logger.exception(
                "Worker %s: the last %d minutes of chart counts could not be written",
                self.worker_id, lost,
            )  # fmt: skip


def _copy(counts: Counts) -> Counts:
    return Counts(
        counts.done, counts.failed, counts.duration_seconds_sum, list(counts.pickup_buckets)
    )
