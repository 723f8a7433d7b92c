"""``update_queued`` and ``manage.py jobs update``: change queued jobs, leave the others alone."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_jobs import update_queued
from django_jobs.engine import claim
from django_jobs.exceptions import InvalidJobOptionsError
from django_jobs.models import DeadJob, Job, JobStatus
from tests import tasks

pytestmark = pytest.mark.django_db(transaction=True)


def test_update_changes_run_at_priority_and_queue_of_queued_jobs_only():
    first, second, other = (tasks.noop.enqueue() for _ in range(3))
    [running] = claim(worker_id="w", limit=1, lease_seconds=60, queues=None)
    later = timezone.now() + dt.timedelta(hours=2)
    ids = [first.id, second.id, other.id]
    changed = update_queued(ids, run_at=later, priority=9, queue="mail")
    assert changed == 2
    for job in Job.objects.filter(id__in=ids):
        if job.id == running.id:
            assert (job.status, job.priority, job.queue) == (JobStatus.RUNNING, 0, "default")
        else:
            assert (job.run_at, job.priority, job.queue) == (later, 9, "mail")


def test_update_takes_a_queryset_or_jobs_and_leaves_unnamed_fields_alone():
    job = tasks.noop.using(priority=3).enqueue()
    assert update_queued(Job.objects.filter(id=job.id), queue="mail") == 1
    assert update_queued([job], priority=-5) == 1
    job.refresh_from_db()
    assert (job.queue, job.priority) == ("mail", -5)


def test_a_done_or_cancelled_job_is_not_changed():
    done = tasks.noop.enqueue()
    Job.objects.filter(id=done.id).update(status=JobStatus.DONE)
    assert update_queued([done.id], priority=5) == 0
    assert Job.objects.get(id=done.id).priority == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "needs at least one of run_at, priority or queue"),
        ({"priority": 101}, "priority 101 is out of range"),
        ({"priority": True}, "priority must be an integer"),
        ({"queue": ""}, "queue must be a non-empty string"),
        ({"queue": "nope"}, "Unknown queue 'nope'"),
        ({"run_at": dt.datetime(2030, 1, 1)}, "is naive"),
        ({"run_at": "tomorrow"}, "run_at must be a datetime"),
    ],
)
@override_settings(DJANGO_JOBS={"QUEUES": ["default", "mail"]})
def test_bad_values_are_refused_before_any_sql(kwargs, message):
    job = tasks.noop.enqueue()
    with (
        CaptureQueriesContext(connection) as queries,
        pytest.raises(InvalidJobOptionsError, match=message),
    ):
        update_queued([job.id], **kwargs)
    assert len(queries) == 0


@pytest.mark.parametrize("jobs", ["12", 12, [0], ["7"], [True], DeadJob.objects.all()])
def test_a_bad_selection_is_refused_before_any_sql(jobs):
    with CaptureQueriesContext(connection) as queries, pytest.raises(InvalidJobOptionsError):
        update_queued(jobs, priority=1)
    assert len(queries) == 0


# manage.py jobs update


def jobs(*args: str) -> tuple[int, str, str]:
    import io

    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("jobs", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def test_the_command_updates_queued_jobs_and_says_why_not_for_the_others():
    queued = tasks.noop.enqueue()
    running_job = tasks.noop.using(priority=50).enqueue()
    claim(worker_id="w", limit=1, lease_seconds=60)  # takes the priority 50 job
    code, out, _ = jobs(
        "update", str(queued.id), str(running_job.id), "999999", "--priority", "4",
        "--delay", "60", "--json",
    )  # fmt: skip
    assert code == 1
    rows = json.loads(out)
    assert [(r["id"], r["updated"], r["status"]) for r in rows] == [
        (queued.id, True, "queued"),
        (running_job.id, False, "running"),
        (999999, False, None),
    ]
    queued.refresh_from_db()
    assert queued.priority == 4 and queued.run_at > timezone.now() + dt.timedelta(seconds=50)
    code, out, _ = jobs("update", str(queued.id), "--run-at", "2031-01-02T03:04:05")
    assert code == 0 and f"job {queued.id}: updated" in out
    queued.refresh_from_db()
    assert queued.run_at == dt.datetime(2031, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["x", "--priority", "1"], "'x' is not a job id"),
        (["1"], "needs at least one of run_at, priority or queue"),
        (["1", "--priority", "high"], "--priority 'high'"),
        (["1", "--priority", "500"], "priority 500 is out of range"),
        (["1", "--delay", "-3"], "--delay -3"),
        (["1", "--run-at", "soon"], "--run-at 'soon'"),
    ],
)
def test_the_command_refuses_bad_input_before_any_sql(args, message):
    with CaptureQueriesContext(connection) as queries:
        code, _, err = jobs("update", *args)
    assert code == 2 and message in err
    assert len(queries) == 0
