"""The shop's data (customers and their orders) and the requests people make about it.

``ExportRequest``, ``Subscriber`` and ``Trial`` keep the id of the job that serves them (``job_id``,
``welcome_job_id``): a plain integer, not a foreign key, because a job that fails for good moves
from ``Job`` to ``DeadJob`` keeping its id, and ``django_jobs.get_status`` finds it in either table.
Each records who asked for it (``Owned``), and only they may see it (see ``ownership``).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.http import HttpRequest
from django.utils import timezone

from .ownership import owned_q


class OwnedQuerySet(models.QuerySet[Any]):
    def owned_by(self, request: HttpRequest) -> OwnedQuerySet:
        """The rows that belong to whoever sent ``request``: none for a stranger."""
        return self.filter(owned_q(request))


class Owned(models.Model):
    """Who asked for this row: a signed-in ``owner``, or an anonymous ``visitor`` (a session)."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    visitor = models.CharField(max_length=32, blank=True, default="", db_index=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        abstract = True


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


class ExportRequest(Owned):
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


class Subscriber(Owned):
    """Someone who signed up; a job sends them a welcome email."""

    name = models.CharField(max_length=100)
    email = models.EmailField(unique=True)
    signed_up_at = models.DateTimeField(default=timezone.now)
    welcome_job_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.email


class Trial(Owned):
    """Someone tried a job that fails (``behaviour`` names which, see ``forms.TryJobForm``)."""

    behaviour = models.CharField(max_length=20)
    label = models.CharField(max_length=50)
    requested_at = models.DateTimeField(default=timezone.now)
    job_id = models.BigIntegerField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.label} ({self.behaviour})"
