from shop.jobs import export_orders

from django_jobs import engine, get_status

job = export_orders.enqueue(list(range(10_000)))
# ... later, once a worker has started it:
report = engine.cancel([job.id])  # also takes a queryset, or Job objects
print(f"cancelled at once: {report.cancelled}, asked to stop: {report.requested}")
print(get_status(job.id).state)  # "cancelling" until the task stops, then "cancelled"
