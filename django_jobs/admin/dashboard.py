"""The queue dashboard page and its Pause/Resume buttons; numbers from ``django_jobs.dashboard``."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.admin import ModelAdmin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from .. import dashboard as queue_stats
from .. import pause, rollups
from ..exceptions import InvalidJobOptionsError
from .display import short_duration

#: Seconds between reloads when the page is asked to refresh itself (``?refresh=...``).
REFRESH_SECONDS = 10

#: The permission the Pause and Resume buttons need (``PausedQueue``'s custom permission).
PAUSE_QUEUE = "django_jobs.pause_queue"


def dashboard_view(model_admin: ModelAdmin[Any], request: HttpRequest) -> HttpResponse:
    """Show per-queue counts; needs the view permission on ``model_admin``'s model (jobs).

    Raises ``PermissionDenied`` (403) without it. Reads through indexes only (see
    ``django_jobs.dashboard.collect``). Users holding ``django_jobs.pause_queue`` also see a
    Pause or Resume button per queue.
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
        "can_pause": request.user.has_perm(PAUSE_QUEUE),
        "refresh_seconds": REFRESH_SECONDS if request.GET.get("refresh") else None,
    }
    return TemplateResponse(request, "admin/django_jobs/dashboard.html", context)


def pause_view(model_admin: ModelAdmin[Any], request: HttpRequest) -> HttpResponse:
    """Pause the queue named by the POST's ``queue`` field; back to the dashboard with a message.

    Needs ``django_jobs.pause_queue`` (else ``PermissionDenied``, 403); the caller makes it a
    CSRF-protected POST. Records the user's name as who paused it.
    """
    return _change(model_admin, request, _pause)


def resume_view(model_admin: ModelAdmin[Any], request: HttpRequest) -> HttpResponse:
    """Resume the queue named by the POST's ``queue`` field; as ``pause_view`` otherwise."""
    return _change(model_admin, request, _resume)


def _pause(request: HttpRequest, queue: str) -> str:
    if pause.pause_queue(queue, by=request.user.get_username()):
        return f"Paused queue {queue}: workers claim none of its jobs until it is resumed."
    return f"Queue {queue} was paused already."


def _resume(request: HttpRequest, queue: str) -> str:
    if pause.resume_queue(queue):
        return f"Resumed queue {queue}: workers claim its jobs again."
    return f"Queue {queue} was not paused."


def _change(model_admin: ModelAdmin[Any], request: HttpRequest, change: Any) -> HttpResponse:
    if not request.user.has_perm(PAUSE_QUEUE):
        raise PermissionDenied
    queue = request.POST.get("queue", "")
    try:
        model_admin.message_user(request, change(request, queue))
    except InvalidJobOptionsError as exc:
        model_admin.message_user(request, str(exc), messages.ERROR)
    opts = model_admin.model._meta
    return HttpResponseRedirect(reverse(f"admin:{opts.app_label}_{opts.model_name}_dashboard"))
