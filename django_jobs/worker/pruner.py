"""``Pruner``: the thread of every worker that, in the one worker leading the ``"pruner"`` role,
deletes finished rows past their retention.

Every ``HEARTBEAT_SECONDS`` it takes or renews the role (``django_jobs.leadership``, a lease of
``LEASE_SECONDS`` on a database row); the holder prunes every ``PRUNE_INTERVAL_SECONDS``: done
and cancelled jobs, dead jobs and schedule runs older than their ``*_RETENTION_SECONDS`` (a
retention of None keeps that kind forever). Deletes go through ``engine.prune*``,
``BATCH_SIZE`` rows per statement with a pause between statements (``PAUSE_SECONDS``, or
``PAUSE_FACTOR`` times the statement's own time if longer), so a prune of a million rows
neither holds locks long, nor floods the WAL and the replicas, nor keeps its connection busy
more than a quarter of the time; between batches the lease is renewed, and a pruner that lost
it, or whose worker is stopping, stops there. On a
graceful stop the role is released so another worker takes it at once; a worker killed holds it
one lease longer. Cut-offs are judged by the database's clock. (A leader-only pruner in every
worker is River's ``JobCleaner`` maintenance service and Oban's ``Pruner`` plugin.)

The thread survives any error: a lost connection is retried after ``OUTAGE_RETRY_SECONDS``,
anything else is logged and tried again on the next interval.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from .. import db, engine, leadership, rollups
from ..conf import jobs_settings

logger = logging.getLogger(__name__)

#: Rows per DELETE statement.
BATCH_SIZE = 1000
#: Pause between two DELETE statements: at least PAUSE_SECONDS, and PAUSE_FACTOR times as long
#: as the statement took, so a prune works at most a quarter of the time however slow the
#: database is under load, and leaves the rest to the workers' claims.
PAUSE_SECONDS = 0.1
PAUSE_FACTOR = 3.0
#: Pause before the next try while the database is unreachable (seconds).
OUTAGE_RETRY_SECONDS = 5.0


class Pruner:
    """Lead the ``"pruner"`` role when it is free and prune while leading; a daemon thread.

    ``lease_seconds``: how long a taken role is held without renewal; ``renew_seconds``: how often
    it is renewed (or, by a worker not leading, asked for). ``start()`` runs the thread;
    ``stop(timeout_seconds)`` ends it and waits for it to release the role.
    """

    def __init__(self, *, worker_id: str, lease_seconds: float, renew_seconds: float) -> None:
        self.worker_id = worker_id
        self.lease_seconds = lease_seconds
        self.renew_seconds = renew_seconds
        self.leading = False
        self.deleted: dict[str, int] = {}  # kind -> rows deleted by this worker, for tests/logs
        self._renew_at = 0.0
        self._prune_at = 0.0
        self._batch_started = 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="django-jobs-pruner", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, *, timeout_seconds: float = 5.0) -> None:
        """Stop pruning (after the current batch) and wait up to ``timeout_seconds`` for the
        thread to give the role up."""
        self._done.set()
        if self._thread.is_alive():
            self._thread.join(timeout_seconds)

    def _run(self) -> None:
        try:
            delay = 0.0
            while not self._done.wait(delay):
                delay = self.tick()
                if not self.leading:
                    # A follower only asks for the role now and then: no connection held between.
                    db.close_quietly()
        finally:
            self._give_up()
            db.close_quietly()

    def tick(self) -> float:
        """Take or renew the role, prune if leading and due; return seconds until the next tick."""
        try:
            if self._renew():
                now = time.monotonic()
                if now >= self._prune_at:
                    # Set first: a prune that fails is tried again next interval, not next beat.
                    self._prune_at = now + float(jobs_settings.PRUNE_INTERVAL_SECONDS)
                    self.prune_once()
                return max(0.0, min(self._renew_at, self._prune_at) - time.monotonic())
        except db.TRANSIENT_ERRORS as exc:
            db.close_quietly()
            self._set_leading(False)
            logger.warning("Pruner of %s cannot reach the database (%s)", self.worker_id, exc)
            return OUTAGE_RETRY_SECONDS
        except Exception:
            logger.exception("Pruner of %s failed; will try again", self.worker_id)
        return self.renew_seconds

    def prune_once(self) -> dict[str, int]:
        """Delete every kind past its retention now; return rows deleted per kind.

        Kinds whose retention is None are left alone; a prune cut short (stopping, lost the
        role) returns what it deleted so far.
        """
        now = db.database_now()
        deleted: dict[str, int] = {}
        self._batch_started = time.monotonic()
        for kind, delete in self._kinds():
            retention = getattr(jobs_settings, f"{kind.upper()}_RETENTION_SECONDS")
            if retention is None or self._done.is_set() or not self.leading:
                continue
            deleted[kind] = delete(now - timedelta(seconds=retention), self._between_batches)
            self.deleted[kind] = self.deleted.get(kind, 0) + deleted[kind]
        retention = jobs_settings.DONE_RETENTION_SECONDS
        if retention is not None and self.leading and not self._done.is_set():
            # Workflow rows go on the done jobs' retention, once finished (or unable to finish).
            before = now - timedelta(seconds=retention)
            deleted["workflow"] = engine.prune_workflows(before=before, batch_size=BATCH_SIZE)
            self.deleted["workflow"] = self.deleted.get("workflow", 0) + deleted["workflow"]
        if self.leading and not self._done.is_set():
            # The charts' per-minute rows, kept rollups.KEEP (a week): small, one DELETE.
            deleted["rollup"] = rollups.prune_rollups(now - rollups.KEEP)
            self.deleted["rollup"] = self.deleted.get("rollup", 0) + deleted["rollup"]
        if any(deleted.values()):
            logger.info(
                "Pruner of %s deleted %s", self.worker_id,
                ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in deleted.items() if n),
                extra={"worker_id": self.worker_id},
            )  # fmt: skip
        return deleted

    @staticmethod
    def _kinds() -> list[tuple[str, Callable[..., int]]]:
        return [
            ("done", lambda before, between: engine.prune(
                finished_before=before, statuses=["done"], batch_size=BATCH_SIZE,
                between_batches=between)),
            ("cancelled", lambda before, between: engine.prune(
                finished_before=before, statuses=["cancelled"], batch_size=BATCH_SIZE,
                between_batches=between)),
            ("dead", lambda before, between: engine.prune_dead_jobs(
                failed_before=before, batch_size=BATCH_SIZE, between_batches=between)),
            ("schedule_run", lambda before, between: engine.prune_schedule_runs(
                created_before=before, batch_size=BATCH_SIZE, between_batches=between)),
        ]  # fmt: skip

    def _between_batches(self) -> bool:
        # The pause keeps a long prune to a fraction of one connection; renewing here keeps the
        # role through a prune that outlasts a lease.
        took = time.monotonic() - self._batch_started
        if self._done.wait(max(PAUSE_SECONDS, PAUSE_FACTOR * took)):
            return False
        if time.monotonic() >= self._renew_at and not self._renew():
            return False
        self._batch_started = time.monotonic()
        return True

    def _renew(self) -> bool:
        term = leadership.acquire(
            leadership.PRUNER, self.worker_id, lease_seconds=self.lease_seconds
        )
        self._renew_at = time.monotonic() + self.renew_seconds
        self._set_leading(term is not None)
        return self.leading

    def _set_leading(self, leading: bool) -> None:
        if leading != self.leading:
            logger.info(
                "Worker %s %s the pruner role", self.worker_id,
                "now holds" if leading else "no longer holds",
                extra={"worker_id": self.worker_id},
            )  # fmt: skip
        self.leading = leading

    def _give_up(self) -> None:
        if not self.leading:
            return
        try:
            leadership.release(leadership.PRUNER, self.worker_id)
        except Exception as exc:  # the lease runs out by itself
            logger.warning("Pruner of %s could not release its role (%s)", self.worker_id, exc)
        self.leading = False
