"""The dashboard's chart data: ``charts.json``, the last hour of per-minute rollups per queue.

Reads only ``MinuteRollup`` rows (at most 60 per queue, through the ``minute`` index), never the
job table, so it costs the same at ten million jobs as at ten.
"""

from __future__ import annotations

from typing import Any

from django.contrib.admin import ModelAdmin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, JsonResponse

from .. import latency, rollups


def charts_view(model_admin: ModelAdmin[Any], request: HttpRequest) -> JsonResponse:
    """Return the last hour's rollups as JSON; needs the view permission on jobs.

    The shape: ``{"minutes": [ISO 8601 UTC, oldest first], "queues": [{"queue", "done",
    "failed", "pickup_p50_seconds", "pickup_p95_seconds"}], "bucket_bounds_seconds": [...]}``,
    each list a value per minute (latencies null where no job started). Raises
    ``PermissionDenied`` (403) without the permission.
    """
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    data = rollups.last_hour().as_json()
    data["bucket_bounds_seconds"] = list(latency.BOUNDS)
    response = JsonResponse(data)
    response["Cache-Control"] = "no-store"
    return response
