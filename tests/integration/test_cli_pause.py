"""``manage.py jobs pause`` and ``jobs resume``: what they change, print and exit with."""

import io
import json

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from django_jobs import engine, paused_queues
from django_jobs.models import PausedQueue
from tests import tasks

pytestmark = pytest.mark.django_db


def jobs(*args: str) -> tuple[int, str, str]:
    """Run ``manage.py jobs ARGS``; return (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("jobs", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def test_pause_then_resume_prints_each_queue_and_exits_0():
    tasks.send_mail_task.enqueue("a@example.com")
    code, out, err = jobs("pause", "mail", "reports", "--by", "ops")
    assert (code, err) == (0, "")
    assert "mail" in out and "reports" in out and "paused" in out and "ops" in out
    assert [(q.queue, q.paused_by) for q in paused_queues()] == [
        ("mail", "ops"),
        ("reports", "ops"),
    ]
    assert engine.claim(worker_id="w", limit=10, lease_seconds=30) == []

    code, out, err = jobs("resume", "mail")
    assert (code, err) == (0, "")
    assert "resumed" in out
    assert [q.queue for q in paused_queues()] == ["reports"]
    assert len(engine.claim(worker_id="w", limit=10, lease_seconds=30)) == 1


def test_json_output_is_one_document_per_run():
    code, out, _ = jobs("pause", "mail", "--json", "--by", "ops")
    assert code == 0
    [row] = json.loads(out)
    assert (row["queue"], row["state"], row["paused_by"]) == ("mail", "paused", "ops")
    assert row["paused_at"].startswith(str(PausedQueue.objects.get().paused_at.date()))

    code, out, _ = jobs("pause", "mail", "--json")
    assert json.loads(out)[0]["state"] == "already paused"
    code, out, _ = jobs("resume", "mail", "default", "--json")
    assert code == 0
    assert json.loads(out) == [
        {"queue": "mail", "state": "resumed", "paused_at": None, "paused_by": None},
        {"queue": "default", "state": "not paused", "paused_at": None, "paused_by": None},
    ]


def test_pause_records_the_login_name_when_no_by_is_given(monkeypatch):
    monkeypatch.setattr("getpass.getuser", lambda: "operator")
    assert jobs("pause", "mail")[0] == 0
    assert PausedQueue.objects.get().paused_by == "operator"


@pytest.mark.parametrize(
    ("command", "bad", "message"),
    [
        ("pause", "mial", "Unknown queue 'mial'"),
        ("pause", "q" * 65, "at most 64 characters"),
        ("resume", "q" * 65, "at most 64 characters"),
    ],
)
def test_a_bad_name_exits_2_and_changes_nothing(command, bad, message, settings):
    settings.DJANGO_JOBS = {**settings.DJANGO_JOBS, "QUEUES": ["default", "mail"]}
    PausedQueue.objects.create(queue="default")
    with CaptureQueriesContext(connection) as queries:
        code, out, err = jobs(command, "mail", "default", bad)
    assert code == 2
    assert message in err and out == ""
    assert not queries.captured_queries, "bad input is refused before any SQL"
    assert [q.queue for q in paused_queues()] == ["default"]


def test_a_queue_paused_before_it_left_the_configured_queues_can_be_resumed(settings):
    PausedQueue.objects.create(queue="retired")
    settings.DJANGO_JOBS = {**settings.DJANGO_JOBS, "QUEUES": ["default"]}
    code, out, _ = jobs("resume", "retired", "--json")
    assert code == 0 and json.loads(out)[0]["state"] == "resumed"
    assert not PausedQueue.objects.exists()


def test_a_too_long_by_exits_2():
    code, _, err = jobs("pause", "mail", "--by", "x" * 151)
    assert code == 2 and "--by must be at most 150 characters" in err
    assert not PausedQueue.objects.exists()


def test_a_queue_name_is_required():
    with pytest.raises(Exception, match="QUEUE"):
        call_command("jobs", "pause", stdout=io.StringIO(), stderr=io.StringIO())
