"""The admin in a real browser: log in, read a dead job's traceback, replay it, watch it finish."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from django_jobs import job
from django_jobs.models import DeadJob, Job, JobStatus
from django_jobs.worker import Worker
from tests import tasks
from tests.browser.conftest import needs_chromium
from tests.conftest import wait_for

pytestmark = [
    needs_chromium(),
    pytest.mark.django_db(transaction=True),
]

# While set, the supplier "feed" is down and the import fails; the test mends it before replay.
FEED_DOWN = threading.Event()


@job(max_attempts=1)
def import_supplier_feed(supplier: str) -> str:
    if FEED_DOWN.is_set():
        raise ConnectionError(f"supplier feed {supplier!r} answered 503 Service Unavailable")
    return f"imported 3 rows from {supplier}"


@pytest.fixture
def worker() -> Iterator[Worker]:
    """A worker running in a thread of this process until the test ends."""
    running = Worker(poll_interval_seconds=0.05)
    thread = threading.Thread(target=running.run, name="browser-test-worker")
    thread.start()
    yield running
    running.request_stop()
    thread.join(30)


def test_dead_job_traceback_replay_and_finish(page, live_server, admin_login, screenshot, worker):
    FEED_DOWN.set()
    failed = import_supplier_feed.enqueue("acme")
    dead = wait_for(
        lambda: DeadJob.objects.filter(job_id=failed.id).first(), what="the job to be dead"
    )

    admin_login(page)
    page.goto(f"{live_server.url}/admin/django_jobs/deadjob/")
    page.click(f'#result_list a[href$="/deadjob/{dead.pk}/change/"]')
    traceback = page.locator(".field-traceback_display pre")
    assert "ConnectionError: supplier feed 'acme' answered 503" in traceback.inner_text()
    assert traceback.evaluate("e => getComputedStyle(e).fontFamily").lower().count("mono") >= 1
    screenshot(page, "admin-dead-job")

    FEED_DOWN.clear()
    page.click("text=Replay as a new job")
    assert "Replayed 1 dead job(s) as new job(s)" in page.inner_text(".messagelist")
    dead.refresh_from_db()
    assert dead.replayed_by == "admin" and dead.replayed_job_id is not None
    assert page.url.endswith(f"/admin/django_jobs/job/{dead.replayed_job_id}/change/")

    def shows_done() -> bool:
        page.reload()
        return page.locator(".field-status_display .readonly").inner_text() == "Done"

    wait_for(shows_done, what="the replayed job's page to say Done")
    assert "imported 3 rows from acme" in page.locator(".field-result_display pre").inner_text()
    assert Job.objects.get(id=dead.replayed_job_id).status == JobStatus.DONE
    screenshot(page, "admin-replayed-job")


def test_dashboard_and_job_list(page, live_server, admin_login, screenshot):
    FEED_DOWN.set()
    for supplier in ("acme", "globex"):
        import_supplier_feed.enqueue(supplier)
    for n in range(3):
        tasks.add.enqueue(n, n)
    Worker(burst=True).run()
    for n in range(4):
        tasks.send_mail_task.enqueue(f"user{n}@example.com")
    tasks.add.using(delay=3600, queue="reports").enqueue(1, 2)

    admin_login(page)
    page.goto(f"{live_server.url}/admin/django_jobs/job/")
    page.click("text=Queue dashboard")
    mail = page.locator('tr[data-queue="mail"]')
    assert mail.locator('[data-stat="queued"]').inner_text() == "4"
    default = page.locator('tr[data-queue="default"]')
    assert default.locator('[data-stat="dead"]').inner_text() == "2"
    assert default.locator('[data-stat="done-last-hour"]').inner_text() == "3"
    page.wait_for_selector("#django-jobs-charts[data-drawn='true']")
    screenshot(page, "admin-dashboard")

    page.goto(f"{live_server.url}/admin/django_jobs/job/?status__exact=queued")
    assert page.locator("#result_list tbody tr").count() == 5
    screenshot(page, "admin-job-list")
