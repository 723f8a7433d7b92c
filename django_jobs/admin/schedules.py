"""``ScheduleRunAdmin``: each declared schedule with its state, a "run now" button, the ledger.

Schedules are declared in ``DJANGO_JOBS["SCHEDULES"]``; the admin shows them and never defines
them. The page is the ``ScheduleRun`` changelist: a table of the schedules (cron, time zone, next
and last fire time, the status of the last job made), then the ledger rows. "Run now" is a POST
that needs ``django_jobs.add_schedulerun``; it enqueues a job without using up a fire time.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, tzinfo
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from ..models import DeadJob, Job, ScheduleRun
from ..scheduler import ledger
from ..scheduler.schedules import MANUAL_SUFFIX, Schedule, load_schedules
from .filters import DeclaredScheduleFilter
from .inputs import SafeInputsAdmin
from .paginator import EstimatedCountPaginator

RUN_NOW_PERMISSION = "django_jobs.add_schedulerun"


@dataclasses.dataclass(frozen=True, slots=True)
class ScheduleState:
    """One row of the schedules table; times are already formatted in the schedule's zone."""

    schedule: Schedule
    next_fire: str
    last_fire: str
    last_job_id: int | None
    last_job_status: str
    last_job_manual: bool


def local_time(value: datetime | None, zone: tzinfo) -> str:
    """Return ``value`` as wall time in ``zone`` with the zone's abbreviation; "-" for None.

    >>> from datetime import UTC
    >>> from zoneinfo import ZoneInfo
    >>> local_time(datetime(2024, 7, 1, 0, 0, tzinfo=UTC), ZoneInfo("Europe/Helsinki"))
    '2024-07-01 03:00:00 EEST'
    """
    if value is None:
        return "-"
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")


def job_status(job_id: int) -> str:
    """Return the status of job ``job_id``: its ``status``, "failed" if dead-lettered, or "gone"."""
    status = Job.objects.filter(id=job_id).values_list("status", flat=True).first()
    if status is not None:
        return str(status)
    return "failed" if DeadJob.objects.filter(job_id=job_id).exists() else "gone"


def schedule_states(schedules: dict[str, Schedule], now: datetime) -> list[ScheduleState]:
    """Return the state of each schedule at ``now``: a few indexed look-ups per schedule."""
    return [_state(schedules[name], now) for name in sorted(schedules)]


def _state(schedule: Schedule, now: datetime) -> ScheduleState:
    zone = schedule.zone
    last = _newest(schedule.name)
    made = [_newest(schedule.name, with_job=True), _newest(schedule.manual_name)]
    last_job = max((run for run in made if run is not None), key=lambda run: run.fire_at,
                   default=None)  # fmt: skip
    last_fire = "-"
    if last is not None:
        last_fire = local_time(last.fire_at, zone) + ("" if last.job_id else " (skipped)")
    return ScheduleState(
        schedule=schedule,
        next_fire=local_time(schedule.next_fire_at(now), zone),
        last_fire=last_fire,
        last_job_id=last_job.job_id if last_job else None,
        last_job_status=job_status(last_job.job_id) if last_job and last_job.job_id else "",
        last_job_manual=bool(last_job and last_job.schedule.endswith(MANUAL_SUFFIX)),
    )


def _newest(name: str, *, with_job: bool = False) -> ScheduleRun | None:
    # Ordered by the unique index's own columns, so this reads the index backwards and stops.
    runs = ScheduleRun.objects.filter(schedule=name).order_by("-fire_at")
    return (runs.filter(job_id__isnull=False) if with_job else runs).first()


@admin.register(ScheduleRun)
class ScheduleRunAdmin(SafeInputsAdmin):
    """The schedules and their ledger; rows are written by the scheduler, never by hand.

    Ledger rows cannot be deleted here: a row is what tells every scheduler that its fire time
    has enqueued its job, so deleting one would fire that time again.
    """

    change_list_template = "admin/django_jobs/schedulerun/change_list.html"
    list_display = ("schedule", "fire_time", "job_link", "created_at")
    list_filter = (DeclaredScheduleFilter,)
    search_fields = ("=schedule",)
    show_full_result_count = False
    paginator = EstimatedCountPaginator

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Also takes the bulk "delete selected" action away: Django offers it only with this.
        return False

    @admin.display(description="fire time", ordering="fire_at")
    def fire_time(self, run: ScheduleRun) -> str:
        """The fire time to the second, in UTC: rows of a 10-second schedule stay apart."""
        return local_time(run.fire_at, UTC)

    @admin.display(description="job", ordering="job_id")
    def job_link(self, run: ScheduleRun) -> str:
        if run.job_id is None:
            return "skipped (missed fire time)"
        url = reverse("admin:django_jobs_job_change", args=[run.job_id])
        return format_html('<a href="{}">{}</a>', url, run.job_id)

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<str:name>/run-now/",
                self.admin_site.admin_view(require_POST(self.run_now_view)),
                name="django_jobs_schedulerun_run_now",
            ),
            *super().get_urls(),
        ]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        schedules = load_schedules()
        context = {
            "schedule_states": schedule_states(schedules, ledger.database_now()),
            "can_run_now": request.user.has_perm(RUN_NOW_PERMISSION),
            **(extra_context or {}),
        }
        return super().changelist_view(request, context)

    def run_now_view(self, request: HttpRequest, name: str) -> HttpResponse:
        """Enqueue schedule ``name``'s job now (POST); it does not use up a fire time."""
        if not request.user.has_perm(RUN_NOW_PERMISSION):
            raise PermissionDenied
        schedule = load_schedules().get(name)
        if schedule is None:
            raise Http404(f"No schedule named {name!r} in DJANGO_JOBS['SCHEDULES'].")
        run = ledger.fire_now(schedule)
        self.message_user(
            request, f"Schedule {name}: enqueued job {run.job_id} now.", messages.SUCCESS
        )
        return HttpResponseRedirect(reverse("admin:django_jobs_schedulerun_changelist"))
