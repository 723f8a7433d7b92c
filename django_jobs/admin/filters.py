"""Sidebar filters that offer their choices without scanning the tables of finished work.

The job table keeps every finished job and the ledger a row per fire time, so each filter lists
its choices from an index (queues), from live and recent jobs (tasks) or from the settings
(schedules), never with a ``SELECT DISTINCT`` over the whole table.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from .. import dashboard
from ..models import Job, ScheduleRun
from ..scheduler.schedules import MANUAL_SUFFIX, load_schedules

#: The task filter offers the tasks of jobs finished this recently (and of every live job).
RECENT_TASKS = timedelta(days=1)


class QueueFilter(admin.SimpleListFilter):
    """Filter by queue, offering the queues the dashboard knows (no scan of finished jobs)."""

    title = "queue"
    parameter_name = "queue"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(name, name) for name in dashboard.queue_names(model_admin.model)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(queue=self.value()) if self.value() else queryset


class TaskFilter(admin.SimpleListFilter):
    """Filter by task, offering the tasks of live jobs and of jobs finished in the last day."""

    title = "task"
    parameter_name = "task_path"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        since = timezone.now() - RECENT_TASKS
        live = Job.objects.live().order_by().values_list("task_path", flat=True).distinct()
        recent = (
            Job.objects.filter(finished_at__gte=since)
            .order_by()
            .values_list("task_path", flat=True)
            .distinct()
        )
        names = set(live) | set(recent)
        if self.value():
            names.add(self.value())  # type: ignore[arg-type]
        return [(name, name) for name in sorted(names)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(task_path=self.value()) if self.value() else queryset


class DeclaredScheduleFilter(admin.SimpleListFilter):
    """Filter the ledger by the schedules declared in settings (plus their manual runs).

    Listing names from the settings, not with ``SELECT DISTINCT`` over the ledger, keeps the page
    cheap when an every-second schedule has written millions of rows.
    """

    title = "schedule"
    parameter_name = "schedule"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(name, name) for name in sorted(load_schedules())]

    def queryset(self, request: HttpRequest, queryset: QuerySet[ScheduleRun]) -> QuerySet[Any]:
        name = self.value()
        if not name:
            return queryset
        return queryset.filter(schedule__in=[name, name + MANUAL_SUFFIX])
