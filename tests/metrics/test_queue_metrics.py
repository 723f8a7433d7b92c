"""The queue metrics view: gauges read from the database, scraped over real HTTP."""

from __future__ import annotations

import datetime as dt
import urllib.error

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from django_jobs import engine
from django_jobs.exceptions import ConfigurationError
from django_jobs.models import Job
from django_jobs.permissions import can_scrape_metrics
from tests import tasks

from .scrape import scrape, value

TOKEN = "s3cret-token-for-the-scraper"
DEPTH = "django_jobs_queue_jobs"


def jobs_settings(**changes):
    return override_settings(DJANGO_JOBS={**settings.DJANGO_JOBS, **changes})


def allow_everyone(request):
    return True


def refused(url, headers=None) -> int:
    with pytest.raises(urllib.error.HTTPError) as info:
        scrape(url, headers)
    info.value.close()
    return info.value.code


@pytest.fixture
def url(live_server):
    return live_server.url + reverse("django_jobs:metrics")


def test_queue_gauges_count_each_state_and_the_oldest_ready_age(url):
    tasks.always_fails.using(max_attempts=1).enqueue()
    (dying,) = engine.claim(worker_id="w", limit=1, lease_seconds=60, queues=["default"])
    engine.start([dying])
    engine.fail(dying, RuntimeError("boom"))  # its last attempt: dead-lettered
    tasks.send_mail_task.enqueue("a@example.com")
    running = engine.claim(worker_id="w", limit=1, lease_seconds=60, queues=["mail"])
    engine.start(running)
    now = timezone.now()
    ready = [tasks.add.enqueue(1, i) for i in range(2)]
    Job.objects.filter(id=ready[0].id).update(run_at=now - dt.timedelta(minutes=5))
    tasks.add.using(run_at=now + dt.timedelta(hours=1)).enqueue(1, 1)  # scheduled
    waiting = tasks.add.enqueue(2, 2)
    Job.objects.filter(id=waiting.id).update(attempts=1, run_at=now + dt.timedelta(hours=1))

    with jobs_settings(METRICS_PERMISSION=f"{__name__}.allow_everyone"):
        samples = scrape(url)

    states = {s: value(samples, DEPTH, queue="default", state=s) for s in
              ("ready", "scheduled", "retry", "running")}  # fmt: skip
    assert states == {"ready": 2, "scheduled": 1, "retry": 1, "running": 0}
    assert value(samples, DEPTH, queue="mail", state="running") == 1
    assert value(samples, DEPTH, queue="mail", state="ready") == 0
    age = value(samples, "django_jobs_queue_oldest_ready_age_seconds", queue="default")
    assert 5 * 60 <= age < 24 * 3600
    assert value(samples, "django_jobs_queue_oldest_ready_age_seconds", queue="mail") == 0
    assert value(samples, "django_jobs_dead_jobs", queue="default") == 1
    assert value(samples, "django_jobs_dead_jobs", queue="mail") == 0


def test_strangers_and_staff_without_the_permission_are_refused(url, client, live_server):
    tasks.add.enqueue(1, 2)
    assert refused(url) == 403
    assert refused(url, {"Authorization": f"Bearer {TOKEN}"}) == 403  # no token configured
    staff = get_user_model().objects.create_user("staff", password="pw", is_staff=True)
    client.force_login(staff)
    assert client.get(reverse("django_jobs:metrics")).status_code == 403


def test_the_bearer_token_lets_a_scraper_in_and_a_wrong_one_does_not(url):
    tasks.add.enqueue(1, 2)
    with jobs_settings(METRICS_TOKEN=TOKEN):
        samples = scrape(url, {"Authorization": f"Bearer {TOKEN}"})
        assert value(samples, DEPTH, queue="default", state="ready") == 1
        assert refused(url, {"Authorization": f"Bearer {TOKEN}x"}) == 403
        assert refused(url, {"Authorization": f"Basic {TOKEN}"}) == 403
        assert refused(url) == 403


def test_a_user_holding_view_job_may_read_the_metrics(client, db):
    user = get_user_model().objects.create_user("ops", password="pw")
    user.user_permissions.add(Permission.objects.get(codename="view_job"))
    client.force_login(user)
    response = client.get(reverse("django_jobs:metrics"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert b"# TYPE django_jobs_queue_jobs gauge" in response.content
    assert response["Cache-Control"].startswith("max-age=0")


def test_openmetrics_is_served_when_the_scraper_asks_for_it(client, db):
    with jobs_settings(METRICS_PERMISSION=f"{__name__}.allow_everyone"):
        response = client.get(
            reverse("django_jobs:metrics"), HTTP_ACCEPT="application/openmetrics-text"
        )
    assert response["Content-Type"].startswith("application/openmetrics-text")
    assert response.content.rstrip().endswith(b"# EOF")


def test_the_default_hook_does_without_authentication_middleware(rf):
    with jobs_settings(METRICS_TOKEN=TOKEN):
        assert can_scrape_metrics(rf.get("/", HTTP_AUTHORIZATION=f"Bearer {TOKEN}"))
        assert not can_scrape_metrics(rf.get("/"))


@pytest.mark.django_db
def test_a_bad_hook_path_is_a_configuration_error_at_request_time(client):
    with jobs_settings(METRICS_PERMISSION="tests.nowhere.hook"), pytest.raises(ConfigurationError):
        client.get(reverse("django_jobs:metrics"))


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_scrape_runs_four_queries_and_one_capped_count_per_queue(
    django_assert_max_num_queries,
):
    # The queued rows, the running rows, the paused queues, the loose index scan of dead queues,
    # and one dead count per queue, stopped at DEAD_COUNT_CAP; not the dashboard's last-hour
    # range over done jobs.
    from django_jobs.metrics.collector import QueueCollector

    tasks.add.enqueue(1, 2)
    tasks.send_mail_task.enqueue("a@example.com")
    with django_assert_max_num_queries(6):
        list(QueueCollector().collect())


def test_manage_py_check_passes_with_a_token(db):
    with jobs_settings(METRICS_TOKEN=TOKEN):
        call_command("check", "--fail-level", "WARNING")
