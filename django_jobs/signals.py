"""Signals django-jobs sends. Receivers run in the sender's thread; keep them quick.

- ``job_enqueued(sender=Job, job)``: after the INSERT, inside the enqueuer's transaction.
- ``job_started(sender=Job, job, worker_id)``: in the worker, before the task runs.
- ``job_succeeded(sender=Job, job, result, duration_seconds)``: after the job is marked done.
- ``job_failed(sender=Job, job, error, will_retry, duration_seconds)``: once recorded.
- ``job_dead_lettered(sender=Job, job, dead_job)``: after the job moved to ``DeadJob``.
- ``job_snoozed(sender=Job, job, seconds, run_at, duration_seconds)``: after the job was queued
  again for ``run_at`` (its attempt given back).
- ``job_cancelled(sender=Job, job, error, duration_seconds)``: after a running job that was asked
  to stop (or raised ``JobCancelled``) is marked cancelled; ``error`` is what its task raised.
  Not sent for queued jobs, which ``cancel`` ends at once.
"""

import logging
from typing import Any

from django.dispatch import Signal

logger = logging.getLogger(__name__)

# Cached per sender, as Django's model signals are: the worker sends one or two of these per
# job, and the receivers of ``Job`` are looked up once per connect or disconnect, not per send.
job_enqueued = Signal(use_caching=True)
job_started = Signal(use_caching=True)
job_succeeded = Signal(use_caching=True)
job_failed = Signal(use_caching=True)
job_dead_lettered = Signal(use_caching=True)
job_snoozed = Signal(use_caching=True)
job_cancelled = Signal(use_caching=True)


def send_from_worker(signal: Signal, **kwargs: Any) -> None:
    """Send ``signal`` from the worker: a receiver's error is logged, never raised.

    The job's outcome is already decided or written; a faulty receiver must neither change it
    nor take a worker thread down.
    """
    for receiver, result in signal.send_robust(**kwargs):
        if isinstance(result, Exception):
            job = kwargs.get("job")
            logger.error(
                "Receiver %r of a django-jobs signal raised %r",
                receiver,
                result,
                exc_info=result,
                extra={"job_id": getattr(job, "id", None)},
            )
