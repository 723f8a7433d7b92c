"""``QueueCollector``: the queues' state, read from the database at each scrape.

A custom ``prometheus_client`` collector, so nothing is cached between scrapes and nothing is
counted in a process that is not scraped. The figures are ``dashboard.backlog()``'s, the admin
dashboard's own indexed queries: each is bounded by the backlog (queued and running jobs) or by
a queue's dead jobs up to ``DEAD_COUNT_CAP``, never by the history of done jobs.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.utils import timezone

from .. import dashboard
from . import require_prometheus

#: The ``state`` label of ``django_jobs_queue_jobs``, in the order exposed.
STATES = ("ready", "scheduled", "retry", "running")


class QueueCollector:
    """Yield the queue gauges: depth by state, the oldest ready job's age, dead jobs.

    ``now`` (a callable returning an aware UTC datetime) is for tests. Raises
    ``MetricsUnavailableError`` when ``prometheus_client`` is not installed; database errors
    propagate to the scrape.
    """

    def __init__(self, now: Any = timezone.now) -> None:
        self._metrics = require_prometheus().metrics_core
        self._now = now

    def describe(self) -> Iterator[Any]:
        """Yield the families without samples: registering reads no database."""
        yield from self._families()

    def collect(self) -> Iterator[Any]:
        now: datetime = self._now()
        depth, age, dead = self._families()
        for row in dashboard.backlog(now):
            scheduled = row.queued - row.ready - row.retry_waiting
            for state, count in zip(
                STATES, (row.ready, scheduled, row.retry_waiting, row.running), strict=True
            ):
                depth.add_metric([row.queue, state], count)
            age.add_metric([row.queue], row.oldest_ready_age_seconds(now) or 0.0)
            dead.add_metric([row.queue], row.dead)
        yield from (depth, age, dead)

    def _families(self) -> tuple[Any, Any, Any]:
        gauge = self._metrics.GaugeMetricFamily
        return (
            gauge(
                "django_jobs_queue_jobs",
                "Live jobs by state: ready to run now, scheduled for later, waiting out a "
                "retry's backoff, running.",
                labels=["queue", "state"],
            ),
            gauge(
                "django_jobs_queue_oldest_ready_age_seconds",
                "Seconds the oldest ready job has waited past its run_at (0 when none is ready).",
                labels=["queue"],
            ),
            gauge(
                "django_jobs_dead_jobs",
                f"Dead jobs, counted up to {dashboard.DEAD_COUNT_CAP}.",
                labels=["queue"],
            ),
        )
