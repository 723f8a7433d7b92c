"""``Recorder``: write each outcome through the engine, through outages, then log and signal it.

One place for what a worker says about a job: the log lines (``django_jobs.worker.record``,
with ``job_id`` and ``worker_id`` in ``extra``) and the signals, sent only once the outcome is
written. Successes go to the batching completer; failures are written here, by the thread that
has them, so a slot does not take its next job before its last one is recorded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.db import DatabaseError

from .. import db, engine
from ..conf import jobs_settings
from ..exceptions import ResultStorageError
from ..models import DeadJob, Job
from ..outcome import Cancelled, FailRecord, Recorded, Snoozed, SnoozeRecord, Succeeded
from ..signals import (
    job_cancelled,
    job_dead_lettered,
    job_failed,
    job_snoozed,
    job_started,
    job_succeeded,
    send_from_worker,
)
from ..snooze import Snooze
from .observers import Observers
from .shared import Health, Held

logger = logging.getLogger(__name__)


def _extra(job: Job, **more: Any) -> dict[str, Any]:
    return {"job_id": job.id, "worker_id": job.worker_id, "task": job.task_path, **more}


class Recorder:
    """Record outcomes for the worker whose leases are ``held``.

    Writes are repeated through lost connections until they succeed or ``give_up()`` turns
    true (the worker's shutdown grace is over): fenced writes are safe to repeat, and an
    outcome given up early would make a healthy job run twice. A write the database refuses
    for another reason is logged and the job forgotten: its lease expires and rescue takes it.
    """

    def __init__(
        self,
        held: Held,
        health: Health,
        give_up: Callable[[], bool],
        observers: Observers | None = None,
    ) -> None:
        self.held = held
        self.health = health
        self.give_up = give_up
        self.observers = observers or Observers()

    def started(self, job: Job) -> None:
        """Log and signal that ``job`` is about to run (its attempt is charged already)."""
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "Job %s %s started (attempt %d/%d)",
                job.id, job.task_path, job.attempts, job.max_attempts, extra=_extra(job),
            )  # fmt: skip
        self.observers.started(job)
        send_from_worker(job_started, sender=Job, job=job, worker_id=job.worker_id)

    def fail(self, job: Job, error: BaseException, duration_seconds: float) -> Recorded | None:
        """Write the failure of ``job``'s attempt; return what was written, None if nothing
        could be (logged)."""
        try:
            record = db.with_reconnect(
                lambda: engine.fail(job, error),
                what=f"recording the failure of job {job.id}",
                give_up=self.give_up,
            )
        except Exception:
            self.health.report_trouble()
            self.observers.database_error()
            logger.exception(
                "Job %s: could not record its failure (%s); rescue will take it back when its "
                "lease expires", job.id, type(error).__name__, extra=_extra(job),
            )  # fmt: skip
            self.held.drop([job])
            return None
        self.held.drop([job])
        self.report_failure(job, error, record, duration_seconds)
        return record.recorded

    def snooze(self, job: Job, outcome: Snoozed) -> Recorded | None:
        """Write ``job``'s snooze (or, past ``MAX_SNOOZES``, its failure); return what was
        written, None if nothing could be (logged). Written here, one job at a time, not by the
        success completer."""
        try:
            record = db.with_reconnect(
                lambda: engine.snooze(job, outcome.seconds),
                what=f"recording the snooze of job {job.id}",
                give_up=self.give_up,
            )
        except Exception:
            self.health.report_trouble()
            self.observers.database_error()
            logger.exception(
                "Job %s: could not record its snooze; rescue will take it back when its lease "
                "expires", job.id, extra=_extra(job),
            )  # fmt: skip
            self.held.drop([job])
            return None
        self.held.drop([job])
        if record.failed is not None and record.error is not None:  # past MAX_SNOOZES
            self.report_failure(job, record.error, record.failed, outcome.duration_seconds)
            return record.recorded
        self.report_snooze(job, record, outcome)
        return record.recorded

    def report_snooze(self, job: Job, record: SnoozeRecord, outcome: Snoozed) -> None:
        """Log a written snooze and send ``job_snoozed`` (or, when a cancel request won over
        the snooze, ``job_cancelled``)."""
        if record.recorded is Recorded.LOST:
            self.report_lost(job)
            return
        if record.recorded is Recorded.CANCELLED:
            self.report_cancelled(job, Snooze(outcome.seconds), outcome.duration_seconds)
            return
        assert record.run_at is not None
        self.observers.finished(job, "snoozed", outcome.duration_seconds)
        if logger.isEnabledFor(logging.INFO):
            logger.info(
                "Job %s %s snoozed for %gs (snooze %d/%d), runs again at %s",
                job.id, job.task_path, outcome.seconds, job.snoozes,
                jobs_settings.MAX_SNOOZES, record.run_at.isoformat(),
                extra=_extra(job, duration=outcome.duration_seconds),
            )  # fmt: skip
        send_from_worker(
            job_snoozed,
            sender=Job,
            job=job,
            seconds=outcome.seconds,
            run_at=record.run_at,
            duration_seconds=outcome.duration_seconds,
        )

    def cancelled(self, job: Job, outcome: Cancelled) -> Recorded | None:
        """Write that ``job``'s task stopped at a cancel request; return what was written, None
        if nothing could be (logged; rescue then finds the request and cancels it)."""
        try:
            recorded = db.with_reconnect(
                lambda: engine.acknowledge_cancel(job, outcome.error),
                what=f"recording the cancellation of job {job.id}",
                give_up=self.give_up,
            )
        except Exception:
            self.health.report_trouble()
            self.observers.database_error()
            logger.exception(
                "Job %s: could not record its cancellation; rescue will end it when its lease "
                "expires", job.id, extra=_extra(job),
            )  # fmt: skip
            self.held.drop([job])
            return None
        self.held.drop([job])
        if recorded is Recorded.LOST:
            self.report_lost(job)
        else:
            self.report_cancelled(job, outcome.error, outcome.duration_seconds)
        return recorded

    def report_cancelled(self, job: Job, error: BaseException, duration_seconds: float) -> None:
        """Log a written cancellation and send ``job_cancelled``."""
        self.observers.finished(job, "cancelled", duration_seconds)
        asked = job.cancel_requested_at
        logger.info(
            "Job %s %s cancelled in %.3fs on attempt %d/%d%s: %s: %s",
            job.id, job.task_path, duration_seconds, job.attempts, job.max_attempts,
            f" (asked at {asked.isoformat()})" if asked else "",
            type(error).__name__, error, extra=_extra(job, duration=duration_seconds),
        )  # fmt: skip
        send_from_worker(
            job_cancelled, sender=Job, job=job, error=error, duration_seconds=duration_seconds
        )

    def report_failure(
        self, job: Job, error: BaseException, record: FailRecord, duration_seconds: float
    ) -> None:
        """Log a written failure and send ``job_failed`` (and ``job_dead_lettered``)."""
        extra = _extra(job, duration=duration_seconds)
        failure = record.failure
        if record.recorded is Recorded.LOST:
            self.report_lost(job)
            return
        if record.recorded is Recorded.CANCELLED:
            self.report_cancelled(job, error, duration_seconds)
            return
        self.observers.finished(
            job, "dead" if record.recorded is Recorded.DEAD else "retry", duration_seconds
        )
        if record.recorded is Recorded.DEAD:
            logger.error(
                "Job %s %s failed in %.3fs on attempt %d/%d and was dead-lettered: %s: %s",
                job.id, job.task_path, duration_seconds, job.attempts, job.max_attempts,
                failure.exception_class, failure.message, extra=extra,
            )  # fmt: skip
        else:
            assert record.run_at is not None
            logger.warning(
                "Job %s %s failed in %.3fs on attempt %d/%d, retry at %s: %s: %s",
                job.id, job.task_path, duration_seconds, job.attempts, job.max_attempts,
                record.run_at.isoformat(), failure.exception_class, failure.message, extra=extra,
            )  # fmt: skip
        send_from_worker(
            job_failed,
            sender=Job,
            job=job,
            error=error,
            will_retry=record.recorded is Recorded.RETRIED,
            duration_seconds=duration_seconds,
        )
        if record.dead_job is not None:
            self.report_dead(job, record.dead_job)

    @staticmethod
    def report_dead(job: Job, dead_job: DeadJob) -> None:
        """Send ``job_dead_lettered`` for ``job``, now ``dead_job``."""
        send_from_worker(job_dead_lettered, sender=Job, job=job, dead_job=dead_job)

    def written(self, job: Job, outcome: Succeeded, fate: Recorded | DatabaseError | None) -> None:
        """Finish a success the completer wrote: ``fate`` is DONE, LOST, the error that refused
        the row (the job then fails with ``ResultStorageError``), or None (given up)."""
        if isinstance(fate, DatabaseError):
            error = ResultStorageError(f"The database refused to store the result: {fate}")
            error.__cause__ = fate
            self.fail(job, error, outcome.duration_seconds)
            return
        self.held.drop([job])
        if fate is None:
            self.health.report_trouble()
            self.observers.database_error()
        elif fate is Recorded.LOST:
            self.report_lost(job)
        else:
            self.observers.finished(job, "done", outcome.duration_seconds)
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug(
                    "Job %s %s done in %.3fs (attempt %d)",
                    job.id, job.task_path, outcome.duration_seconds, job.attempts,
                    extra=_extra(job, duration=outcome.duration_seconds),
                )  # fmt: skip
            send_from_worker(
                job_succeeded,
                sender=Job,
                job=job,
                result=outcome.result,
                duration_seconds=outcome.duration_seconds,
            )

    def report_lost(self, job: Job) -> None:
        self.observers.finished(job, "lost", 0.0)
        logger.warning(
            "Job %s %s: lease lost before its outcome was written; the outcome was discarded",
            job.id, job.task_path, extra=_extra(job),
        )  # fmt: skip
