"""Prometheus metrics: the worker's own (``runworker --metrics-port``) and the queues' (a view).

Two sources, because they answer different questions. A worker counts what it did (jobs
finished by outcome, their durations, how long they waited to be picked up, claims, rescues,
database errors) in memory, at no database cost, and serves them on its own port. The queues'
state (depth, the oldest ready job's age, dead jobs) is in the database, read at scrape time by
``django_jobs.metrics.views.queue_metrics`` through the dashboard's indexed queries.

Exposition is ``prometheus_client``'s, an optional dependency
(``pip install "django-durable-jobs[prometheus]"``): it is imported only when metrics are asked
for, so django-jobs imports and runs without it. Labels are the queue and the task path only,
both bounded by the project's code, never a job id or an argument.
"""

from __future__ import annotations

from types import ModuleType

from ..exceptions import ConfigurationError

INSTALL = 'python -m pip install "django-durable-jobs[prometheus]"'


class MetricsUnavailableError(ConfigurationError):
    """Metrics were asked for, but ``prometheus_client`` is not installed."""


def require_prometheus() -> ModuleType:
    """Import and return ``prometheus_client``.

    Raises ``MetricsUnavailableError`` naming the pip command when it is not installed.
    """
    try:
        import prometheus_client
    except ImportError as exc:
        raise MetricsUnavailableError(
            f"Metrics need the prometheus-client package, which is not installed: {INSTALL}"
        ) from exc
    return prometheus_client
