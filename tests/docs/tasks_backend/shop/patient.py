from django.tasks import task

from .tasks import send_receipt


@task(backend="patient")
def sync_inventory(warehouse_id):
    return {"warehouse": warehouse_id}


def resend_receipt(order):
    return send_receipt.using(backend="patient").enqueue(order.id)  # or choose at enqueue time
