"""A task enqueued with a trace: the how-to's example."""

# [task]
from django_jobs import job

from .tracing import traced


@job(max_attempts=2)
@traced
def send_receipt(order_id, fail=False):
    if fail:
        raise ConnectionError("the mail server hung up")
    return f"receipt {order_id} sent"


# enqueue_traced(send_receipt, 42) in a view, instead of send_receipt.enqueue(42)
# [task]
