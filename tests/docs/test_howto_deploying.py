"""The deploying-workers how-to's code blocks, checked as the page shows them.

Its files are examples in tests/docs/deploying/.

systemd and Kubernetes cannot run here, so their files are checked for what the page promises:
every ``runworker``/``runscheduler`` command line parses with the real commands' options, and the
stop timeouts exceed the shutdown grace period. The Python blocks run on the test database.
"""

from __future__ import annotations

import configparser
import importlib
import runpy
import shlex
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from django.core.management import load_command_class
from django.db import connection
from django.utils import timezone

from django_jobs.conf import DEFAULTS
from django_jobs.models import Job, JobStatus
from django_jobs.scheduler.schedules import problems

from .pages import DOCS, page_blocks

PAGE = "howto/deploying-workers.md"
EXAMPLES = Path(__file__).resolve().parent / "deploying"
GRACE = DEFAULTS["SHUTDOWN_GRACE_SECONDS"]
#: Shell blocks a test here checks, by their first line (see test_code_blocks.RUN_BY_TESTS).
SYSTEMCTL = "systemctl enable --now jobs-worker@default jobs-worker@mail"
SCHEDULER = (
    "python manage.py runscheduler            # its own process, under systemd or Kubernetes like "
    "a worker"
)
PROCESSES = "python manage.py runworker --processes 4 --concurrency 2"
COMMANDS = {SYSTEMCTL, SCHEDULER, PROCESSES}


def parse(argv: list[str]) -> dict[str, object]:
    """Parse ``python manage.py <command> ...`` with the real command's parser; return options."""
    assert argv[1] == "manage.py", argv
    command = load_command_class("django_jobs", argv[2])
    return vars(command.create_parser("manage.py", argv[2]).parse_args(argv[3:]))


def test_every_file_the_page_includes_is_an_example_here():
    included = {block.include_path for block in page_blocks(PAGE) if block.include_path}
    assert {(DOCS / "howto" / path).resolve() for path in included} == {
        EXAMPLES / name
        for name in ("jobs-worker@.service", "worker-mail.yaml", "autovacuum_migration.py",
                     "prune_by_hand.py", "jobs.py", "settings_snippet.py",
                     "pgbouncer_settings.py", "pgbouncer.ini")
    }  # fmt: skip


def test_the_systemd_unit_runs_a_real_worker_and_outlasts_the_grace_period():
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read(EXAMPLES / "jobs-worker@.service")
    service = unit["Service"]
    argv = shlex.split(service["ExecStart"].replace("%i", "default"))
    options = parse(argv)
    assert options["queues"] == ["default"] and options["concurrency"] == 10
    assert float(service["TimeoutStopSec"]) > GRACE
    assert (service["KillMode"], service["Restart"]) == ("mixed", "always")


def test_systemctl_enables_instances_of_that_unit():
    blocks = [b.body.strip() for b in page_blocks(PAGE) if b.body.startswith("systemctl")]
    assert blocks == [SYSTEMCTL]
    for instance in SYSTEMCTL.split()[3:]:
        assert instance.startswith("jobs-worker@") and (EXAMPLES / "jobs-worker@.service").exists()


def test_the_kubernetes_deployment_runs_a_real_worker_and_outlasts_the_grace_period():
    deployment = yaml.safe_load((EXAMPLES / "worker-mail.yaml").read_text())
    pod = deployment["spec"]["template"]["spec"]
    options = parse(pod["containers"][0]["command"])
    assert options["queues"] == ["mail", "notifications"] and options["processes"] == 2
    assert pod["terminationGracePeriodSeconds"] > GRACE


def test_the_processes_command_line_parses():
    [block] = [b.body for b in page_blocks(PAGE) if b.body.startswith(PROCESSES)]
    options = parse(shlex.split(block.strip()))
    assert (options["processes"], options["concurrency"]) == (4, 2)


def test_the_scheduler_command_lines_parse():
    [block] = [b.body for b in page_blocks(PAGE) if b.body.startswith(SCHEDULER)]
    for line in block.strip().splitlines():
        options = parse(shlex.split(line, comments=True))
        assert options.get("with_scheduler", True)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_autovacuum_migration_sets_and_resets_the_job_tables_options():
    operation = importlib.import_module("tests.docs.deploying.autovacuum_migration")
    [run_sql] = operation.Migration.operations

    def options() -> list[str]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT reloptions FROM pg_class WHERE relname = 'django_jobs_job'")
            return cursor.fetchone()[0] or []

    with connection.cursor() as cursor:
        cursor.execute(run_sql.sql)
    assert "autovacuum_vacuum_threshold=1000" in options()
    with connection.cursor() as cursor:
        cursor.execute(run_sql.reverse_sql)
    assert options() == []


@pytest.mark.django_db
@pytest.mark.parametrize("prune", ["by hand", "recurring job"])
def test_pruning_deletes_only_jobs_that_finished_long_enough_ago(prune):
    now = timezone.now()
    old = Job.objects.create(task_path="t", status=JobStatus.DONE, finished_at=now - timedelta(30))
    recent = Job.objects.create(task_path="t", status=JobStatus.DONE, finished_at=now)
    queued = Job.objects.create(task_path="t")
    if prune == "by hand":
        names = runpy.run_path(str(EXAMPLES / "prune_by_hand.py"))
        names["prune_by_hand"]()
    else:
        from tests.docs.deploying.jobs import prune_finished_jobs

        assert prune_finished_jobs(days=14) == 1
    assert not Job.objects.filter(pk=old.pk).exists()
    assert Job.objects.filter(pk__in=[recent.pk, queued.pk]).count() == 2


def test_the_schedule_of_the_prune_job_is_valid_but_for_its_example_task_path():
    settings = runpy.run_path(str(EXAMPLES / "settings_snippet.py"))["DJANGO_JOBS"]
    schedules = settings["SCHEDULES"]
    schedules["prune-finished-jobs"]["task"] = "tests.docs.deploying.jobs.prune_finished_jobs"
    assert problems(schedules) == []
