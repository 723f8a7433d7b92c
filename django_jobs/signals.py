"""Signals django-jobs sends. Receivers run in the sender's thread; keep them quick.

- ``job_enqueued(sender=Job, job)``: after the INSERT, inside the enqueuer's transaction.
- ``job_started(sender=Job, job, worker_id)``: in the worker, before the task runs.
- ``job_succeeded(sender=Job, job, result, duration_seconds)``: after the job is marked done.
- ``job_failed(sender=Job, job, error, will_retry, duration_seconds)``: once recorded.
- ``job_dead_lettered(sender=Job, job, dead_job)``: after the job moved to ``DeadJob``.
"""

from django.dispatch import Signal

job_enqueued = Signal()
job_started = Signal()
job_succeeded = Signal()
job_failed = Signal()
job_dead_lettered = Signal()
