"""Admin for the shop's data and the requests made about it; jobs have django-jobs' own admin."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from .models import Customer, ExportRequest, Order, Subscriber


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
                    "status_page")  # fmt: skip
    list_filter = ("kind",)
    readonly_fields = ("job_id", "file", "row_count")

    @admin.display(description="status")
    def status_page(self, export: ExportRequest) -> str:
        url = reverse("reports:export_status", args=[export.pk])
        return format_html('<a href="{}">job {}</a>', url, export.job_id)


@admin.register(Subscriber)
class SubscriberAdmin(admin.ModelAdmin):
    list_display = ("email", "name", "signed_up_at", "welcome_job_id")
    search_fields = ("email", "name")
    readonly_fields = ("welcome_job_id",)
