"""The admin's "Change selected queued jobs" action: its form, its permission, its guard."""

import datetime as dt

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from django_jobs.engine import claim
from django_jobs.models import Job, JobStatus
from tests import tasks
from tests.integration.test_admin import action_choices, admin_client_for  # noqa: F401

pytestmark = pytest.mark.django_db

JOBS = reverse("admin:django_jobs_job_changelist")
ACTION = "update_selected"


def post(client, jobs, **values):
    data = {"action": ACTION, ACTION_CHECKBOX_NAME: [str(j.pk) for j in jobs], "index": 0}
    return client.post(JOBS, {**data, **values})


def test_the_action_asks_for_values_then_changes_only_the_queued_jobs(admin_client):
    queued = tasks.add.enqueue(1, 1)
    running = tasks.add.using(priority=90).enqueue(2, 2)
    claim(worker_id="w", limit=1, lease_seconds=60)
    form = post(admin_client, [queued, running])
    assert form.status_code == 200
    page = form.content.decode()
    assert "Change selected queued jobs" in page and f"Job {queued.id}" in page
    done = post(
        admin_client, [queued, running], apply="Change jobs",
        run_at="2031-05-06 07:08:09", priority="12", queue="mail",
    )  # fmt: skip
    assert done.status_code == 302
    queued.refresh_from_db()
    assert (queued.priority, queued.queue) == (12, "mail")
    assert queued.run_at == dt.datetime(2031, 5, 6, 7, 8, 9, tzinfo=dt.UTC)
    row = Job.objects.get(id=running.id)
    assert (row.status, row.priority, row.queue) == (JobStatus.RUNNING, 90, "default")
    messages = [str(m) for m in admin_client.get(JOBS).context["messages"]]
    assert any("Changed 1 of 2 selected job(s)" in m for m in messages), messages


def test_bad_values_show_the_form_again_and_change_nothing(admin_client):
    job = tasks.add.enqueue(1, 1)
    for values in ({"priority": "500"}, {}, {"queue": "x" * 65}):
        response = post(admin_client, [job], apply="Change jobs", **values)
        assert response.status_code == 200, values
        assert response.context["form"].errors, values
    job.refresh_from_db()
    assert (job.priority, job.queue) == (0, "default")


def test_the_action_needs_its_own_permission(admin_client_for):  # noqa: F811
    changer = admin_client_for("django_jobs.view_job", "django_jobs.update_queued_job")
    viewer = admin_client_for("django_jobs.view_job", "django_jobs.cancel_job")
    assert action_choices(changer.get(JOBS)) == [ACTION]
    assert ACTION not in action_choices(viewer.get(JOBS))
    job = tasks.add.enqueue(1, 1)
    post(viewer, [job], apply="Change jobs", priority="5")
    assert Job.objects.get(id=job.id).priority == 0
    post(changer, [job], apply="Change jobs", priority="5")
    assert Job.objects.get(id=job.id).priority == 5


def test_a_snoozed_job_shows_as_queued_and_snoozed_with_its_snoozes(admin_client):
    job = tasks.add.enqueue(1, 1)
    Job.objects.filter(id=job.id).update(
        snoozes=2, run_at=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    )
    page = admin_client.get(reverse("admin:django_jobs_job_change", args=[job.id]))
    text = page.content.decode()
    assert "queued (snoozed in" in text and "0/20 (2 snoozes)" in text
