"""Admin for the shop's data and the requests made about it; jobs have django-jobs' own admin."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from .models import Customer, ExportRequest, Order, Subscriber, Trial


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("name", "email", "country", "joined_at")
    list_filter = ("country",)
    search_fields = ("name", "email")


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ("reference", "customer", "status", "total", "placed_at")
    list_filter = ("status",)
    list_select_related = ("customer",)
    search_fields = ("reference", "customer__email")
    raw_id_fields = ("customer",)
    date_hierarchy = "placed_at"


@admin.register(ExportRequest)
class ExportRequestAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "placed_from", "placed_until", "requested_at", "row_count",
                    "owner", "job_link")  # fmt: skip
    list_filter = ("kind",)
    readonly_fields = ("job_id", "file", "row_count", "owner", "visitor")

    @admin.display(description="job")
    def job_link(self, export: ExportRequest) -> str:
        # The site's status page is its owner's alone; operators follow the job here.
        return _job_link(export.job_id)


@admin.register(Subscriber)
class SubscriberAdmin(admin.ModelAdmin):
    list_display = ("email", "name", "signed_up_at", "owner", "job_link")
    search_fields = ("email", "name")
    readonly_fields = ("welcome_job_id", "owner", "visitor")

    @admin.display(description="welcome email job")
    def job_link(self, subscriber: Subscriber) -> str:
        return _job_link(subscriber.welcome_job_id)


@admin.register(Trial)
class TrialAdmin(admin.ModelAdmin):
    list_display = ("id", "label", "behaviour", "requested_at", "owner", "job_link")
    list_filter = ("behaviour",)
    readonly_fields = ("job_id", "owner", "visitor")

    @admin.display(description="job")
    def job_link(self, trial: Trial) -> str:
        return _job_link(trial.job_id)


def _job_link(job_id: int | None) -> str:
    if job_id is None:
        return "-"
    url = reverse("admin:django_jobs_job_change", args=[job_id])
    return format_html('<a href="{}">job {}</a>', url, job_id)
