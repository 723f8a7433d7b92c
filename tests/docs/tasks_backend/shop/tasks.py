# shop/tasks.py
from django.tasks import task

from .models import Order


@task(queue_name="mail", priority=10)
def send_receipt(order_id):
    Order.objects.filter(pk=order_id).update(receipt_sent=True)  # ... and send it


# docs: end send_receipt
@task(max_attempts=10, timeout_seconds=60, backoff_base_seconds=30, backoff_max_seconds=1800)
def sync_inventory(warehouse_id):
    return {"warehouse": warehouse_id}
