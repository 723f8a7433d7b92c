"""``DeadJobAdmin``: dead jobs, their failure, and replay as a new job (action and button)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from ..engine import replay
from ..exceptions import ReplayConflictError
from ..models import DeadJob, Job
from .base import ReadOnlyAdmin
from .filters import QueueFilter
from .inputs import object_pk
from .outcomes import replayed_already
from .previews import failed_attempts_html, preview_of, text_html
from .workflows import workflow_html


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
    search_fields = ("task_path", "idempotency_key__exact", "concurrency_key__exact")
    id_field = "job_id"
    list_deferred = ("args", "kwargs", "errors", "traceback", "message")
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
                    "concurrency_key",
                    "concurrency_limit",
                    "worker_id",
                )
            },
        ),
        ("Failure", {"fields": ("exception_class", "message_display", "traceback_display")}),
        ("Call", {"fields": ("args_display", "kwargs_display")}),
        ("Attempts", {"fields": ("attempts_display", "errors_display")}),
        ("Times", {"fields": ("enqueued_at", "started_at", "failed_at")}),
        ("Replay", {"fields": ("replayed_at", "replayed_by", "replayed_display")}),
    )
    readonly_fields = (
        "message_display",
        "traceback_display",
        "args_display",
        "kwargs_display",
        "attempts_display",
        "errors_display",
        "replayed_display",
        "workflow_display",
    )
    change_form_template = "admin/django_jobs/deadjob/change_form.html"

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if obj is not None and obj.workflow_id is not None:
            return (*fieldsets, ("Workflow", {"fields": ("workflow_display",)}))
        return fieldsets

    @admin.display(description="workflow")
    def workflow_display(self, dead: DeadJob) -> SafeString | str:
        return workflow_html(dead.workflow_id, dead.workflow_position, dead.job_id)

    def has_replay_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("django_jobs.replay_deadjob")

    @admin.display(description="message")
    def message_display(self, dead: DeadJob) -> SafeString:
        return text_html(preview_of(dead, "message"))

    @admin.display(description="traceback")
    def traceback_display(self, dead: DeadJob) -> SafeString:
        return text_html(preview_of(dead, "traceback"))

    @admin.display(description="attempts")
    def attempts_display(self, dead: DeadJob) -> str:
        return f"{dead.attempts}/{dead.max_attempts}"

    @admin.display(description="errors, newest first")
    def errors_display(self, dead: DeadJob) -> SafeString:
        return failed_attempts_html(preview_of(dead, "errors"))

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
        # The list's queryset leaves the call columns unread; replay needs them.
        self._replay(request, list(queryset.defer(None).order_by("failed_at")))

    def _replay(self, request: HttpRequest, dead_jobs: list[DeadJob]) -> list[Job]:
        """Replay those of ``dead_jobs`` not replayed yet; say what happened; return new jobs.

        Dead jobs replayed already are named and skipped. If ``replay`` still refuses (another
        admin replayed one a moment ago, or a live job holds an idempotency key), nothing is
        replayed and the message says which dead job and who replayed it, or why.
        """
        before = [dead for dead in dead_jobs if dead.replayed_job_id is not None]
        fresh = [dead for dead in dead_jobs if dead.replayed_job_id is None]
        if before:
            self.message_user(request, replayed_already(before), messages.ERROR)
        if not fresh:
            return []
        try:
            jobs = replay(fresh, by=request.user.get_username())
        except ReplayConflictError as exc:
            self.message_user(request, _conflict_message(fresh, exc), messages.ERROR)
            return []
        ids = ", ".join(str(job.id) for job in jobs[:20]) + (" ..." if len(jobs) > 20 else "")
        self.message_user(request, f"Replayed {len(jobs)} dead job(s) as new job(s) {ids}.")
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
        dead = get_object_or_404(DeadJob, pk=object_pk(DeadJob, object_id))
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
        # A dead job replayed already shows its new job instead of the button.
        fresh = obj is not None and obj.replayed_job_id is None
        context["can_replay"] = fresh and self.has_replay_permission(request)
        return super().render_change_form(request, context, add, change, form_url, obj)


def _conflict_message(dead_jobs: list[DeadJob], error: ReplayConflictError) -> str:
    # Read again: a dead job that another admin replayed meanwhile now names its new job.
    taken = DeadJob.objects.filter(
        pk__in=[d.pk for d in dead_jobs], replayed_job_id__isnull=False
    ).only("job_id", "replayed_job_id", "replayed_by", "replayed_at")
    return "Nothing was replayed. " + (replayed_already(list(taken)) or str(error))
