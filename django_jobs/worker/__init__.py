"""The worker: claim ready jobs, run them, record each outcome under a lease.

Its parts, one module each: ``runner`` (the ``Worker`` and its main loop), ``feed`` (the buffer
of claimed jobs and their start), ``slots`` (the threads that run jobs), ``execute`` (one job's
task, turned into an outcome value), ``record`` (writing outcomes through outages, their logs and
signals), ``completer`` (successes written in batches), ``heartbeat`` (lease renewal and rescue),
``timeouts``, ``shutdown``, ``listen`` (wake-ups from PostgreSQL's NOTIFY), ``supervisor``
(``--processes``) and ``memory``.
"""

from .runner import Worker

__all__ = ["Worker"]
