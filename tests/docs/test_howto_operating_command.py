"""The ``manage.py jobs`` how-to, run as the page tells it: its commands on the morning it tells.

The page's shell blocks are run in order, each through the real command on the test database, on
jobs with the ids the page names; the Kubernetes probe's and the crontab's commands (example files
in tests/docs/operating/) are run against a healthy and an unhealthy queue.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from croniter import croniter
from django.core.management import call_command
from django.utils import timezone

from django_jobs.models import DeadJob, Job, JobStatus
from tests.conftest import ROOT, subprocess_env

from .pages import DOCS, included_sources, page_blocks

PAGE = "howto/operating/command.md"
EXAMPLES = Path(__file__).resolve().parent / "operating"
#: The page's shell blocks, by first line, in page order, with the exit status each should have
#: on the morning the page tells (see test_code_blocks.RUN_BY_TESTS).
COMMANDS = {
    "python manage.py jobs stats": 0,
    "python manage.py jobs list --status dead --since 3600": 0,
    "python manage.py jobs show 4812": 0,
    "python manage.py jobs replay --queue mail --since 3600 --dry-run": 0,
    "python manage.py jobs replay 4812": 0,
    "python manage.py jobs cancel 4813 4814": 0,
    "python manage.py jobs health --max-ready-age 300 --max-dead-last-hour 20": 0,
}


def run(argv: list[str]) -> tuple[int, str]:
    """Run ``python manage.py jobs ...`` in-process; return its exit status and output."""
    assert argv[:3] == ["python", "manage.py", "jobs"], argv
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("jobs", *argv[3:], stdout=out, stderr=err)
    except SystemExit as exit:
        return int(exit.code or 0), out.getvalue() + err.getvalue()
    return 0, out.getvalue() + err.getvalue()


def the_morning() -> None:
    """The page's story: receipt 4812 died on a dropped connection; 4813 and 4814 wait."""
    now = timezone.now()
    DeadJob.objects.create(
        job_id=4812,
        task_path="tests.tasks.send_mail_task",
        args=["ann@example.com"],
        queue="mail",
        max_attempts=5,
        attempts=5,
        exception_class="smtplib.SMTPServerDisconnected",
        message="Connection unexpectedly closed",
        traceback="Traceback (most recent call last):\n"
        "smtplib.SMTPServerDisconnected: Connection unexpectedly closed",
        enqueued_at=now - dt.timedelta(minutes=20),
        failed_at=now - dt.timedelta(minutes=8),
    )
    for job_id in (4813, 4814):
        Job.objects.create(id=job_id, task_path="tests.tasks.send_mail_task", queue="mail")


def stale_mail_job() -> Job:
    """A mail job that has been ready for 20 minutes: no worker takes the queue."""
    return Job.objects.create(
        task_path="tests.tasks.send_mail_task",
        queue="mail",
        run_at=timezone.now() - dt.timedelta(minutes=20),
    )


def test_the_page_includes_the_probe_and_the_crontab_from_here():
    assert {path.relative_to(EXAMPLES).as_posix() for path in included_sources(PAGE)} == {
        "worker-probe.yaml",
        "crontab",
    }


@pytest.mark.django_db
def test_the_pages_commands_do_what_it_says_in_its_order():
    shown = [b.body for b in page_blocks(PAGE) if b.info == "bash"]
    assert shown == list(COMMANDS), "the page's commands changed: update COMMANDS"
    the_morning()
    said = {}
    for command, status in COMMANDS.items():
        code, said[command] = run(shlex.split(command))
        assert code == status, (command, said[command])
    assert "│ mail " in said["python manage.py jobs stats"]
    assert "4812" in said["python manage.py jobs list --status dead --since 3600"]
    assert (
        "SMTPServerDisconnected: Connection unexpectedly" in said["python manage.py jobs show 4812"]
    )
    assert (
        "would replay" in said["python manage.py jobs replay --queue mail --since 3600 --dry-run"]
    )
    replayed = DeadJob.objects.get(job_id=4812).replayed_job_id
    assert replayed is not None and Job.objects.get(pk=replayed).status == JobStatus.QUEUED
    assert str(replayed) in said["python manage.py jobs replay 4812"]
    assert set(Job.objects.filter(pk__in=[4813, 4814]).values_list("status", flat=True)) == {
        JobStatus.CANCELLED
    }
    assert said[list(COMMANDS)[-1]].startswith("healthy")
    stale_mail_job()
    code, output = run(shlex.split(list(COMMANDS)[-1]))
    assert code == 1 and "unhealthy: queue 'mail'" in output


@pytest.mark.django_db
def test_the_liveness_probe_fails_when_the_mail_queue_stops_moving():
    deployment = yaml.safe_load((EXAMPLES / "worker-probe.yaml").read_text())
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    probe = container["livenessProbe"]
    assert probe["periodSeconds"] >= 60 and probe["failureThreshold"] >= 3
    assert probe["timeoutSeconds"] >= 10
    argv = probe["exec"]["command"]
    assert run(argv)[0] == 0  # an empty queue is healthy
    Job.objects.create(task_path="tests.tasks.send_mail_task", queue="mail")
    assert run(argv)[0] == 0  # a job just enqueued has not waited
    stale_mail_job()
    code, output = run(argv)
    assert code == 1 and "queue 'mail'" in output and "--max-ready-age 900" in output


@pytest.mark.django_db(transaction=True)
def test_the_cron_line_prints_only_when_unhealthy():
    (line,) = [
        line
        for line in (EXAMPLES / "crontab").read_text().splitlines()
        if line and not line.startswith("#") and "=" not in line.split()[0]
    ]
    fields = line.split(maxsplit=5)
    assert croniter.is_valid(" ".join(fields[:5])) and fields[0] == "*/5"
    shell = fields[5]
    assert re.match(r"cd \S+ && ", shell), shell
    shell = re.sub(r"^cd \S+ ", f"cd {shlex.quote(str(ROOT))} ", shell)
    shell = shell.replace(".venv/bin/python", shlex.quote(sys.executable))

    def cron() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["/bin/sh", "-c", shell],
            env=subprocess_env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    healthy = cron()
    assert (healthy.returncode, healthy.stdout, healthy.stderr) == (0, "", "")
    stale_mail_job()
    unhealthy = cron()
    assert unhealthy.returncode == 0, unhealthy.stderr
    assert (
        "unhealthy: queue 'mail'" in unhealthy.stdout and "--max-ready-age 300" in unhealthy.stdout
    )


def test_the_page_is_in_the_operating_guide():
    index = (DOCS / "howto" / "operating" / "index.md").read_text()
    assert "(command.md)" in index and "\ncommand\n" in index
