"""The shop's data (customers and their orders) and the requests people make about it.

``ExportRequest`` and ``Subscriber`` keep the id of the job that serves them in ``job_id``: a plain
integer, not a foreign key, because a job that fails for good moves from ``Job`` to ``DeadJob``
keeping its id, and ``django_jobs.get_status`` finds it in either table.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class Customer(models.Model):
    name = models.CharField(max_length=100)
    email = models.EmailField(unique=True)
    country = models.CharField(max_length=2, help_text="ISO 3166 alpha-2 code.")
    joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class Order(models.Model):
    class Status(models.TextChoices):
        PAID = "paid", "Paid"
        SHIPPED = "shipped", "Shipped"
        REFUNDED = "refunded", "Refunded"

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="orders")
    reference = models.CharField(max_length=20, unique=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PAID)
    total = models.DecimalField(max_digits=10, decimal_places=2)
    placed_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.reference


class ExportRequest(models.Model):
    """Someone asked for a CSV of customers or orders; a job writes it to ``file``.

    ``placed_from``/``placed_until`` bound the orders exported (inclusive dates, either optional).
    ``row_count`` and ``file`` are empty until the export job has written the file.
    """

    class Kind(models.TextChoices):
        CUSTOMERS = "customers", "Customers"
        ORDERS = "orders", "Orders"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    placed_from = models.DateField(null=True, blank=True)
    placed_until = models.DateField(null=True, blank=True)
    requested_at = models.DateTimeField(default=timezone.now)
    job_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    file = models.FileField(upload_to="exports/", blank=True)
    row_count = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} export #{self.pk}"


class Subscriber(models.Model):
    """Someone who signed up; a job sends them a welcome email."""

    name = models.CharField(max_length=100)
    email = models.EmailField(unique=True)
    signed_up_at = models.DateTimeField(default=timezone.now)
    welcome_job_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.email
