"""The admin how-to's code blocks, run as the page shows them (tests/docs/admin/), on the DB."""

from __future__ import annotations

import runpy
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from django_jobs.models import Job

from .pages import DOCS, page_blocks

PAGE = "howto/admin.md"
EXAMPLES = Path(__file__).resolve().parent / "admin"


def test_every_file_the_admin_how_to_includes_is_an_example_here():
    included = {block.include_path for block in page_blocks(PAGE) if block.include_path}
    assert {(DOCS / "howto" / path).resolve() for path in included} == {
        EXAMPLES / "operators.py",
        EXAMPLES / "from_code.py",
    }


@pytest.mark.django_db
def test_the_operators_group_may_do_what_the_table_says_and_no_more():
    runpy.run_path(str(EXAMPLES / "operators.py"))
    operator = User.objects.create_user("olga", is_staff=True)
    operator.groups.add(Group.objects.get(name="Job operators"))
    for permission in ("view_job", "view_deadjob", "cancel_job", "run_now_job", "replay_deadjob"):
        assert operator.has_perm(f"django_jobs.{permission}"), permission
    assert not operator.has_perm("django_jobs.delete_deadjob")
    runpy.run_path(str(EXAMPLES / "operators.py"))  # a second run changes nothing
    assert Group.objects.get(name="Job operators").permissions.count() == 5


@pytest.mark.django_db
def test_cancel_and_run_now_from_code_return_the_jobs_they_changed():
    later = timezone.now() + timedelta(hours=1)
    reminders = [Job.objects.create(task_path="shop.jobs.send_reminder") for _ in range(2)]
    running = Job.objects.create(task_path="shop.jobs.send_reminder", status="running")
    report = Job.objects.create(task_path="shop.jobs.report", queue="reports", run_at=later)
    due = Job.objects.create(task_path="shop.jobs.report", queue="reports")

    names = runpy.run_path(str(EXAMPLES / "from_code.py"))

    assert (names["cancelled"], names["started"]) == (2, 1)
    assert {job.status for job in Job.objects.filter(pk__in=[job.pk for job in reminders])} == {
        "cancelled"
    }
    running.refresh_from_db()
    report.refresh_from_db()
    assert running.status == "running"
    assert report.status == "queued" and report.run_at <= timezone.now()
    assert Job.objects.get(pk=due.pk).run_at == due.run_at
