"""``MetricsObserver``: a worker's counters and histograms, fed by the worker's observer calls.

Registered by ``runworker --metrics-port`` only, so a worker without metrics pays nothing. Each
call is a label look-up and an increment under ``prometheus_client``'s own lock: microseconds,
from whichever worker thread saw the event.
"""

from __future__ import annotations

import threading
from typing import Any

from ..models import Job
from ..worker.observers import Observer, Outcome
from . import require_prometheus

#: Seconds. Jobs run from milliseconds (mail) to an hour (reports); pick-up waits likewise.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
LATENCY_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600)
#: Distinct task labels one worker process reports; past them a task is counted as OTHER_TASK.
#: Task paths come from the project's code, but a row may name any string (a task since
#: renamed, a path written by hand), and each label is a time series kept forever.
MAX_TASK_LABELS = 500
OTHER_TASK = "other"


class MetricsObserver(Observer):
    """Count one worker's jobs into ``registry`` (a ``prometheus_client.CollectorRegistry``).

    Without ``registry`` a new one is made (``self.registry``). Raises ``MetricsUnavailableError``
    when ``prometheus_client`` is not installed. In ``prometheus_client``'s multiprocess mode
    (``PROMETHEUS_MULTIPROC_DIR`` set before it was first imported), the values go to that
    directory instead, for the process serving the port to add up.
    """

    def __init__(self, registry: Any = None) -> None:
        prometheus = require_prometheus()
        self.registry = prometheus.CollectorRegistry() if registry is None else registry
        metric = {"registry": self.registry}
        self.finished_jobs = prometheus.Counter(
            "django_jobs_jobs_finished_total",
            "Jobs whose attempt ended, by outcome (done, retry, dead, snoozed, cancelled, lost).",
            ["queue", "task", "outcome"],
            **metric,
        )
        self.duration = prometheus.Histogram(
            "django_jobs_job_duration_seconds",
            "Time a job's attempt ran, in seconds (done, retry and dead outcomes).",
            ["queue", "task"],
            buckets=DURATION_BUCKETS,
            **metric,
        )
        self.pickup_latency = prometheus.Histogram(
            "django_jobs_job_pickup_latency_seconds",
            "Seconds from when a job could run (the later of enqueued_at and run_at) to its start.",
            ["queue"],
            buckets=LATENCY_BUCKETS,
            **metric,
        )
        self.claims = prometheus.Counter(
            "django_jobs_claims_total", "Claim statements run, including those that found no job.",
            **metric,
        )  # fmt: skip
        self.claimed_jobs = prometheus.Counter(
            "django_jobs_claimed_jobs_total", "Jobs claimed.", **metric
        )
        self.rescues = prometheus.Counter(
            "django_jobs_rescues_total",
            "Jobs of other workers whose lease had expired, rescued by this worker's heartbeat.",
            **metric,
        )
        self.database_errors = prometheus.Counter(
            "django_jobs_database_errors_total",
            "Database calls of this worker that failed (a lost connection, a refused write).",
            **metric,
        )
        self._tasks: set[str] = set()
        self._tasks_lock = threading.Lock()

    def _task(self, path: str) -> str:
        if path in self._tasks:
            return path
        with self._tasks_lock:
            if len(self._tasks) >= MAX_TASK_LABELS:
                return OTHER_TASK
            self._tasks.add(path)
        return path

    def claimed(self, count: int) -> None:
        self.claims.inc()
        if count:
            self.claimed_jobs.inc(count)

    def started(self, job: Job) -> None:
        if job.started_at is None:
            return
        ready_at = max(job.enqueued_at, job.run_at)
        waited = (job.started_at - ready_at).total_seconds()
        self.pickup_latency.labels(job.queue).observe(max(0.0, waited))

    def finished(self, job: Job, outcome: Outcome, duration_seconds: float) -> None:
        task = self._task(job.task_path)
        self.finished_jobs.labels(job.queue, task, outcome).inc()
        if outcome in ("done", "retry", "dead"):
            self.duration.labels(job.queue, task).observe(duration_seconds)

    def rescued(self, count: int) -> None:
        self.rescues.inc(count)

    def database_error(self) -> None:
        self.database_errors.inc()
