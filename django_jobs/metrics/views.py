"""``queue_metrics``: the queues' gauges in Prometheus' text format, for a scraper.

Mounted by ``django_jobs.urls`` at ``metrics/``. Who may scrape is decided by the
``DJANGO_JOBS['METRICS_PERMISSION']`` hook (``django_jobs.permissions``), asked before any query.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from ..permissions import metrics_permission
from . import require_prometheus
from .collector import QueueCollector


@never_cache
@require_GET
def queue_metrics(request: HttpRequest) -> HttpResponse:
    """Return the ``QueueCollector`` figures, read now; 403 (plain text) when the hook refuses.

    The format follows the ``Accept`` header (Prometheus' text format, or OpenMetrics when the
    scraper asks for it). Raises ``MetricsUnavailableError`` (a 500, with the pip command in the
    log) when ``prometheus_client`` is not installed.
    """
    if not metrics_permission()(request):
        return HttpResponse(
            "You may not read these metrics.\n", status=403, content_type="text/plain"
        )
    prometheus = require_prometheus()
    registry = prometheus.CollectorRegistry(auto_describe=False)
    registry.register(QueueCollector())
    encoder, content_type = prometheus.exposition.choose_encoder(request.headers.get("Accept"))
    return HttpResponse(encoder(registry), content_type=content_type)
