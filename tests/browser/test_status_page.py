"""The testproject's export status page in a browser: its progress bar, fed by the JSON view."""

from __future__ import annotations

import threading

import pytest

from django_jobs.worker import Worker
from testproject.reports import jobs
from testproject.reports.models import ExportRequest
from testproject.reports.seed import seed_shop
from tests.browser.conftest import needs_chromium
from tests.conftest import wait_for

pytestmark = [
    needs_chromium(),
    pytest.mark.django_db(transaction=True),
    pytest.mark.urls("testproject.urls"),
]


@pytest.fixture
def testproject_settings(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    settings.DJANGO_JOBS = {
        **settings.DJANGO_JOBS,
        "STATUS_PERMISSION": "testproject.reports.permissions.own_jobs",
    }


@pytest.fixture
def paused_export(monkeypatch):
    """Hold the export job before its third batch of rows until the returned event is set."""
    resume = threading.Event()
    order_row = jobs._order_row
    seen = 0

    def slow_order_row(order):
        nonlocal seen
        seen += 1
        if seen == 2 * jobs.BATCH_ROWS + 1:
            assert resume.wait(60), "the test never let the export go on"
        return order_row(order)

    monkeypatch.setattr(jobs, "_order_row", slow_order_row)
    yield resume
    resume.set()


@pytest.fixture
def worker():
    running = Worker(poll_interval_seconds=0.05)
    thread = threading.Thread(target=running.run, name="browser-test-worker")
    yield running, thread
    running.request_stop()
    if thread.is_alive():
        thread.join(30)


def test_export_progress_bar_reaches_done(
    page, live_server, testproject_settings, paused_export, worker, screenshot
):
    seed_shop(customers=20, orders=3 * jobs.BATCH_ROWS)
    polls: list[tuple[int, dict]] = []

    def record(route):
        response = route.fetch()
        polls.append((response.status, response.json()))
        route.fulfill(response=response)

    page.route("**/jobs/*/status/", record)

    page.goto(f"{live_server.url}/exports/new/")
    page.check("input[name=kind][value=orders]")
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_selector('#job-status[data-state="queued"]')
    export = ExportRequest.objects.get()
    assert page.url.endswith(f"/exports/{export.pk}/")

    _, thread = worker
    thread.start()
    # Two batches of three are written, then the job waits: the bar stands at two thirds.
    page.wait_for_selector('#job-status[data-state="running"]')
    page.wait_for_function("document.getElementById('job-progress').value >= 66")
    assert page.inner_text('[data-field="progress"]') == "67%: 200 of 300 rows written"
    screenshot(page, "status-page-progress")

    paused_export.set()
    page.wait_for_selector('#job-status[data-state="done"]')
    page.wait_for_selector("a[download]")
    with page.expect_download() as download:
        page.click("a[download]")
    assert download.value.suggested_filename == f"orders-{export.pk}.csv"
    with open(download.value.path(), newline="") as f:
        assert len(f.read().splitlines()) == 1 + 3 * jobs.BATCH_ROWS
    assert page.evaluate("document.getElementById('job-progress').value") == 100
    assert page.inner_text('[data-field="progress"]') == "100%: 300 rows written"
    screenshot(page, "status-page-done")

    wait_for(lambda: polls, what="the page to poll the JSON status view")
    assert all(status == 200 for status, _ in polls)
    states = [body["state"] for _, body in polls]
    assert "running" in states and states[-1] == "done"
    running = [body for _, body in polls if body["state"] == "running"]
    assert any(0 < body["progress_percent"] < 100 for body in running)
