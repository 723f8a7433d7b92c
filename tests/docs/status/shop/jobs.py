import csv
from itertools import batched

from django.conf import settings

from django_jobs import JobContext, job

from .models import Order


@job(queue="exports", max_attempts=3, takes_context=True)
def export_orders(context: JobContext, export_id: int) -> dict:
    orders = Order.objects.order_by("pk").values_list("number", "total")
    total = orders.count()
    written = 0
    settings.MEDIA_ROOT.mkdir(exist_ok=True)
    with open(settings.MEDIA_ROOT / f"export-{export_id}.csv", "w", newline="") as file:
        writer = csv.writer(file)
        for batch in batched(orders.iterator(), 500):
            writer.writerows(batch)
            written += len(batch)
            context.set_progress(100 * written / total, f"{written} of {total} rows written")
    return {"rows": written}
