"""The queue dashboard page; its numbers come from ``django_jobs.dashboard``."""

from __future__ import annotations

from typing import Any

from django.contrib.admin import ModelAdmin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from .. import dashboard as queue_stats
from .. import rollups
from .display import short_duration

#: Seconds between reloads when the page is asked to refresh itself (``?refresh=...``).
REFRESH_SECONDS = 10


def dashboard_view(model_admin: ModelAdmin[Any], request: HttpRequest) -> HttpResponse:
    """Show per-queue counts; needs the view permission on ``model_admin``'s model (jobs).

    Raises ``PermissionDenied`` (403) without it. Reads through indexes only (see
    ``django_jobs.dashboard.collect``).
    """
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    stats = queue_stats.collect()
    rows = [
        (row, short_duration(row.oldest_ready_age_seconds(stats.collected_at)))
        for row in [*stats.queues, stats.totals]
    ]
    context = {
        **model_admin.admin_site.each_context(request),
        "title": "Job queues",
        "opts": model_admin.model._meta,
        "stats": stats,
        "rows": rows,
        "dead_cap": queue_stats.DEAD_COUNT_CAP,
        "has_view_dead": request.user.has_perm("django_jobs.view_deadjob"),
        "flush_seconds": rollups.FLUSH_SECONDS,
        "keep_days": rollups.KEEP.days,
        "refresh_seconds": REFRESH_SECONDS if request.GET.get("refresh") else None,
    }
    return TemplateResponse(request, "admin/django_jobs/dashboard.html", context)
