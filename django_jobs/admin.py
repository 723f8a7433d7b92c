"""Admin for jobs and dead jobs: inspect, cancel, run now, replay; and the queue dashboard.

Rows change only through the named functions of ``django_jobs.engine``, offered as admin
actions (POSTs under the admin's CSRF protection), each behind its own permission:
``django_jobs.cancel_job``, ``django_jobs.run_now_job`` and ``django_jobs.replay_deadjob``. Looking
needs the models' view permissions. The change form is read-only.

The job table keeps every finished job, so nothing on these pages counts or scans it whole: the
filters list queues and tasks from live and recent jobs, and the unfiltered list shows the
planner's row estimate on PostgreSQL instead of a ``COUNT(*)``.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.views.decorators.http import require_POST

from . import dashboard, engine
from .exceptions import ReplayConflictError
from .models import DeadJob, Job, JobStatus

RECENT_TASKS = timedelta(days=1)
ESTIMATE_ABOVE = 100_000


def short_duration(seconds: float | None) -> str:
    """Return ``seconds`` as a short, rounded, human duration; "-" for None.

    >>> [short_duration(s) for s in (None, 4.2, 75, 3 * 3600 + 125, 2 * 86400 + 3700)]
    ['-', '4s', '1m 15s', '3h 2m', '2d 1h']
    """
    if seconds is None:
        return "-"
    total = int(seconds)
    for unit, size, sub_unit, sub_size in (
        ("d", 86400, "h", 3600),
        ("h", 3600, "m", 60),
        ("m", 60, "s", 1),
    ):
        if total >= size:
            return f"{total // size}{unit} {(total % size) // sub_size}{sub_unit}"
    return f"{total}s"


def _pre(text: str) -> SafeString:
    return format_html('<pre class="django-jobs-pre">{}</pre>', text or "")


def _json(value: Any) -> SafeString:
    return _pre(json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True))


def _errors_html(errors: list[dict[str, Any]]) -> SafeString:
    if not errors:
        return format_html("<p>{}</p>", "No attempt has failed.")
    return format_html_join(
        "",
        '<div class="django-jobs-error"><h3>Attempt {} failed at {}: {}</h3>'
        '<p class="django-jobs-message">{}</p><pre class="django-jobs-pre">{}</pre></div>',
        (
            (
                e.get("attempt", "?"),
                e.get("failed_at", "?"),
                e.get("exception_class", ""),
                e.get("message", ""),
                e.get("traceback", ""),
            )
            for e in reversed(errors)
        ),
    )


class EstimatedCountPaginator(Paginator):
    """Count an unfiltered job list from PostgreSQL's estimate once it is past ``ESTIMATE_ABOVE``.

    An exact ``COUNT(*)`` of a table of millions of finished jobs costs a full scan on every page
    load. Filtered lists (by status, queue, search...) are still counted exactly.
    """

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if isinstance(queryset, QuerySet) and not queryset.query.where:
            estimate = dashboard.row_estimate(queryset.model)
            if estimate is not None and estimate > ESTIMATE_ABOVE:
                return estimate
        return super().count


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


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows change only through named actions, never through the change form."""

    show_full_result_count = False
    # Facet counts would COUNT every finished job for each filter choice.
    show_facets = admin.ShowFacets.NEVER
    paginator = EstimatedCountPaginator
    id_field = "id"

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        # A number is a job id: one primary-key probe, where the OR with the text fields would
        # scan every finished job too.
        term = search_term.strip()
        if term.isdigit() and len(term) < 19:
            return queryset.filter(**{self.id_field: int(term)}), False
        return super().get_search_results(request, queryset, search_term)

    # Both Job and DeadJob keep the call as args and kwargs.
    @admin.display(description="args")
    def args_display(self, obj: Job | DeadJob) -> SafeString:
        return _json(obj.args)

    @admin.display(description="kwargs")
    def kwargs_display(self, obj: Job | DeadJob) -> SafeString:
        return _json(obj.kwargs)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def _object_url(self, name: str, obj_id: Any) -> str:
        opts = self.model._meta
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_{name}", args=[obj_id])

    def _post_view(self, view: Any) -> Any:
        # admin_view() refuses non-staff users and applies CSRF protection; require_POST turns
        # a stray GET (a prefetching browser, a crawler) into a 405 instead of a state change.
        return self.admin_site.admin_view(require_POST(view))


@admin.register(Job)
class JobAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "task_path",
        "queue",
        "status_display",
        "priority",
        "attempts_display",
        "run_at",
        "age",
        "worker_id",
    )
    list_filter = ("status", QueueFilter, TaskFilter)
    search_fields = ("task_path", "idempotency_key__exact")
    actions = ("run_now_selected", "cancel_selected")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "id",
                    "task_path",
                    "status_display",
                    "queue",
                    "priority",
                    "idempotency_key",
                    "worker_id",
                )
            },
        ),
        ("Call", {"fields": ("args_display", "kwargs_display")}),
        ("Progress and result", {"fields": ("progress_display", "result_display")}),
        ("Attempts", {"fields": ("attempts_display", "errors_display")}),
        (
            "Times",
            {
                "fields": (
                    "enqueued_at",
                    "run_at",
                    "started_at",
                    "finished_at",
                    "lease_expires_at",
                    "timeout_seconds",
                )
            },
        ),
    )
    readonly_fields = (
        "status_display",
        "args_display",
        "kwargs_display",
        "progress_display",
        "result_display",
        "attempts_display",
        "errors_display",
    )
    change_list_template = "admin/django_jobs/job/change_list.html"
    change_form_template = "admin/django_jobs/job/change_form.html"

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Finished jobs are history; queued ones are cancelled, which says what happened.
        return False

    def has_cancel_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("django_jobs.cancel_job")

    def has_run_now_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("django_jobs.run_now_job")

    # Columns and fields -------------------------------------------------------------------------

    @admin.display(description="status", ordering="status")
    def status_display(self, job: Job) -> str:
        if job.status == JobStatus.QUEUED and job.run_at > timezone.now():
            waiting = "retry" if job.attempts else "scheduled"
            left = short_duration((job.run_at - timezone.now()).total_seconds())
            return f"queued ({waiting} in {left})"
        return str(job.get_status_display())

    @admin.display(description="attempts")
    def attempts_display(self, job: Job) -> str:
        return f"{job.attempts}/{job.max_attempts}"

    @admin.display(description="age", ordering="enqueued_at")
    def age(self, job: Job) -> str:
        return short_duration((timezone.now() - job.enqueued_at).total_seconds())

    @admin.display(description="result")
    def result_display(self, job: Job) -> SafeString | str:
        return _json(job.result) if job.status == JobStatus.DONE else "-"

    @admin.display(description="progress")
    def progress_display(self, job: Job) -> str:
        if job.progress_percent is None:
            return "-"
        return f"{job.progress_percent:.0f}% {job.progress_message}".strip()

    @admin.display(description="errors, newest first")
    def errors_display(self, job: Job) -> SafeString:
        return _errors_html(job.errors)

    # Actions ------------------------------------------------------------------------------------

    @admin.action(description="Run selected queued jobs now", permissions=["run_now"])
    def run_now_selected(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        moved = engine.run_now(queryset)
        self.message_user(
            request,
            f"{moved} job(s) will run as soon as a worker is free. "
            "Jobs not queued for later were left as they were.",
        )

    @admin.action(description="Cancel selected queued jobs", permissions=["cancel"])
    def cancel_selected(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        selected = queryset.count()
        cancelled = engine.cancel(queryset)
        level = messages.SUCCESS if cancelled == selected else messages.WARNING
        self.message_user(
            request,
            f"Cancelled {cancelled} of {selected} selected job(s); only "
            "queued jobs can be cancelled.",
            level,
        )

    # Extra pages --------------------------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        prefix = f"{self.model._meta.app_label}_{self.model._meta.model_name}"
        return [
            path(
                "dashboard/",
                self.admin_site.admin_view(self.dashboard_view),
                name=f"{prefix}_dashboard",
            ),
            path(
                "<path:object_id>/cancel/",
                self._post_view(self.cancel_view),
                name=f"{prefix}_cancel",
            ),
            path(
                "<path:object_id>/run-now/",
                self._post_view(self.run_now_view),
                name=f"{prefix}_run_now",
            ),
            *super().get_urls(),
        ]

    def dashboard_view(self, request: HttpRequest) -> HttpResponse:
        """Show per-queue counts; needs the view permission on jobs."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        stats = dashboard.collect()
        rows = [
            (row, short_duration(row.oldest_ready_age_seconds(stats.collected_at)))
            for row in [*stats.queues, stats.totals]
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": "Job queues",
            "opts": self.model._meta,
            "stats": stats,
            "rows": rows,
            "dead_cap": dashboard.DEAD_COUNT_CAP,
            "has_view_dead": request.user.has_perm("django_jobs.view_deadjob"),
            "refresh_seconds": 10 if request.GET.get("refresh") else None,
        }
        return TemplateResponse(request, "admin/django_jobs/dashboard.html", context)

    def cancel_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Cancel one job from its page (POST); needs ``django_jobs.cancel_job``."""
        job = self._job_for_action(request, object_id, self.has_cancel_permission)
        if engine.cancel([job]):
            self.message_user(request, f"Cancelled job {job.id}; it will not run.")
        else:
            self.message_user(
                request,
                f"Job {job.id} was not cancelled: it is no longer queued.",
                messages.WARNING,
            )
        return HttpResponseRedirect(self._object_url("change", job.id))

    def run_now_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Make one queued job ready now from its page (POST); needs ``run_now_job``."""
        job = self._job_for_action(request, object_id, self.has_run_now_permission)
        if engine.run_now([job]):
            self.message_user(request, f"Job {job.id} will run as soon as a worker is free.")
        else:
            self.message_user(
                request, f"Job {job.id} is not waiting for a later time.", messages.WARNING
            )
        return HttpResponseRedirect(self._object_url("change", job.id))

    def _job_for_action(self, request: HttpRequest, object_id: str, allowed: Any) -> Job:
        if not allowed(request):
            raise PermissionDenied
        return get_object_or_404(Job, pk=object_id)

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Job | None = None,
    ) -> HttpResponse:
        queued = obj is not None and obj.status == JobStatus.QUEUED
        waiting = queued and obj is not None and obj.run_at > timezone.now()
        context["can_cancel"] = queued and self.has_cancel_permission(request)
        context["can_run_now"] = waiting and self.has_run_now_permission(request)
        return super().render_change_form(request, context, add, change, form_url, obj)


@admin.register(DeadJob)
class DeadJobAdmin(ReadOnlyAdmin):
    list_display = (
        "job_id",
        "task_path",
        "queue",
        "exception_class",
        "attempts",
        "failed_at",
        "replayed_display",
    )
    list_filter = (
        QueueFilter,
        "task_path",
        "exception_class",
        ("replayed_at", admin.EmptyFieldListFilter),
    )
    search_fields = ("task_path", "idempotency_key__exact")
    id_field = "job_id"
    actions = ("replay_selected", "delete_selected")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "job_id",
                    "task_path",
                    "queue",
                    "priority",
                    "idempotency_key",
                    "worker_id",
                )
            },
        ),
        ("Failure", {"fields": ("exception_class", "message", "traceback_display")}),
        ("Call", {"fields": ("args_display", "kwargs_display")}),
        ("Attempts", {"fields": ("attempts_display", "errors_display")}),
        ("Times", {"fields": ("enqueued_at", "started_at", "failed_at")}),
        ("Replay", {"fields": ("replayed_at", "replayed_by", "replayed_display")}),
    )
    readonly_fields = (
        "traceback_display",
        "args_display",
        "kwargs_display",
        "attempts_display",
        "errors_display",
        "replayed_display",
    )
    change_form_template = "admin/django_jobs/deadjob/change_form.html"

    def has_replay_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("django_jobs.replay_deadjob")

    @admin.display(description="traceback")
    def traceback_display(self, dead: DeadJob) -> SafeString:
        return _pre(dead.traceback)

    @admin.display(description="attempts")
    def attempts_display(self, dead: DeadJob) -> str:
        return f"{dead.attempts}/{dead.max_attempts}"

    @admin.display(description="errors, newest first")
    def errors_display(self, dead: DeadJob) -> SafeString:
        return _errors_html(dead.errors)

    @admin.display(description="replayed as", ordering="replayed_at")
    def replayed_display(self, dead: DeadJob) -> SafeString | str:
        if dead.replayed_job_id is None:
            return "-"
        return format_html(
            '<a href="{}">job {}</a>',
            reverse("admin:django_jobs_job_change", args=[dead.replayed_job_id]),
            dead.replayed_job_id,
        )

    @admin.action(description="Replay selected dead jobs", permissions=["replay"])
    def replay_selected(self, request: HttpRequest, queryset: QuerySet[DeadJob]) -> None:
        self._replay(request, list(queryset.order_by("failed_at")))

    def _replay(self, request: HttpRequest, dead_jobs: list[DeadJob]) -> list[Job]:
        again = sum(1 for dead in dead_jobs if dead.replayed_at)
        try:
            jobs = engine.replay(dead_jobs, by=request.user.get_username())
        except ReplayConflictError as exc:
            self.message_user(request, f"Nothing was replayed. {exc}", messages.ERROR)
            return []
        ids = ", ".join(str(job.id) for job in jobs[:20]) + (" ..." if len(jobs) > 20 else "")
        note = f" ({again} had been replayed before)" if again else ""
        self.message_user(request, f"Replayed {len(jobs)} dead job(s) as new job(s) {ids}{note}.")
        return jobs

    def get_urls(self) -> list[URLPattern]:
        prefix = f"{self.model._meta.app_label}_{self.model._meta.model_name}"
        return [
            path(
                "<path:object_id>/replay/",
                self._post_view(self.replay_view),
                name=f"{prefix}_replay",
            ),
            *super().get_urls(),
        ]

    def replay_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Replay one dead job from its page (POST); needs ``django_jobs.replay_deadjob``."""
        if not self.has_replay_permission(request):
            raise PermissionDenied
        dead = get_object_or_404(DeadJob, pk=object_id)
        jobs = self._replay(request, [dead])
        if jobs and request.user.has_perm("django_jobs.view_job"):
            return HttpResponseRedirect(reverse("admin:django_jobs_job_change", args=[jobs[0].id]))
        return HttpResponseRedirect(self._object_url("change", dead.pk))

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: DeadJob | None = None,
    ) -> HttpResponse:
        context["can_replay"] = obj is not None and self.has_replay_permission(request)
        return super().render_change_form(request, context, add, change, form_url, obj)


from .scheduler import admin as _scheduler_admin  # noqa: E402, F401  (the schedules page)
