"""``JobAdmin``: the job list and page, its actions (cancel, run now, change) and the dashboard."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.safestring import SafeString

from .. import engine
from ..models import Job, JobStatus
from .base import ReadOnlyAdmin
from .charts import charts_view
from .dashboard import dashboard_view, pause_view, resume_view
from .display import short_duration
from .filters import QueueFilter, TaskFilter
from .inputs import object_pk
from .outcomes import dead, where_now
from .previews import failed_attempts_html, json_html, preview_of
from .update import update_selected
from .workflows import workflow_html


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
    search_fields = ("task_path", "idempotency_key__exact", "concurrency_key__exact")
    actions = ("run_now_selected", "update_selected", "cancel_selected")
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
                    "concurrency_key",
                    "concurrency_limit",
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
        "workflow_display",
    )
    list_deferred = ("args", "kwargs", "result", "errors")
    change_list_template = "admin/django_jobs/job/change_list.html"
    change_form_template = "admin/django_jobs/job/change_form.html"

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if obj is not None and obj.workflow_id is not None:
            return (*fieldsets, ("Workflow", {"fields": ("workflow_display",)}))
        return fieldsets

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Finished jobs are history; queued ones are cancelled, which says what happened.
        return False

    def has_cancel_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("django_jobs.cancel_job")

    def has_run_now_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("django_jobs.run_now_job")

    def has_update_queued_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("django_jobs.update_queued_job")

    # Columns and fields -------------------------------------------------------------------------

    @admin.display(description="status", ordering="status")
    def status_display(self, job: Job) -> str:
        if job.status == JobStatus.RUNNING and job.cancel_requested_at is not None:
            return "running (asked to stop)"
        if job.status == JobStatus.QUEUED and job.run_at > timezone.now():
            waiting = "retry" if job.attempts else "snoozed" if job.snoozes else "scheduled"
            left = short_duration((job.run_at - timezone.now()).total_seconds())
            return f"queued ({waiting} in {left})"
        return str(job.get_status_display())

    @admin.display(description="attempts")
    def attempts_display(self, job: Job) -> str:
        snoozes = f" ({job.snoozes} snoozes)" if job.snoozes else ""
        return f"{job.attempts}/{job.max_attempts}{snoozes}"

    @admin.display(description="age", ordering="enqueued_at")
    def age(self, job: Job) -> str:
        return short_duration((timezone.now() - job.enqueued_at).total_seconds())

    @admin.display(description="result")
    def result_display(self, job: Job) -> SafeString | str:
        return json_html(preview_of(job, "result")) if job.status == JobStatus.DONE else "-"

    @admin.display(description="progress")
    def progress_display(self, job: Job) -> str:
        if job.progress_percent is None:
            return "-"
        return f"{job.progress_percent:.0f}% {job.progress_message}".strip()

    @admin.display(description="errors, newest first")
    def errors_display(self, job: Job) -> SafeString:
        return failed_attempts_html(preview_of(job, "errors"))

    @admin.display(description="workflow")
    def workflow_display(self, job: Job) -> SafeString | str:
        return workflow_html(job.workflow_id, job.workflow_position, job.id)

    # Actions ------------------------------------------------------------------------------------

    @admin.action(description="Run selected queued jobs now", permissions=["run_now"])
    def run_now_selected(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        selected = queryset.count()
        moved = engine.run_now(queryset)
        if moved == selected:
            self.message_user(request, f"{moved} job(s) will run as soon as a worker is free.")
            return
        self.message_user(
            request,
            f"{moved} of {selected} selected job(s) were queued for later and will run as soon "
            "as a worker is free; the others were already due, had started or had finished.",
            messages.WARNING,
        )

    @admin.action(
        description="Change run_at, priority or queue of selected queued jobs",
        permissions=["update_queued"],
    )
    def update_selected(self, request: HttpRequest, queryset: QuerySet[Job]) -> HttpResponse | None:
        return update_selected(self, request, queryset)

    @admin.action(description="Cancel selected queued jobs", permissions=["cancel"])
    @admin.action(description="Cancel selected jobs", permissions=["cancel"])
    def cancel_selected(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        selected = queryset.count()
        report = engine.cancel(queryset)
        text = (
            f"Cancelled {len(report.cancelled)} queued job(s) at once; they will not run. "
            f"Asked {len(report.requested)} running job(s) to stop; each ends cancelled when "
            "its task stops."
        )
        if len(report) == selected:
            self.message_user(request, text)
            return
        self.message_user(
            request,
            f"{text} The other {selected - len(report)} of {selected} selected job(s) had "
            "finished, been cancelled or been asked to stop already.",
            messages.WARNING,
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
                "dashboard/charts.json",
                self.admin_site.admin_view(self.charts_view),
                name=f"{prefix}_dashboard_charts",
            ),
            path(
                "dashboard/pause/",
                self._post_view(lambda request: pause_view(self, request)),
                name=f"{prefix}_pause_queue",
            ),
            path(
                "dashboard/resume/",
                self._post_view(lambda request: resume_view(self, request)),
                name=f"{prefix}_resume_queue",
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
        return dashboard_view(self, request)

    def charts_view(self, request: HttpRequest) -> HttpResponse:
        """Return the dashboard's chart data (JSON); needs the view permission on jobs."""
        return charts_view(self, request)

    def cancel_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Cancel one job from its page (POST): a queued one at once, a running one by asking
        it to stop; needs ``django_jobs.cancel_job``."""
        job_id = self._job_id_for_action(request, object_id, self.has_cancel_permission)
        report = engine.cancel([job_id])
        if report.cancelled:
            self.message_user(request, f"Cancelled job {job_id}; it will not run.")
        elif report.requested:
            self.message_user(
                request,
                f"Asked running job {job_id} to stop; it ends cancelled when its task stops "
                "(a task that ignores the request and returns ends done).",
            )
        else:
            asked = Job.objects.filter(id=job_id, status=JobStatus.RUNNING).exists()
            reason = "it is running and was asked to stop already" if asked else where_now(job_id)
            self.message_user(
                request, f"Job {job_id} was not cancelled: {reason}.", messages.WARNING
            )
        return HttpResponseRedirect(self._page_after_action(request, job_id))

    def run_now_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Make one queued job ready now from its page (POST); needs ``run_now_job``."""
        job_id = self._job_id_for_action(request, object_id, self.has_run_now_permission)
        if engine.run_now([job_id]):
            self.message_user(request, f"Job {job_id} will run as soon as a worker is free.")
        else:
            self.message_user(
                request,
                f"Job {job_id} was not waiting for a later time: {where_now(job_id)}.",
                messages.WARNING,
            )
        return HttpResponseRedirect(self._page_after_action(request, job_id))

    def _job_id_for_action(self, request: HttpRequest, object_id: str, allowed: Any) -> int:
        """Return the id in the URL; 403 without the permission, 404 if no job ever had it."""
        if not allowed(request):
            raise PermissionDenied
        job_id = int(object_pk(Job, object_id))
        if not Job.objects.filter(id=job_id).exists() and not dead(job_id).exists():
            raise Http404(f"No job or dead job has id {job_id}.")
        return job_id

    def _page_after_action(self, request: HttpRequest, job_id: int) -> str:
        # A job dead-lettered before the click has no page any more; its dead job has one.
        if Job.objects.filter(id=job_id).exists():
            return self._object_url("change", job_id)
        dead_pk = dead(job_id).values_list("pk", flat=True).first()
        if dead_pk is not None and request.user.has_perm("django_jobs.view_deadjob"):
            return reverse("admin:django_jobs_deadjob_change", args=[dead_pk])
        return reverse("admin:django_jobs_job_changelist")

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
        unasked = (
            obj is not None and obj.status == JobStatus.RUNNING and obj.cancel_requested_at is None
        )
        context["can_cancel"] = (queued or unasked) and self.has_cancel_permission(request)
        context["can_run_now"] = waiting and self.has_run_now_permission(request)
        return super().render_change_form(request, context, add, change, form_url, obj)
