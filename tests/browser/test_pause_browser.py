"""Pausing and resuming a queue from the dashboard in a real browser, with a worker running."""

from __future__ import annotations

import pytest

from django_jobs import paused_queues
from django_jobs.models import Job, JobStatus
from tests import tasks
from tests.browser import test_admin_browser
from tests.browser.conftest import needs_chromium
from tests.conftest import wait_for

pytestmark = [needs_chromium(), pytest.mark.django_db(transaction=True)]

# The admin's browser tests' fixture: a worker in a thread (admin_login is in conftest).
worker = test_admin_browser.worker


def done(job: Job) -> bool:
    return Job.objects.filter(id=job.id, status=JobStatus.DONE).exists()


def test_pause_holds_a_queue_back_and_resume_lets_it_drain(page, live_server, admin_login, worker):
    first = tasks.send_mail_task.enqueue("first@example.com")
    wait_for(lambda: done(first), what="a mail job to run")
    admin_login(page)
    page.goto(f"{live_server.url}/admin/django_jobs/job/dashboard/")
    mail = page.locator('tr[data-queue="mail"]')
    mail.get_by_role("button", name="Pause").click()
    page.wait_for_selector("text=Paused queue mail")
    assert "paused" in mail.locator('[data-stat="claiming"]').inner_text()
    assert [q.queue for q in paused_queues()] == ["mail"]

    held = tasks.send_mail_task.enqueue("held@example.com")
    other = tasks.add.enqueue(1, 2)
    wait_for(lambda: done(other), what="a job of another queue to run")
    assert Job.objects.get(id=held.id).status == JobStatus.QUEUED

    mail.get_by_role("button", name="Resume").click()
    page.wait_for_selector("text=Resumed queue mail")
    wait_for(lambda: done(held), what="the held job to run after the resume")
    assert mail.locator('[data-stat="claiming"]').inner_text() == "yes"
