"""The admin: lists, filters, readable failures, cancel/run-now/replay, dashboard, and refusals."""

import datetime as dt
import itertools
import re

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from django_jobs import dashboard
from django_jobs.engine import claim
from django_jobs.models import DeadJob, Job, JobStatus, ScheduleRun
from django_jobs.worker import Worker
from tests import tasks

pytestmark = pytest.mark.django_db

JOBS = reverse("admin:django_jobs_job_changelist")
DEAD_JOBS = reverse("admin:django_jobs_deadjob_changelist")
DASHBOARD = reverse("admin:django_jobs_job_dashboard")
_ids = itertools.count(900_000)


def make_dead(**fields) -> DeadJob:
    values = {
        "job_id": next(_ids),
        "task_path": "tests.tasks.add",
        "args": [1, 2],
        "kwargs": {},
        "queue": "default",
        "max_attempts": 3,
        "attempts": 3,
        "exception_class": "builtins.ValueError",
        "message": "bad <input>",
        "traceback": 'Traceback (most recent call last):\n  File "x.py", line 1\nValueError: bad',
        "errors": [],
        "enqueued_at": timezone.now(),
        **fields,
    }
    return DeadJob.objects.create(**values)


def later(job: Job) -> Job:
    Job.objects.filter(id=job.id).update(run_at=timezone.now() + dt.timedelta(hours=1))
    job.refresh_from_db()
    return job


@pytest.fixture
def admin_client_for(django_user_model):
    """Return a logged-in client for a new staff user holding the given permissions."""
    users = itertools.count()

    def make(*perms: str, is_staff: bool = True) -> Client:
        user = django_user_model.objects.create_user(f"user{next(users)}", is_staff=is_staff)
        for perm in perms:
            app_label, codename = perm.split(".")
            user.user_permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
        client = Client()
        client.force_login(user)
        return client

    return make


def post_action(client: Client, url: str, action: str, objs) -> object:
    return client.post(
        url, {"action": action, ACTION_CHECKBOX_NAME: [str(o.pk) for o in objs], "index": 0}
    )


def messages_on(client: Client, url: str) -> list[str]:
    return [str(m) for m in client.get(url).context["messages"]]


def action_choices(response) -> list[str]:
    return re.findall(r'<option value="(\w+)"', response.content.decode())


# Looking ---------------------------------------------------------------------------------------


def test_job_list_shows_the_columns(admin_client):
    job = tasks.send_mail_task.enqueue("ada@example.com")
    html = admin_client.get(JOBS).content.decode()
    for text in (str(job.id), "tests.tasks.send_mail_task", "mail", "Queued", "0/20", "10"):
        assert text in html
    for column in ("column-age", "column-worker_id", "column-run_at", "column-attempts_display"):
        assert column in html


def test_job_list_filters_and_search(admin_client):
    mail = tasks.send_mail_task.enqueue("a@example.com")
    added = tasks.add.using(idempotency_key="order-77").enqueue(1, 2)
    Job.objects.filter(id=added.id).update(status=JobStatus.DONE, finished_at=timezone.now())

    def listed(query: str) -> set[int]:
        response = admin_client.get(JOBS + query)
        assert response.status_code == 200
        return {job.id for job in response.context["cl"].result_list}

    assert listed("?status__exact=queued") == {mail.id}
    assert listed("?queue=mail") == {mail.id}
    assert listed("?task_path=tests.tasks.add") == {added.id}
    assert listed(f"?q={added.id}") == {added.id}
    assert listed("?q=send_mail") == {mail.id}
    assert listed("?q=order-77") == {added.id}
    html = admin_client.get(JOBS).content.decode()
    assert "?queue=mail" in html and "?task_path=tests.tasks.send_mail_task" in html


def test_job_page_shows_args_result_and_every_traceback_readably(admin_client):
    job = tasks.add.enqueue(1, 2)
    errors = [
        {
            "attempt": n,
            "exception_class": "builtins.OSError",
            "message": f"try {n} <failed>",
            "traceback": f"Traceback (most recent call last):\n  line {n}\nOSError: try {n}",
            "failed_at": "2025-01-01T00:00:00+00:00",
        }
        for n in (1, 2)
    ]
    Job.objects.filter(id=job.id).update(
        status=JobStatus.DONE, result={"total": 3}, errors=errors, attempts=3
    )
    html = admin_client.get(reverse("admin:django_jobs_job_change", args=[job.id])).content.decode()
    assert "<textarea" not in html
    assert html.count('<pre class="django-jobs-pre">') >= 5  # args, kwargs, result, 2 tracebacks
    assert "OSError: try 1" in html and "OSError: try 2" in html
    assert "try 2 &lt;failed&gt;" in html  # escaped, never raw
    assert "&quot;total&quot;: 3" in html
    assert "django_jobs/admin.css" in html


def test_dead_job_page_shows_the_traceback_readably(admin_client):
    dead = make_dead()
    html = admin_client.get(reverse("admin:django_jobs_deadjob_change", args=[dead.pk])).content
    html = html.decode()
    assert "<textarea" not in html
    assert '<pre class="django-jobs-pre">Traceback (most recent call last):' in html
    assert "bad &lt;input&gt;" in html
    assert "Replay as a new job" in html


# Cancel and run now ----------------------------------------------------------------------------


def test_cancel_action_cancels_queued_jobs_asks_running_ones_and_says_how_many(admin_client):
    queued = tasks.add.enqueue(1, 1)
    done = tasks.add.enqueue(1, 2)
    Job.objects.filter(id=done.id).update(status=JobStatus.DONE)
    running = tasks.add.enqueue(1, 3)
    Job.objects.filter(id=running.id).update(status=JobStatus.RUNNING, started_at=timezone.now())
    response = post_action(admin_client, JOBS, "cancel_selected", [queued, done, running])
    assert response.status_code == 302
    assert Job.objects.get(id=queued.id).status == JobStatus.CANCELLED
    assert Job.objects.get(id=done.id).status == JobStatus.DONE
    asked = Job.objects.get(id=running.id)
    assert asked.status == JobStatus.RUNNING and asked.cancel_requested_at is not None
    assert messages_on(admin_client, JOBS) == [
        "Cancelled 1 queued job(s) at once; they will not run. Asked 1 running job(s) to stop; "
        "each ends cancelled when its task stops. The other 1 of 3 selected job(s) had "
        "finished, been cancelled or been asked to stop already."
    ]
    post_action(admin_client, JOBS, "cancel_selected", [tasks.add.enqueue(2, 2)])
    assert messages_on(admin_client, JOBS) == [
        "Cancelled 1 queued job(s) at once; they will not run. Asked 0 running job(s) to stop; "
        "each ends cancelled when its task stops."
    ]


def test_run_now_action_says_how_many_were_waiting(admin_client):
    waiting, due = later(tasks.add.enqueue(1, 1)), tasks.add.enqueue(1, 2)
    post_action(admin_client, JOBS, "run_now_selected", [waiting, due])
    assert messages_on(admin_client, JOBS) == [
        "1 of 2 selected job(s) were queued for later and will run as soon as a worker is free; "
        "the others were already due, had started or had finished."
    ]


def test_cancel_and_run_now_buttons_say_what_became_of_a_job_that_started(admin_client):
    running = later(tasks.add.enqueue(1, 1))
    Job.objects.filter(id=running.id).update(status=JobStatus.RUNNING, started_at=timezone.now())
    page = reverse("admin:django_jobs_job_change", args=[running.id])
    for name, text in (
        ("cancel", "Asked running job {id} to stop; it ends cancelled when its task stops (a "
         "task that ignores the request and returns ends done)."),
        ("cancel", "Job {id} was not cancelled: it is running and was asked to stop already."),
        ("run_now", "Job {id} was not waiting for a later time: it had already started."),
    ):  # fmt: skip
        response = admin_client.post(reverse(f"admin:django_jobs_job_{name}", args=[running.id]))
        assert response.url == page
        assert messages_on(admin_client, page) == [text.format(id=running.id)]
    assert Job.objects.get(id=running.id).status == JobStatus.RUNNING


def test_cancelling_a_job_dead_lettered_meanwhile_leads_to_its_dead_job(admin_client):
    # The admin opened the job's page; before the click, its last attempt failed.
    dead = make_dead()
    response = admin_client.post(reverse("admin:django_jobs_job_cancel", args=[dead.job_id]))
    dead_page = reverse("admin:django_jobs_deadjob_change", args=[dead.pk])
    assert response.url == dead_page
    assert messages_on(admin_client, dead_page) == [
        f"Job {dead.job_id} was not cancelled: it failed and is now a dead job."
    ]
    unknown = reverse("admin:django_jobs_job_cancel", args=[dead.job_id + 1])
    assert admin_client.post(unknown).status_code == 404


def test_run_now_action_makes_waiting_jobs_ready(admin_client):
    waiting = later(tasks.add.enqueue(1, 1))
    post_action(admin_client, JOBS, "run_now_selected", [waiting])
    assert Job.objects.get(id=waiting.id).run_at <= timezone.now()


def test_job_page_buttons_post_cancel_and_run_now(admin_client):
    waiting = later(tasks.add.enqueue(1, 1))
    page = reverse("admin:django_jobs_job_change", args=[waiting.id])
    html = admin_client.get(page).content.decode()
    assert "Run now" in html and "Cancel job" in html
    run_now_url = reverse("admin:django_jobs_job_run_now", args=[waiting.id])
    assert admin_client.get(run_now_url).status_code == 405
    assert admin_client.post(run_now_url).url == page
    assert Job.objects.get(id=waiting.id).run_at <= timezone.now()
    admin_client.post(reverse("admin:django_jobs_job_cancel", args=[waiting.id]))
    assert Job.objects.get(id=waiting.id).status == JobStatus.CANCELLED
    html = admin_client.get(page).content.decode()
    assert "Cancelled" in html and "Cancel job" not in html and "Run now" not in html


# Replay ----------------------------------------------------------------------------------------


def test_replay_selected_makes_one_linked_job_per_dead_job(admin_client, admin_user):
    first, second = make_dead(args=[1, 2]), make_dead(args=[3, 4], queue="mail")
    response = post_action(admin_client, DEAD_JOBS, "replay_selected", [first, second])
    assert response.status_code == 302
    for dead in (first, second):
        dead.refresh_from_db()
        job = Job.objects.get(id=dead.replayed_job_id)
        assert (job.status, job.args, job.queue, job.attempts) == (
            JobStatus.QUEUED, dead.args, dead.queue, 0,
        )  # fmt: skip
        assert dead.replayed_by == admin_user.username and dead.replayed_at is not None
    html = admin_client.get(DEAD_JOBS).content.decode()
    assert "Replayed 2 dead job(s) as new job(s)" in html
    assert reverse("admin:django_jobs_job_change", args=[first.replayed_job_id]) in html


def test_replay_conflict_replays_none_and_says_why(admin_client):
    tasks.add.using(idempotency_key="invoice-9").enqueue(1, 2)
    free, taken = make_dead(), make_dead(idempotency_key="invoice-9")
    post_action(admin_client, DEAD_JOBS, "replay_selected", [free, taken])
    assert not DeadJob.objects.filter(replayed_at__isnull=False).exists()
    assert Job.objects.count() == 1
    messages = [str(m) for m in admin_client.get(DEAD_JOBS).context["messages"]]
    assert len(messages) == 1
    assert messages[0].startswith("Nothing was replayed. Dead job")
    assert "'invoice-9'" in messages[0] and "queued or running" in messages[0]


def test_replay_button_goes_to_the_new_job(admin_client):
    dead = make_dead()
    response = admin_client.post(reverse("admin:django_jobs_deadjob_replay", args=[dead.pk]))
    dead.refresh_from_db()
    assert response.url == reverse("admin:django_jobs_job_change", args=[dead.replayed_job_id])


def replayed(**fields) -> DeadJob:
    at = dt.datetime(2025, 1, 2, 3, 4, tzinfo=dt.UTC)
    return make_dead(replayed_at=at, replayed_by="alice", replayed_job_id=4242, **fields)


def test_replay_button_of_a_dead_job_replayed_already_names_who_did_it(admin_client):
    dead = replayed()
    page = reverse("admin:django_jobs_deadjob_change", args=[dead.pk])
    assert "Replay as a new job" not in admin_client.get(page).content.decode()
    # Another admin's page still shows the button; their click comes second.
    response = admin_client.post(reverse("admin:django_jobs_deadjob_replay", args=[dead.pk]))
    assert response.url == page
    assert messages_on(admin_client, page) == [
        f"Dead job {dead.job_id} was already replayed as job 4242 by alice at "
        "2025-01-02 03:04 UTC; not replayed again."
    ]
    assert Job.objects.count() == 0


def test_replay_action_skips_and_names_dead_jobs_replayed_already(admin_client):
    fresh, done_before = make_dead(), replayed()
    post_action(admin_client, DEAD_JOBS, "replay_selected", [fresh, done_before])
    fresh.refresh_from_db()
    new_job = Job.objects.get()
    assert fresh.replayed_job_id == new_job.id
    assert messages_on(admin_client, DEAD_JOBS) == [
        f"Dead job {done_before.job_id} was already replayed as job 4242 by alice at "
        "2025-01-02 03:04 UTC; not replayed again.",
        f"Replayed 1 dead job(s) as new job(s) {new_job.id}.",
    ]


def test_the_loser_of_a_replay_race_is_told_who_won(admin_client, monkeypatch):
    # The winner's replay commits between the loser's read of the dead job and its own replay;
    # the loser's real replay then re-reads the row under its lock and raises
    # ReplayConflictError (two processes at the same instant: tests/faults and test_engine).
    from django_jobs import engine
    from django_jobs.admin import deadjobs

    def the_other_admin_wins(dead_jobs, by):
        engine.replay([DeadJob.objects.get(pk=d.pk) for d in dead_jobs], by="alice")
        return engine.replay(dead_jobs, by=by)

    monkeypatch.setattr(deadjobs, "replay", the_other_admin_wins)
    dead = make_dead()
    response = admin_client.post(reverse("admin:django_jobs_deadjob_replay", args=[dead.pk]))
    assert response.status_code == 302
    dead.refresh_from_db()
    [message] = messages_on(admin_client, response.url)
    assert message.startswith(
        f"Nothing was replayed. Dead job {dead.job_id} was already replayed as job "
        f"{dead.replayed_job_id} by alice at "
    )
    assert Job.objects.count() == 1


def test_dead_jobs_can_be_deleted(admin_client):
    dead = make_dead()
    response = admin_client.post(
        DEAD_JOBS,
        {"action": "delete_selected", ACTION_CHECKBOX_NAME: [dead.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert not DeadJob.objects.exists()


# Dashboard -------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_dashboard_counts_each_state_per_queue(admin_client):
    tasks.always_fails.enqueue("dead now")  # three quick failures: dead, and failed this hour
    tasks.add.enqueue(1, 1)  # done this hour
    Worker(burst=True).run()
    tasks.send_mail_task.enqueue("a@example.com")  # queued in "mail", ready
    tasks.add.using(delay=3600).enqueue(2, 2)  # queued, not ready
    retrying = tasks.add.enqueue(3, 3)
    Job.objects.filter(id=retrying.id).update(attempts=1, run_at=timezone.now() + dt.timedelta(1))
    running = tasks.record.enqueue("r")
    claim(worker_id="w", limit=1, lease_seconds=60, queues=["default"])
    assert Job.objects.get(id=running.id).status == JobStatus.RUNNING
    make_dead(queue="old", failed_at=timezone.now() - dt.timedelta(days=2))

    stats = {row.queue: row for row in dashboard.collect().queues}
    assert set(stats) == {"default", "mail", "old"}
    default, mail, old = stats["default"], stats["mail"], stats["old"]
    assert (default.queued, default.retrying, default.running) == (2, 1, 1)
    assert (default.done_last_hour, default.failed_last_hour, default.dead) == (1, 1, 1)
    assert default.oldest_ready_at is None  # the ready job was claimed; the others wait
    assert (mail.queued, mail.oldest_ready_at is not None) == (1, True)
    assert (old.dead, old.failed_last_hour, old.queued) == (1, 0, 0)

    html = admin_client.get(DASHBOARD).content.decode()
    row = re.search(r'<tr class="[^"]*" data-queue="default">(.*?)</tr>', html, re.S).group(1)
    cells = dict(re.findall(r'data-stat="([\w-]+)">(?:<a [^>]*>)?([^<]*)', row))
    assert cells["queued"] == "2" and cells["retrying"] == "1" and cells["dead"] == "1"
    assert cells["done-last-hour"] == "1" and cells["failed-last-hour"] == "1"


def test_dashboard_caps_dead_counts(admin_client, monkeypatch):
    monkeypatch.setattr(dashboard, "DEAD_COUNT_CAP", 2)
    for _ in range(3):
        make_dead()
    [row] = dashboard.collect().queues
    assert (row.dead, row.dead_capped) == (2, True)
    assert 'data-stat="dead"><a href' in admin_client.get(DASHBOARD).content.decode()
    assert "2+</a>" in admin_client.get(DASHBOARD).content.decode()


def test_dashboard_never_reads_the_whole_job_table(admin_client):
    tasks.add.enqueue(1, 1)
    make_dead()
    with CaptureQueriesContext(connection) as queries:
        assert admin_client.get(DASHBOARD).status_code == 200
    job_table = [q["sql"] for q in queries if 'FROM "django_jobs_job"' in q["sql"]]
    assert job_table, "the dashboard should read the job table"
    for sql in job_table:
        assert "WHERE" in sql, sql


def test_dashboard_lists_configured_queues_even_when_empty(admin_client, settings):
    settings.DJANGO_JOBS = {**settings.DJANGO_JOBS, "QUEUES": ["default", "reports"]}
    assert [row.queue for row in dashboard.collect().queues] == ["default", "reports"]


# Permissions -----------------------------------------------------------------------------------


def test_non_staff_users_get_nothing(admin_client_for):
    client = admin_client_for(
        "django_jobs.view_job", "django_jobs.cancel_job", "django_jobs.view_deadjob",
        "django_jobs.replay_deadjob", is_staff=False,
    )  # fmt: skip
    queued = later(tasks.add.enqueue(1, 1))
    dead = make_dead()
    for url in (JOBS, DASHBOARD, DEAD_JOBS, reverse("admin:django_jobs_job_change", args=[1])):
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response.url
    for url in (
        reverse("admin:django_jobs_job_cancel", args=[queued.id]),
        reverse("admin:django_jobs_job_run_now", args=[queued.id]),
        reverse("admin:django_jobs_deadjob_replay", args=[dead.pk]),
    ):
        assert "/login/" in client.post(url).url
    post_action(client, JOBS, "cancel_selected", [queued])
    post_action(client, DEAD_JOBS, "replay_selected", [dead])
    assert Job.objects.get(id=queued.id).status == JobStatus.QUEUED
    assert Job.objects.get(id=queued.id).run_at == queued.run_at
    assert DeadJob.objects.get(pk=dead.pk).replayed_at is None


def test_staff_without_view_permission_are_refused(admin_client_for):
    client = admin_client_for()
    job = tasks.add.enqueue(1, 1)
    for url in (JOBS, DASHBOARD, DEAD_JOBS, reverse("admin:django_jobs_job_change", args=[job.id])):
        assert client.get(url).status_code == 403, url


def test_viewers_cannot_cancel_run_now_or_replay(admin_client_for):
    client = admin_client_for("django_jobs.view_job", "django_jobs.view_deadjob")
    queued = later(tasks.add.enqueue(1, 1))
    dead = make_dead()
    assert client.get(JOBS).status_code == 200 and client.get(DASHBOARD).status_code == 200
    assert action_choices(client.get(JOBS)) == []
    assert action_choices(client.get(DEAD_JOBS)) == []
    page = client.get(reverse("admin:django_jobs_job_change", args=[queued.id])).content.decode()
    assert "Cancel job" not in page and "Run now" not in page
    dead_page = reverse("admin:django_jobs_deadjob_change", args=[dead.pk])
    assert "Replay as a new job" not in client.get(dead_page).content.decode()

    post_action(client, JOBS, "cancel_selected", [queued])
    post_action(client, JOBS, "run_now_selected", [queued])
    post_action(client, DEAD_JOBS, "replay_selected", [dead])
    post_action(client, DEAD_JOBS, "delete_selected", [dead])
    for url in (
        reverse("admin:django_jobs_job_cancel", args=[queued.id]),
        reverse("admin:django_jobs_job_run_now", args=[queued.id]),
        reverse("admin:django_jobs_deadjob_replay", args=[dead.pk]),
    ):
        assert client.post(url).status_code == 403, url
    queued_now = Job.objects.get(id=queued.id)
    assert (queued_now.status, queued_now.run_at) == (JobStatus.QUEUED, queued.run_at)
    assert DeadJob.objects.get(pk=dead.pk).replayed_at is None


def test_each_action_needs_its_own_permission(admin_client_for):
    canceller = admin_client_for("django_jobs.view_job", "django_jobs.cancel_job")
    runner = admin_client_for("django_jobs.view_job", "django_jobs.run_now_job")
    replayer = admin_client_for("django_jobs.view_deadjob", "django_jobs.replay_deadjob")
    assert action_choices(canceller.get(JOBS)) == ["cancel_selected"]
    assert action_choices(runner.get(JOBS)) == ["run_now_selected"]
    assert action_choices(replayer.get(DEAD_JOBS)) == ["replay_selected"]

    one, two = later(tasks.add.enqueue(1, 1)), later(tasks.add.enqueue(2, 2))
    assert runner.post(reverse("admin:django_jobs_job_cancel", args=[one.id])).status_code == 403
    canceller.post(reverse("admin:django_jobs_job_cancel", args=[one.id]))
    assert (
        canceller.post(reverse("admin:django_jobs_job_run_now", args=[two.id])).status_code == 403
    )
    runner.post(reverse("admin:django_jobs_job_run_now", args=[two.id]))
    assert Job.objects.get(id=one.id).status == JobStatus.CANCELLED
    assert Job.objects.get(id=two.id).run_at <= timezone.now()

    dead = make_dead()
    response = replayer.post(reverse("admin:django_jobs_deadjob_replay", args=[dead.pk]))
    # Without view_job the replayer is sent back to the dead job, now marked replayed.
    assert response.url == reverse("admin:django_jobs_deadjob_change", args=[dead.pk])
    assert DeadJob.objects.get(pk=dead.pk).replayed_job_id is not None


def test_state_changes_need_the_csrf_token(admin_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    queued = later(tasks.add.enqueue(1, 1))
    dead = make_dead()
    for url in (
        reverse("admin:django_jobs_job_cancel", args=[queued.id]),
        reverse("admin:django_jobs_job_run_now", args=[queued.id]),
        reverse("admin:django_jobs_deadjob_replay", args=[dead.pk]),
    ):
        assert client.post(url).status_code == 403, url
    assert post_action(client, JOBS, "cancel_selected", [queued]).status_code == 403
    assert post_action(client, DEAD_JOBS, "replay_selected", [dead]).status_code == 403
    assert Job.objects.get(id=queued.id).status == JobStatus.QUEUED
    assert DeadJob.objects.get(pk=dead.pk).replayed_at is None
    # With the token from the page, the same POST goes through.
    page = client.get(reverse("admin:django_jobs_job_change", args=[queued.id])).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    url = reverse("admin:django_jobs_job_cancel", args=[queued.id])
    assert client.post(url, {"csrfmiddlewaretoken": token}).status_code == 302
    assert Job.objects.get(id=queued.id).status == JobStatus.CANCELLED


def test_unfiltered_job_list_of_a_huge_table_shows_the_estimate(admin_client, monkeypatch):
    from django_jobs.admin import paginator

    tasks.add.enqueue(1, 1)
    monkeypatch.setattr(paginator, "ESTIMATE_ABOVE", 0)
    monkeypatch.setattr(dashboard, "row_estimate", lambda model: 1_234_567)
    assert admin_client.get(JOBS).context["cl"].result_count == 1_234_567
    # Filtered lists are counted exactly.
    assert admin_client.get(JOBS + "?status__exact=queued").context["cl"].result_count == 1


# Hostile input ---------------------------------------------------------------------------------

BAD_IDS = ("abc", "1%00", "-", "99999999999999999999")


def admin_url_patterns() -> list[tuple[str, str]]:
    """Return (model name, route) for every URL the django_jobs admins serve."""
    from django.contrib import admin

    return [
        (model._meta.model_name, str(pattern.pattern))
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label == "django_jobs"
        for pattern in model_admin.get_urls()
    ]


def test_every_admin_url_with_a_parameter_answers_404_to_a_malformed_id(admin_client):
    routes = [(name, route) for name, route in admin_url_patterns() if "<" in route]
    # Each object view, the three POST-only views and the schedules' run-now view at least.
    assert len(routes) >= 8, routes
    for name, route in routes:
        for bad in BAD_IDS:
            url = f"/admin/django_jobs/{name}/" + re.sub(r"<[^>]+>", bad, route)
            for method in (admin_client.get, admin_client.post):
                response = method(url, follow=True)
                allowed = (404, 405) if method == admin_client.get else (404,)
                assert response.status_code in allowed, (method.__name__, url, response)


@pytest.mark.parametrize(
    ("changelist", "parameter"),
    [
        (JOBS, "q"), (JOBS, "queue"), (JOBS, "task_path"), (JOBS, "status__exact"),
        (JOBS, "o"), (JOBS, "p"),
        (DEAD_JOBS, "q"), (DEAD_JOBS, "queue"), (DEAD_JOBS, "task_path"),
        (DEAD_JOBS, "task_path__exact"), (DEAD_JOBS, "exception_class"),
        (DEAD_JOBS, "exception_class__exact"), (DEAD_JOBS, "replayed_at__isempty"),
        (reverse("admin:django_jobs_schedulerun_changelist"), "q"),
        (reverse("admin:django_jobs_schedulerun_changelist"), "schedule"),
    ],
)  # fmt: skip
def test_a_nul_in_a_filter_or_search_is_ignored_with_a_message(admin_client, changelist, parameter):
    queued = tasks.add.enqueue(1, 1)
    make_dead()
    for value in ("%00", "a%00b"):
        response = admin_client.get(f"{changelist}?{parameter}={value}")
        assert response.status_code == 200, (parameter, value)
        messages = [str(m) for m in response.context["messages"]]
        assert messages == [
            f"Ignored '{parameter}': a NUL character cannot be in any stored text, so it "
            "would match nothing."
        ]
    # The other parameters still apply.
    response = admin_client.get(f"{JOBS}?q=%00&status__exact=queued")
    assert [job.id for job in response.context["cl"].result_list] == [queued.id]


def test_actions_ignore_selected_ids_that_are_not_ids(admin_client):
    queued = tasks.add.enqueue(1, 1)
    data = {"action": "cancel_selected", ACTION_CHECKBOX_NAME: ["abc", "1\x00", str(queued.id)]}
    assert admin_client.post(JOBS, {**data, "index": 0}).status_code == 302
    assert Job.objects.get(id=queued.id).status == JobStatus.CANCELLED
    only_bad = {"action": "replay_selected", ACTION_CHECKBOX_NAME: ["abc"], "index": 0}
    response = admin_client.post(DEAD_JOBS, only_bad, follow=True)
    assert response.status_code == 200
    assert "Items must be selected" in response.content.decode()
    assert not DeadJob.objects.filter(replayed_at__isnull=False).exists()


# The schedules' ledger -------------------------------------------------------------------------


def test_ledger_rows_cannot_be_deleted_from_the_admin(admin_client):
    # A ledger row is what stops its fire time from enqueuing again; deleting it re-fires it.
    run = ScheduleRun.objects.create(schedule="nightly", fire_at=timezone.now(), job_id=None)
    changelist = reverse("admin:django_jobs_schedulerun_changelist")
    assert "delete_selected" not in action_choices(admin_client.get(changelist))
    post_action(admin_client, changelist, "delete_selected", [run])
    admin_client.post(changelist, {"action": "delete_selected", ACTION_CHECKBOX_NAME: [run.pk],
                                   "post": "yes", "index": 0})  # fmt: skip
    delete_page = reverse("admin:django_jobs_schedulerun_delete", args=[run.pk])
    assert admin_client.get(delete_page).status_code == 403
    assert admin_client.post(delete_page, {"post": "yes"}).status_code == 403
    assert ScheduleRun.objects.filter(pk=run.pk).exists()


# Big rows --------------------------------------------------------------------------------------

BIG = 5_000_000  # characters per big column: 5 MB of ASCII


def big_columns(model: type[Job] | type[DeadJob]) -> tuple[str, ...]:
    if model is Job:
        return ("args", "kwargs", "result", "errors")
    return ("args", "kwargs", "errors", "traceback", "message")


def big_failure() -> list[dict]:
    return [{"attempt": 1, "exception_class": "builtins.ValueError", "message": "m" * BIG,
             "traceback": "t" * BIG, "failed_at": "2025-01-01T00:00:00+00:00"}]  # fmt: skip


def big_job() -> Job:
    # Written with the ORM directly: enqueue may refuse arguments this big.
    return Job.objects.create(
        task_path="tests.tasks.add", args=["x" * BIG], kwargs={"k": "y" * BIG},
        status=JobStatus.DONE, result="z" * BIG, errors=big_failure(), attempts=2,
    )  # fmt: skip


def big_dead() -> DeadJob:
    return make_dead(
        args=["x" * BIG], kwargs={"k": "y" * BIG}, errors=big_failure(),
        traceback="t" * BIG, message="m" * BIG,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("changelist", "model", "make"), [(JOBS, Job, big_job), (DEAD_JOBS, DeadJob, big_dead)]
)
def test_lists_never_read_the_big_columns(admin_client, changelist, model, make):
    make(), make()
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(changelist)
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 2
    assert len(response.content) < 100_000
    table = model._meta.db_table
    reads = [q["sql"] for q in queries if f'FROM "{table}"' in q["sql"]]
    assert reads
    for column in big_columns(model):
        assert not [sql for sql in reads if f'"{table}"."{column}"' in sql], column


@pytest.mark.parametrize(
    ("page", "make"),
    [("admin:django_jobs_job_change", big_job), ("admin:django_jobs_deadjob_change", big_dead)],
)
def test_a_page_shows_the_start_of_each_big_value_and_how_much_is_left_out(
    admin_client, page, make
):
    row = make()
    response = admin_client.get(reverse(page, args=[row.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert len(html) < 1_000_000  # five or six 64 KiB previews, not 25 MB
    assert "&quot;xxxxxxxx" in html and "&quot;yyyyyyyy" in html and "mmmmmmmm" in html
    assert html.count("more characters not shown (the first 65,536 are).") >= 4
    assert f"... {BIG + 4 - 65_536:,} more characters not shown" in html  # args: ["x..."]


def test_replaying_a_dead_job_with_big_arguments_from_the_list_replays_them_whole(admin_client):
    dead = big_dead()
    post_action(admin_client, DEAD_JOBS, "replay_selected", [dead])
    dead.refresh_from_db()
    assert Job.objects.get(id=dead.replayed_job_id).args == ["x" * BIG]


# The package -----------------------------------------------------------------------------------


def imported_modules(path, package: str) -> set[str]:
    """Return the absolute names of the modules ``path`` (in ``package``) imports from."""
    import ast

    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            prefix = ".".join(base) if node.level else ""
            module = ".".join(part for part in (prefix, node.module or "") if part)
            names |= {module} | {f"{module}.{alias.name}" for alias in node.names}
    return names


def test_admin_modules_import_each_other_one_way_and_the_core_never_imports_them():
    from pathlib import Path

    import django_jobs

    root = Path(django_jobs.__file__).parent
    admin_dir = root / "admin"
    modules = {f"django_jobs.admin.{p.stem}" for p in admin_dir.glob("*.py")} - {
        "django_jobs.admin.__init__"
    }
    imports = {
        name: imported_modules(admin_dir / f"{name.rsplit('.', 1)[1]}.py", "django_jobs.admin")
        & modules
        for name in modules
    }
    ordered: list[str] = []
    while len(ordered) < len(modules):
        ready = [m for m in sorted(modules - set(ordered)) if imports[m] <= set(ordered)]
        assert ready, f"import circle among {sorted(modules - set(ordered))}"
        ordered += ready
    core = [path for path in root.rglob("*.py") if admin_dir not in path.parents]
    for path in core:
        package = ".".join(("django_jobs", *path.relative_to(root).parent.parts))
        names = imported_modules(path, package)
        assert not [n for n in names if n.startswith("django_jobs.admin")], path


def test_the_ledger_shows_fire_times_to_the_second(admin_client):
    base = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.UTC)
    for seconds in (0, 10):
        ScheduleRun.objects.create(
            schedule="every-10s", fire_at=base + dt.timedelta(seconds=seconds)
        )
    page = admin_client.get(reverse("admin:django_jobs_schedulerun_changelist")).content.decode()
    assert "2026-01-01 12:00:00 UTC" in page and "2026-01-01 12:00:10 UTC" in page
