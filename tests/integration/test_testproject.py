"""The testproject's views and jobs: a row and its job commit together; status pages are right."""

import csv
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from django_jobs import InvalidJobOptionsError, get_status
from django_jobs.context import JobContext
from django_jobs.engine import claim
from django_jobs.models import DeadJob, Job
from django_jobs.worker import Worker
from testproject.reports import jobs
from testproject.reports.models import ExportRequest, Subscriber, Trial
from testproject.reports.seed import seed_shop
from tests import tasks
from tests.conftest import wait_for

EXPORT_URL = "reports:export_create"


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


def run_worker():
    """Run burst workers until no job is queued or running (retries are ready at once here).

    One burst may not be enough: it can find nothing ready while a job is running, and exit once
    that job ends, even though it has just been queued again for a retry.
    """

    def settled():
        assert Worker(burst=True, concurrency=2).run() == 0
        return not Job.objects.live().exists()

    wait_for(settled, timeout=60, what="every job to be done or dead")


# Enqueue through the views ---------------------------------------------------------------------


@pytest.mark.django_db
def test_export_form_saves_one_request_and_one_job_pointing_at_each_other(client):
    response = client.post(reverse(EXPORT_URL), {"kind": "orders"})

    export = ExportRequest.objects.get()
    job = Job.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("reports:export_status", args=[export.pk])
    assert export.job_id == job.id
    assert (job.task_path, job.args, job.queue) == (jobs.export_csv.path, [export.pk], "exports")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"kind": "orders", "placed_from": "2024-03-02", "placed_until": "2024-03-01"},
         "Must be on or after the start date."),
        ({"kind": "everything"}, "Select a valid choice."),
        ({"kind": "customers", "placed_from": "2024-03-01"}, "Dates apply to order exports only"),
        ({"kind": "orders", "placed_from": timezone.localdate() + timedelta(days=2)},
         "No orders were placed in the future."),
    ],
)  # fmt: skip
def test_invalid_export_form_saves_neither_request_nor_job(client, data, error):
    response = client.post(reverse(EXPORT_URL), data)

    assert response.status_code == 200
    assert error in response.content.decode()
    assert not ExportRequest.objects.exists()
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_failed_enqueue_rolls_back_the_export_request(client):
    # The export task's queue is not allowed here, so its INSERT raises inside the view's block.
    only_default = override_settings(DJANGO_JOBS={**settings.DJANGO_JOBS, "QUEUES": ["default"]})
    with only_default, pytest.raises(InvalidJobOptionsError):
        client.post(reverse(EXPORT_URL), {"kind": "customers"})

    assert not ExportRequest.objects.exists()
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_signup_saves_subscriber_and_welcome_job_and_rejects_a_second_signup(client):
    data = {"name": "Grace Hopper", "email": "Grace@Example.com"}
    response = client.post(reverse("reports:signup"), data)

    subscriber = Subscriber.objects.get()
    job = Job.objects.get()
    assert response["Location"] == reverse("reports:job_status", args=[job.id])
    assert subscriber.email == "grace@example.com"
    assert (subscriber.welcome_job_id, job.task_path) == (job.id, jobs.send_welcome_email.path)

    again = client.post(reverse("reports:signup"), data)
    assert again.status_code == 200
    assert (Subscriber.objects.count(), Job.objects.count()) == (1, 1)


# Status pages ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_status_page_of_a_queued_job_refreshes_itself(client):
    client.post(reverse(EXPORT_URL), {"kind": "customers"})
    export = ExportRequest.objects.get()

    page = client.get(reverse("reports:export_status", args=[export.pk])).content.decode()

    assert 'data-state="queued"' in page
    assert '<meta http-equiv="refresh"' in page
    assert "Download" not in page


@pytest.mark.django_db
def test_status_page_of_a_running_job_shows_its_progress(client):
    client.post(reverse("reports:try_job"), {"behaviour": "flaky", "label": "sync"})
    [running] = claim(worker_id="test", limit=1, lease_seconds=60)
    assert JobContext.for_job(running).set_progress(40, "reading rows")

    page = client.get(reverse("reports:job_status", args=[running.id])).content.decode()

    assert 'data-state="running"' in page
    assert "40%: reading rows" in page
    assert '<meta http-equiv="refresh"' in page


@pytest.mark.django_db
def test_status_page_is_404_for_unknown_jobs_and_other_sites_jobs(client):
    other = tasks.add.enqueue(1, 2)

    assert client.get(reverse("reports:job_status", args=[other.id])).status_code == 404
    assert client.get(reverse("reports:job_status", args=[other.id + 1])).status_code == 404
    assert client.get(reverse("reports:export_status", args=[123])).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_done_export_wrote_every_row_to_a_csv_the_status_page_links_to(client, media_root):
    seed_shop(customers=30, orders=250)
    client.post(reverse(EXPORT_URL), {"kind": "orders"})
    export = ExportRequest.objects.get()

    run_worker()

    export.refresh_from_db()
    report = get_status(export.job_id)
    assert (report.state, report.progress_percent) == ("done", 100)
    assert report.progress_message == "250 rows written"
    with open(media_root / export.file.name, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == jobs.ORDER_HEADER
    assert sorted(r[0] for r in rows[1:]) == [f"ORD-{n:06d}" for n in range(1, 251)]
    assert export.row_count == 250
    page = client.get(reverse("reports:export_status", args=[export.pk])).content.decode()
    assert 'data-state="done"' in page
    download = reverse("reports:export_download", args=[export.pk])
    assert f'href="{download}"' in page
    assert "http-equiv" not in page
    response = client.get(download)
    assert response["Content-Disposition"] == f'attachment; filename="orders-{export.pk}.csv"'
    assert b"".join(response.streaming_content) == (media_root / export.file.name).read_bytes()


@pytest.mark.django_db(transaction=True)
def test_date_bounds_limit_the_orders_exported(client, media_root):
    seed_shop(customers=10, orders=300)
    since = timezone.localdate() - timedelta(days=30)
    client.post(reverse(EXPORT_URL), {"kind": "orders", "placed_from": since})

    run_worker()

    export = ExportRequest.objects.get()
    with open(media_root / export.file.name, newline="") as f:
        placed = [row["placed_at"] for row in csv.DictReader(f)]
    assert placed and len(placed) < 300
    assert all(p[:10] >= since.isoformat() for p in placed)


@pytest.mark.django_db(transaction=True)
def test_welcome_email_is_sent_by_the_worker(client, mailoutbox):
    client.post(reverse("reports:signup"), {"name": "Ada", "email": "ada@example.com"})

    run_worker()

    assert [m.to for m in mailoutbox] == [["ada@example.com"]]
    assert "Hello Ada" in mailoutbox[0].body


@pytest.mark.django_db(transaction=True)
def test_flaky_job_is_done_on_its_third_attempt(client):
    response = client.post(reverse("reports:try_job"), {"behaviour": "flaky", "label": "sync"})

    run_worker()

    page = client.get(response["Location"]).content.decode()
    assert 'data-state="done"' in page
    assert "attempt 3 of 5" in page


@pytest.mark.django_db(transaction=True)
def test_failing_job_ends_dead_and_its_status_page_shows_the_error(client):
    response = client.post(
        reverse("reports:try_job"), {"behaviour": "always_fails", "label": "Monthly"}
    )

    run_worker()

    dead = DeadJob.objects.get()
    assert dead.attempts == dead.max_attempts == 3
    page = client.get(response["Location"]).content.decode()
    assert 'data-state="failed"' in page
    assert "RuntimeError: Monthly: the report template is missing" in page
    assert "http-equiv" not in page


@pytest.mark.django_db(transaction=True)
def test_export_of_a_deleted_request_fails_at_once_without_retries(media_root):
    job = jobs.export_csv.enqueue(987654)

    run_worker()

    report = get_status(job.id)
    assert (report.state, report.attempts) == ("failed", 1)
    assert "ExportRequest 987654 no longer exists" in report.error


# Privacy: a person sees only their own requests ------------------------------------------------


@pytest.fixture
def own_jobs_hook(settings):
    """The testproject's STATUS_PERMISSION hook, as its settings name it."""
    settings.DJANGO_JOBS = {
        **settings.DJANGO_JOBS,
        "STATUS_PERMISSION": "testproject.reports.permissions.own_jobs",
    }


def json_status(job_id: int) -> str:
    return reverse("django_jobs:status", args=[job_id])


def everything_by_id(job_ids: range, export_pks: range) -> list[str]:
    """Every URL a stranger could try: each page, JSON status and CSV download by id."""
    urls = []
    for job_id in job_ids:
        urls += [reverse("reports:job_status", args=[job_id]), json_status(job_id)]
    for pk in export_pks:
        urls += [reverse(name, args=[pk]) for name in ("reports:export_status",
                                                       "reports:export_download")]  # fmt: skip
    return urls


def status_code(client, url: str) -> int:
    response = client.get(url)
    response.close()  # a download holds its file open until then
    return response.status_code


@pytest.mark.django_db(transaction=True)
def test_a_stranger_trying_ids_gets_404_for_every_page_status_and_file(
    own_jobs_hook, media_root, django_user_model
):
    seed_shop(customers=5, orders=5)
    owner = Client()
    owner.post(reverse(EXPORT_URL), {"kind": "customers"})
    owner.post(reverse("reports:signup"), {"name": "Ada", "email": "ada@example.com"})
    owner.post(reverse("reports:try_job"), {"behaviour": "flaky", "label": "sync"})
    run_worker()
    export = ExportRequest.objects.get()
    job_ids = sorted(Job.objects.values_list("id", flat=True))
    assert len(job_ids) == 3

    strangers = [Client(), Client()]
    strangers[1].force_login(django_user_model.objects.create_user("eve"))
    # Every id around the real ones (ids keep rising across the suite's tests: not from 1).
    urls = everything_by_id(range(max(1, job_ids[0] - 3), job_ids[-1] + 3),
                            range(max(1, export.pk - 3), export.pk + 3))  # fmt: skip
    for stranger in strangers:
        for url in urls:
            assert status_code(stranger, url) == 404, url
        home = stranger.get(reverse("reports:home")).content.decode()
        assert str(export) not in home and "ada@example.com" not in home
    unknown = strangers[0].get(json_status(job_ids[-1] + 1)).json()
    assert strangers[0].get(json_status(job_ids[0])).json().keys() == unknown.keys()

    # The one who asked gets every page, status and the file.
    for job_id in job_ids:
        assert owner.get(json_status(job_id)).json()["state"] == "done"
    for job_id in job_ids[1:]:
        assert owner.get(reverse("reports:job_status", args=[job_id])).status_code == 200
    assert owner.get(reverse("reports:export_status", args=[export.pk])).status_code == 200
    download = owner.get(reverse("reports:export_download", args=[export.pk]))
    assert b"".join(download.streaming_content).startswith(b"id,name,email")
    assert str(export) in owner.get(reverse("reports:home")).content.decode()


@pytest.mark.django_db
def test_a_signed_in_users_requests_are_theirs_in_every_session(own_jobs_hook, django_user_model):
    ada, eve = (django_user_model.objects.create_user(name) for name in ("ada", "eve"))
    first = Client()
    first.force_login(ada)
    first.post(reverse(EXPORT_URL), {"kind": "orders"})
    export = ExportRequest.objects.get()
    assert (export.owner, export.visitor) == (ada, "")
    page = reverse("reports:export_status", args=[export.pk])

    later_session = Client()
    later_session.force_login(ada)
    assert later_session.get(page).status_code == 200
    assert later_session.get(json_status(export.job_id)).json()["state"] == "queued"
    other = Client()
    other.force_login(eve)
    for client in (other, Client()):
        assert client.get(page).status_code == 404
        assert client.get(json_status(export.job_id)).status_code == 404


@pytest.mark.django_db
def test_an_anonymous_visitor_keeps_their_requests_after_signing_in(
    own_jobs_hook, django_user_model
):
    client = Client()
    response = client.post(reverse("reports:try_job"), {"behaviour": "flaky", "label": "sync"})
    trial = Trial.objects.get()
    assert trial.owner is None and len(trial.visitor) == 32
    client.force_login(django_user_model.objects.create_user("ada"))
    assert client.get(response["Location"]).status_code == 200
    assert client.get(json_status(trial.job_id)).status_code == 200
