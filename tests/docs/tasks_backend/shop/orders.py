from django.db import transaction

from .models import Order
from .tasks import send_receipt


def place_order(total):
    with transaction.atomic():
        order = Order.objects.create(total=total)
        result = send_receipt.enqueue(order.id)
    return order, result
