"""Admin for jobs and dead jobs: look at state and failures, replay dead jobs in bulk."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from .deadletter import replay
from .exceptions import ReplayConflictError
from .models import DeadJob, Job


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Rows change only through the worker and named actions, never through the change form."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _pre(text: str) -> str:
    return format_html('<pre style="white-space: pre-wrap; margin: 0">{}</pre>', text or "")


@admin.register(Job)
class JobAdmin(ReadOnlyAdmin):
    list_display = ("id", "task_path", "queue", "status", "priority", "attempts_display",
                    "run_at", "enqueued_at", "worker_id")  # fmt: skip
    list_filter = ("status", "queue", "task_path")
    search_fields = ("=id", "task_path", "=idempotency_key")
    readonly_fields = ("errors_display",)
    exclude = ("errors",)

    @admin.display(description="attempts")
    def attempts_display(self, job: Job) -> str:
        return f"{job.attempts}/{job.max_attempts}"

    @admin.display(description="errors")
    def errors_display(self, job: Job) -> str:
        return _pre(
            "\n\n".join(
                f"Attempt {e['attempt']} at {e['failed_at']}: {e['exception_class']}: "
                f"{e['message']}\n{e['traceback']}"
                for e in job.errors
            )
        )


@admin.register(DeadJob)
class DeadJobAdmin(ReadOnlyAdmin):
    list_display = ("job_id", "task_path", "queue", "exception_class", "attempts", "failed_at",
                    "replayed_at", "replayed_job_id")  # fmt: skip
    list_filter = ("queue", "task_path", "exception_class")
    search_fields = ("=job_id", "task_path", "=idempotency_key")
    readonly_fields = ("traceback_display",)
    exclude = ("traceback",)
    actions = ("replay_selected",)

    @admin.display(description="traceback")
    def traceback_display(self, dead: DeadJob) -> str:
        return _pre(dead.traceback)

    @admin.action(description="Replay selected dead jobs", permissions=["replay"])
    def replay_selected(self, request: HttpRequest, queryset: QuerySet[DeadJob]) -> None:
        try:
            jobs = replay(queryset, by=request.user.get_username())
        except ReplayConflictError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.message_user(request, f"Replayed {len(jobs)} dead jobs as new jobs.")

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("django_jobs.replay_deadjob")
