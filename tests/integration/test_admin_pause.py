"""The dashboard's Pause and Resume buttons: shown and allowed only with django_jobs.pause_queue."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from django_jobs import engine, pause_queue, paused_queues
from django_jobs.models import PausedQueue
from tests import tasks

from . import test_admin
from .test_admin import DASHBOARD, messages_on

pytestmark = pytest.mark.django_db
admin_client_for = test_admin.admin_client_for  # the fixture: a logged-in staff user with perms

PAUSE = reverse("admin:django_jobs_job_pause_queue")
RESUME = reverse("admin:django_jobs_job_resume_queue")


def row_of(html: str, queue: str) -> str:
    return re.search(rf'<tr class="[^"]*" data-queue="{queue}">(.*?)</tr>', html, re.S).group(1)


def test_an_operator_pauses_and_resumes_a_queue_from_the_dashboard(admin_client_for):
    client = admin_client_for("django_jobs.view_job", "django_jobs.pause_queue")
    tasks.send_mail_task.enqueue("a@example.com")
    mail = row_of(client.get(DASHBOARD).content.decode(), "mail")
    assert f'action="{PAUSE}"' in mail and ">Pause</button>" in mail
    assert 'name="queue" value="mail"' in mail

    response = client.post(PAUSE, {"queue": "mail"})
    assert response.status_code == 302 and response.url == DASHBOARD
    [paused] = paused_queues()
    assert (paused.queue, paused.paused_by) == ("mail", "user0")
    assert engine.claim(worker_id="w", limit=5, lease_seconds=30) == []
    page = client.get(DASHBOARD)
    assert any("Paused queue mail" in str(m) for m in page.context["messages"])
    mail = row_of(page.content.decode(), "mail")
    assert "<strong>paused</strong> since" in mail and "by user0" in mail
    assert f'action="{RESUME}"' in mail and ">Resume</button>" in mail

    client.post(RESUME, {"queue": "mail"})
    assert paused_queues() == []
    assert "Resumed queue mail" in " ".join(messages_on(client, DASHBOARD))
    assert len(engine.claim(worker_id="w", limit=5, lease_seconds=30)) == 1


def test_a_paused_queue_without_jobs_is_listed_so_that_it_can_be_resumed(admin_client):
    pause_queue("reports", by="ops")
    row = row_of(admin_client.get(DASHBOARD).content.decode(), "reports")
    assert "by ops" in row and ">Resume</button>" in row


def test_viewers_see_no_buttons_and_their_posts_are_refused(admin_client_for):
    viewer = admin_client_for("django_jobs.view_job")
    tasks.send_mail_task.enqueue("a@example.com")
    pause_queue("reports")
    html = viewer.get(DASHBOARD).content.decode()
    assert "django-jobs-pause" not in html and PAUSE not in html and RESUME not in html
    assert "<strong>paused</strong>" in row_of(html, "reports")  # the state is shown to all
    assert viewer.post(PAUSE, {"queue": "mail"}).status_code == 403
    assert viewer.post(RESUME, {"queue": "reports"}).status_code == 403
    assert [q.queue for q in paused_queues()] == ["reports"]


def test_the_buttons_need_staff_status_a_post_and_the_csrf_token(admin_client_for, admin_user):
    outsider = admin_client_for("django_jobs.pause_queue", is_staff=False)
    assert "/login/" in outsider.post(PAUSE, {"queue": "mail"}).url
    operator = admin_client_for("django_jobs.pause_queue")
    assert operator.get(PAUSE, {"queue": "mail"}).status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(admin_user)
    assert strict.post(PAUSE, {"queue": "mail"}).status_code == 403
    assert not PausedQueue.objects.exists()
    tasks.send_mail_task.enqueue("a@example.com")
    page = strict.get(DASHBOARD).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    assert strict.post(PAUSE, {"queue": "mail", "csrfmiddlewaretoken": token}).status_code == 302
    assert [q.queue for q in paused_queues()] == ["mail"]


def test_a_bad_queue_name_is_said_and_changes_nothing(admin_client, settings):
    settings.DJANGO_JOBS = {**settings.DJANGO_JOBS, "QUEUES": ["default"]}
    for url, queue in ((PAUSE, "nope"), (PAUSE, ""), (RESUME, "x" * 65)):
        response = admin_client.post(url, {"queue": queue})
        assert response.status_code == 302
    said = messages_on(admin_client, DASHBOARD)
    assert any("Unknown queue 'nope'" in m for m in said)
    assert any("non-empty string" in m for m in said)
    assert not PausedQueue.objects.exists()
