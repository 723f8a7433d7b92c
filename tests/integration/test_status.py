"""get_status, progress from a running job, and the JSON status view behind its permission hook."""

import threading

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.http import Http404
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from django_jobs import JobContext, JobNotFoundError, get_status, job
from django_jobs.engine import cancel, claim
from django_jobs.exceptions import ConfigurationError
from django_jobs.models import Job, JobStatus
from django_jobs.worker import Worker
from tests import tasks
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

# The task below reports a step, then waits here until the test has looked at it.
STEP_REPORTED = threading.Event()
MAY_FINISH = threading.Event()


@job(takes_context=True)
def two_steps(context: JobContext) -> str:
    context.set_progress(40, "reading rows")
    STEP_REPORTED.set()
    MAY_FINISH.wait(30)
    return "exported"


def jobs_settings(**changes):
    return override_settings(DJANGO_JOBS={**settings.DJANGO_JOBS, **changes})


def allow_everyone(request, job_id):
    return True


# get_status ------------------------------------------------------------------------------------


def test_running_job_shows_its_progress_then_done_shows_the_result():
    STEP_REPORTED.clear()
    MAY_FINISH.clear()
    queued = two_steps.enqueue()
    report = get_status(queued.id)
    assert (report.state, report.progress_percent, report.result) == ("queued", None, None)
    assert report.run_at is not None and not report.finished

    worker = Worker(poll_interval_seconds=0.05)
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        assert STEP_REPORTED.wait(30)
        running = get_status(queued.id)
        assert running.state == "running"
        assert (running.progress_percent, running.progress_message) == (40.0, "reading rows")
        assert running.started_at is not None and running.finished_at is None
    finally:
        MAY_FINISH.set()
        wait_for(lambda: get_status(queued.id).state == "done", what="the job to finish")
        worker.request_stop()
        thread.join(30)
    done = get_status(queued.id)
    assert (done.result, done.progress_percent, done.error) == ("exported", 100.0, "")
    assert done.finished and done.finished_at >= done.started_at


def test_dead_job_is_found_by_its_original_id_with_a_short_error():
    original = tasks.always_fails.enqueue("disk full")
    Worker(burst=True).run()
    assert not Job.objects.filter(id=original.id).exists()
    report = get_status(original.id)
    assert report.job_id == original.id
    assert (report.state, report.error, report.result) == (
        "failed",
        "RuntimeError: disk full",
        None,
    )
    assert report.attempts == 3 and report.finished and report.replayed_job_id is None


def test_queued_job_on_a_retry_names_its_last_error():
    queued = tasks.fails_until.using(max_attempts=3).enqueue(key="k", succeed_on=3)
    Worker(burst=True, max_jobs=1).run()
    report = get_status(queued.id)
    assert (report.state, report.attempts, report.finished) == ("queued", 1, False)
    assert report.error == "ConnectionError: attempt 1 failed on purpose"


def test_cancelled_job_reports_cancelled():
    queued = tasks.add.enqueue(1, 2)
    cancel([queued])
    report = get_status(queued.id)
    assert (report.state, report.finished, report.error) == ("cancelled", True, "")


def test_status_leaves_the_call_and_the_traceback_unread():
    # A status page polls twice a second; the call may be megabytes (issue 9, item 12).
    live = tasks.add.enqueue(1, 2)
    failed = tasks.always_fails.enqueue("disk full")
    Worker(burst=True).run()
    for job_id, table in ((live.id, "django_jobs_job"), (failed.id, "django_jobs_deadjob")):
        with CaptureQueriesContext(connection) as queries:
            get_status(job_id)
        for column in ("args", "kwargs", "traceback"):
            assert not [q for q in queries if f'"{table}"."{column}"' in q["sql"]], column


def test_unknown_id_raises_job_not_found():
    with pytest.raises(JobNotFoundError, match="123456789"):
        get_status(123456789)


# Progress --------------------------------------------------------------------------------------


def test_progress_is_one_query_and_fenced_to_the_current_attempt():
    queued = tasks.add.enqueue(1, 1)
    [claimed] = claim(worker_id="w1", limit=1, lease_seconds=30)
    context = JobContext.for_job(claimed)
    with CaptureQueriesContext(connection) as queries:
        assert context.set_progress(10, "first")
    assert len(queries) == 1 and queries[0]["sql"].startswith("UPDATE")
    # The lease is lost: the job was rescued and claimed again by another worker.
    Job.objects.filter(id=queued.id).update(status=JobStatus.QUEUED, lease_token=None)
    [again] = claim(worker_id="w2", limit=1, lease_seconds=30)
    assert context.set_progress(90, "stale") is False
    assert JobContext.for_job(again).set_progress(20, "second")
    assert (get_status(queued.id).progress_percent, get_status(queued.id).progress_message) == (
        20.0,
        "second",
    )


# The JSON view ---------------------------------------------------------------------------------


def with_perms(user, *codenames: str):
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="django_jobs", codename__in=codenames)
    )
    return user


@pytest.fixture
def staff(django_user_model):
    """A staff user with no permissions: the admin shows them no job, nor may the JSON view."""
    return django_user_model.objects.create_user("staff", password="pw", is_staff=True)


@pytest.fixture
def viewer(django_user_model):
    """A user who may view jobs (the admin's ``view_job``); not staff."""
    return with_perms(django_user_model.objects.create_user("viewer", password="pw"), "view_job")


@pytest.fixture
def member(django_user_model):
    return django_user_model.objects.create_user("member", password="pw")


def status_url(job_id: int) -> str:
    return reverse("django_jobs:status", args=[job_id])


def test_users_with_view_job_read_the_status_as_json(client, viewer):
    done = tasks.add.enqueue(2, 3)
    Worker(burst=True).run()
    client.force_login(viewer)
    response = client.get(status_url(done.id))
    assert response.status_code == 200
    assert "no-cache" in response["Cache-Control"]
    data = response.json()
    assert (data["job_id"], data["state"], data["result"], data["finished"]) == (
        done.id,
        "done",
        5,
        True,
    )
    assert data["progress_percent"] == 100.0 and data["finished_at"].endswith("+00:00")


def test_staff_without_view_job_are_refused_as_in_the_admin(client, staff):
    # A job's result and error are the admin's to show; staff status alone opens neither.
    done = tasks.add.enqueue(2, 3)
    Worker(burst=True).run()
    client.force_login(staff)
    response = client.get(status_url(done.id))
    assert response.status_code == 403 and response.json() == {"error": "You may not see this job."}
    assert client.get(reverse("admin:django_jobs_job_change", args=[done.id])).status_code == 403
    with_perms(staff, "view_job")
    assert client.get(status_url(done.id)).json()["result"] == 5


def test_anonymous_users_and_users_without_view_job_are_refused_without_learning_if_it_exists(
    client, member
):
    existing = tasks.add.enqueue(1, 2)
    for job_id in (existing.id, 987654321):
        response = client.get(status_url(job_id))
        assert response.status_code == 403 and "error" in response.json()
    client.force_login(member)
    for job_id in (existing.id, 987654321):
        assert client.get(status_url(job_id)).status_code == 403
    with_perms(member, "view_job")
    assert client.get(status_url(existing.id)).status_code == 200
    get_user_model().objects.filter(id=member.id).update(is_active=False)
    assert client.get(status_url(existing.id)).status_code == 403


def test_the_staff_only_hook_still_lets_any_staff_user_see_any_job(client, staff):
    queued = tasks.add.enqueue(1, 2)
    client.force_login(staff)
    with jobs_settings(STATUS_PERMISSION="django_jobs.permissions.staff_only"):
        assert client.get(status_url(queued.id)).json()["state"] == "queued"


def test_unknown_job_is_404_for_those_allowed(client, viewer):
    client.force_login(viewer)
    response = client.get(status_url(987654321))
    assert response.status_code == 404 and response.json() == {"error": "No job has id 987654321."}


def hide_every_job(request, job_id):
    raise Http404("not yours")


def test_a_hook_that_raises_http404_answers_as_for_an_unknown_job(client):
    queued = tasks.add.enqueue(1, 2)
    with jobs_settings(STATUS_PERMISSION=f"{__name__}.hide_every_job"):
        hidden, unknown = client.get(status_url(queued.id)), client.get(status_url(queued.id + 1))
    assert hidden.status_code == unknown.status_code == 404
    assert hidden.json() == {"error": f"No job has id {queued.id}."}
    assert unknown.json() == {"error": f"No job has id {queued.id + 1}."}


def test_the_project_hook_decides(client):
    queued = tasks.add.enqueue(1, 2)
    with jobs_settings(STATUS_PERMISSION=f"{__name__}.allow_everyone"):
        assert client.get(status_url(queued.id)).json()["state"] == "queued"
    with (
        jobs_settings(STATUS_PERMISSION="tests.nowhere.hook"),
        pytest.raises(ConfigurationError, match=r"tests\.nowhere\.hook"),
    ):
        client.get(status_url(queued.id))


def test_only_get_is_allowed(client, viewer):
    client.force_login(viewer)
    queued = tasks.add.enqueue(1, 2)
    assert client.post(status_url(queued.id)).status_code == 405
