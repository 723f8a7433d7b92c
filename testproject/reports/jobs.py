"""The site's tasks: export a CSV, send a welcome email, and two that show retries and dead jobs.

Each is enqueued by a view in the same transaction as the row it works on (see ``views``), so a
worker never sees a job whose row was rolled back.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from django.core.files.base import ContentFile
from django.core.mail import send_mail
from django.db.models import Count, Model, QuerySet

from django_jobs import JobContext, PermanentError, job

from .models import Customer, ExportRequest, Order, Subscriber

#: Rows read per query; progress is reported once per batch, not per row.
BATCH_ROWS = 100

CUSTOMER_HEADER = ["id", "name", "email", "country", "joined_at", "orders"]
ORDER_HEADER = ["reference", "status", "total", "placed_at", "customer", "customer_email"]


@job(queue="exports", max_attempts=3, takes_context=True)
def export_csv(context: JobContext, export_id: int) -> dict[str, Any]:
    """Write the CSV that ``ExportRequest`` ``export_id`` asks for to MEDIA_ROOT/exports/.

    Reports progress as rows are written. Running it again replaces the file, so a retry after a
    failure half way is harmless. Returns ``{"file": name, "rows": count}``; raises
    ``PermanentError`` if the request was deleted (retrying cannot bring it back).
    """
    export = ExportRequest.objects.filter(pk=export_id).first()
    if export is None:
        raise PermanentError(f"ExportRequest {export_id} no longer exists.")
    header, rows, total = _rows(export)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    context.set_progress(0, f"Writing {total} rows")
    written = 0
    for batch in rows:
        writer.writerows(batch)
        written += len(batch)
        context.set_progress(100 * written / max(total, 1), f"{written} of {total} rows written")
    if export.file:
        export.file.delete(save=False)
    export.file.save(f"{export.kind}-{export.pk}.csv", ContentFile(buffer.getvalue()), save=False)
    ExportRequest.objects.filter(pk=export.pk).update(file=export.file.name, row_count=written)
    context.set_progress(100, f"{written} rows written")
    return {"file": export.file.name, "rows": written}


def _rows(export: ExportRequest) -> tuple[list[str], Iterator[list[list[Any]]], int]:
    """Return the header, the rows in batches, and their count."""
    if export.kind == ExportRequest.Kind.CUSTOMERS:
        customers = Customer.objects.annotate(order_count=Count("orders"))
        rows = ([_customer_row(c) for c in batch] for batch in _batches(customers))
        return CUSTOMER_HEADER, rows, customers.count()
    orders = Order.objects.select_related("customer")
    if export.placed_from:
        orders = orders.filter(placed_at__date__gte=export.placed_from)
    if export.placed_until:
        orders = orders.filter(placed_at__date__lte=export.placed_until)
    return (
        ORDER_HEADER,
        ([_order_row(o) for o in batch] for batch in _batches(orders)),
        orders.count(),
    )


def _batches[M: Model](queryset: QuerySet[M]) -> Iterator[list[M]]:
    """Yield the rows of ``queryset`` in primary key order, ``BATCH_ROWS`` per query.

    Each batch is read to the end before the caller writes progress. An open cursor would keep a
    read lock on SQLite, and two jobs each reading while waiting to write would deadlock.
    """
    last_pk: Any = None
    while True:
        page = queryset.order_by("pk")
        if last_pk is not None:
            page = page.filter(pk__gt=last_pk)
        batch = list(page[:BATCH_ROWS])
        if not batch:
            return
        yield batch
        last_pk = batch[-1].pk


def _customer_row(c: Any) -> list[Any]:
    return [c.id, c.name, c.email, c.country, c.joined_at.isoformat(), c.order_count]


def _order_row(o: Order) -> list[Any]:
    return [
        o.reference, o.status, o.total, o.placed_at.isoformat(), o.customer.name, o.customer.email
    ]  # fmt: skip


@job(queue="mail", max_attempts=5)
def send_welcome_email(subscriber_id: int) -> str:
    """Send subscriber ``subscriber_id`` a welcome email; return the address it went to.

    Raises ``PermanentError`` if the subscriber was deleted before the job ran.
    """
    subscriber = Subscriber.objects.filter(pk=subscriber_id).first()
    if subscriber is None:
        raise PermanentError(f"Subscriber {subscriber_id} no longer exists.")
    send_mail(
        subject="Welcome to the reports demo",
        message=(
            f"Hello {subscriber.name},\n\n"
            "Thanks for signing up. This email was sent by a django-jobs worker, after the\n"
            "transaction that saved your sign-up committed.\n"
        ),
        from_email=None,
        recipient_list=[subscriber.email],
    )
    return subscriber.email


#: The attempt on which ``flaky`` first succeeds.
FLAKY_SUCCEEDS_ON_ATTEMPT = 3


@job(max_attempts=5, takes_context=True)
def flaky(context: JobContext, label: str) -> str:
    """Fail with ``ConnectionError`` before attempt 3, as a flaky service would; then succeed."""
    if context.attempt < FLAKY_SUCCEEDS_ON_ATTEMPT:
        raise ConnectionError(f"{label}: the partner API timed out (attempt {context.attempt})")
    return f"{label}: succeeded on attempt {context.attempt}"


@job(max_attempts=3)
def always_fails(label: str) -> None:
    """Fail every attempt; after the third the job becomes a dead job, ready to replay."""
    raise RuntimeError(f"{label}: the report template is missing")
