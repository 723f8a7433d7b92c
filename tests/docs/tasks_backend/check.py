"""Use the django.tasks how-to's example as its page says, and exit 1 if it misbehaves.

Run as ``python check.py`` in a migrated copy of this project (tests/docs/test_howto_django_tasks.py
does): an order and its receipt task are enqueued in one transaction, or neither is; the settings'
``OPTIONS`` and a task's own keywords reach the jobs; a worker runs them and the results read
SUCCESSFUL, in sync and async code; a running task asked to stop ends, FAILED. The page's other
``TASKS`` (mysite/aliases.py,
mysite/from_tasks_db.py) pass the checks and take jobs too.
"""

import asyncio
import os
import sys


def expect(condition, message):
    if not condition:
        sys.exit(message)


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import transaction

    from django_jobs.models import Job

    from shop.models import Order
    from shop.orders import place_order
    from shop.results import areceipt_status, receipt_status
    from shop.tasks import sync_inventory

    order, result = place_order("9.99")
    job = Job.objects.get(id=int(result.id))
    expect((job.queue, job.priority, job.args) == ("mail", 10, [order.id]), "the receipt's job")
    expect((job.max_attempts, job.timeout_seconds) == (5, 300), "the backend's OPTIONS")
    try:
        with transaction.atomic():
            place_order("1.00")
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    expect(Job.objects.count() == Order.objects.count() == 1, "a rolled-back order left a job")
    synced = Job.objects.get(id=int(sync_inventory.enqueue(7).id))
    options = (synced.max_attempts, synced.timeout_seconds)
    backoff = (synced.backoff_base_seconds, synced.backoff_max_seconds)
    expect((options, backoff) == ((10, 60), (30, 1800)), "the task's own options")

    call_command("runworker", "--burst", verbosity=0)
    expect(Order.objects.get().receipt_sent, "the receipt was not sent")
    expect(receipt_status(result.id) == "SUCCESSFUL", f"status {receipt_status(result.id)}")
    status = asyncio.run(areceipt_status(result.id))
    expect(status == "SUCCESSFUL", f"async status {status}")
    check_other_settings()
    check_cancellation()


def check_cancellation():
    """A running task asked to stop through ``engine.cancel`` ends; its result reads FAILED."""
    import threading
    import time

    from django_jobs import engine
    from django_jobs.models import Job
    from django_jobs.worker import Worker

    from shop.reindex import rebuild_search_index

    result = rebuild_search_index.enqueue(10**7)
    worker = Worker(concurrency=1, poll_interval_seconds=0.05)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        job = Job.objects.filter(id=int(result.id))
        deadline = time.monotonic() + 60
        while not job.filter(started_at__isnull=False).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        expect(engine.cancel([int(result.id)]).requested == [int(result.id)], "not asked")
        while job.get().status != "cancelled" and time.monotonic() < deadline:
            time.sleep(0.05)
        expect(job.get().status == "cancelled", f"the reindex ended {job.get().status}")
    finally:
        worker.request_stop()
        thread.join(60)
    result.refresh()
    expect(result.status == "FAILED", f"a cancelled task's result reads {result.status}")


def check_other_settings():
    """Run the page's other ``TASKS``: two aliases on Django 6.0, and one after django-tasks-db."""
    import runpy

    from django.core.management import call_command
    from django.test import override_settings

    from django_jobs.models import Job

    from shop.models import Order

    with override_settings(TASKS=runpy.run_path("mysite/aliases.py")["TASKS"]):
        from shop.patient import resend_receipt, sync_inventory

        call_command("check", verbosity=0)
        synced = Job.objects.get(id=int(sync_inventory.enqueue(3).id))
        expect((synced.max_attempts, synced.timeout_seconds) == (10, 60), "patient's OPTIONS")
        resent = Job.objects.get(id=int(resend_receipt(Order.objects.get()).id))
        expect((resent.queue, resent.max_attempts) == ("mail", 10), "the resent receipt's job")
    with override_settings(TASKS=runpy.run_path("mysite/from_tasks_db.py")["TASKS"]):
        call_command("check", verbosity=0)
        from shop.tasks import sync_inventory as synced_by_default

        job = Job.objects.get(id=int(synced_by_default.enqueue(4).id))
        expect(job.queue == "default", f"queue {job.queue}")


if __name__ == "__main__":
    main()
