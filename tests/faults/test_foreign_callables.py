"""Only tasks run: a callable that is not a task is refused at enqueue, by checks and by workers.

Issue 9, case 1: any importable callable used to run as a task (``os.system`` among them), from
``enqueue``, from a row written by SQL, and from a schedule.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

import django_jobs
from django_jobs.models import Job
from tests import tasks
from tests.conftest import ROOT, subprocess_env, wait_for
from tests.faults.support import dead, describe_jobs, settled
from tests.models import Order

# Generous for a 2-core machine with a CPU hog beside the tests: a worker's start-up alone can
# take several seconds there. The conditions waited on stay exact.
SETTLE_SECONDS = 90


def _foreign_calls(tmp_path: Path) -> dict[str, tuple[str, list[str]]]:
    """Return, by name, a (task path, args) pair that would leave ``tmp_path/<name>`` if run."""
    doomed = tmp_path / "rmtree-target"
    doomed.mkdir()
    (doomed / "keep").touch()
    return {
        "os.system": ("os.system", [f"touch {tmp_path / 'os.system'}"]),
        "subprocess.getoutput": ("subprocess.getoutput", [f"touch {tmp_path / 'getoutput'}"]),
        "builtins.eval": (
            "builtins.eval",
            [f"__import__('pathlib').Path({str(tmp_path / 'eval')!r}).touch()"],
        ),
        "shutil.rmtree": ("shutil.rmtree", [str(doomed)]),
    }


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "name", ["os.system", "subprocess.getoutput", "builtins.eval", "shutil.rmtree"]
)
def test_enqueue_refuses_a_callable_that_is_not_a_task_before_any_sql(name, tmp_path):
    path, args = _foreign_calls(tmp_path)[name]
    refused = (django_jobs.UnknownTaskError, django_jobs.InvalidTaskError)
    with transaction.atomic():
        with CaptureQueriesContext(connection) as queries, pytest.raises(refused):
            django_jobs.enqueue(path, *args)
        assert [q["sql"] for q in queries.captured_queries] == []
        # The caller's transaction is still usable: nothing was sent that could abort it.
        assert Order.objects.count() == 0
    assert not Job.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_enqueue_refuses_the_function_object_of_a_non_task(tmp_path):
    with pytest.raises((django_jobs.UnknownTaskError, django_jobs.InvalidTaskError)):
        django_jobs.enqueue(os.system, f"touch {tmp_path / 'os.system'}")
    assert not Job.objects.exists()


def _insert_with_orm(path: str, args: list[str], kwargs: dict[str, str]) -> int:
    return Job.objects.create(task_path=path, args=args, kwargs=kwargs, max_attempts=5).id


def _insert_with_sql(path: str, args: list[str], kwargs: dict[str, str]) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO django_jobs_job (task_path, args, kwargs, queue, priority, run_at, "
            "status, attempts, max_attempts, enqueued_at, worker_id, errors, progress_message) "
            "VALUES (%s, %s::jsonb, %s::jsonb, 'default', 0, now(), 'queued', 0, 5, now(), '', "
            "'[]'::jsonb, '') RETURNING id",
            [path, json.dumps(args), json.dumps(kwargs)],
        )
        return cursor.fetchone()[0]


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("insert", "task_path"),
    [
        (_insert_with_orm, "os.system"),
        (_insert_with_sql, "os.system"),
        (_insert_with_orm, "django.core.management.call_command"),
    ],
    ids=["orm-os.system", "sql-os.system", "orm-call_command"],
)
def test_worker_dead_letters_a_row_naming_a_non_task_without_calling_it(
    insert, task_path, start_worker, tmp_path
):
    marker = tmp_path / "ran"
    if task_path == "os.system":
        args, kwargs = [f"touch {marker}"], {}
    else:  # call_command("dumpdata", "tests", output=...) would write the marker file
        args, kwargs = ["dumpdata", "tests"], {"output": str(marker)}
    job_id = insert(task_path, args, kwargs)
    after = tasks.record.enqueue("after-the-foreign-row").id
    start_worker("--concurrency", "1")
    wait_for(
        lambda: settled([job_id, after]),
        timeout=SETTLE_SECONDS,
        what="the foreign row and the job after it to settle",
        describe=describe_jobs,
    )
    assert not marker.exists(), f"the worker called {task_path}"
    dead_job = dead(job_id)
    assert dead_job is not None, describe_jobs([job_id])
    assert dead_job.exception_class.endswith("UnknownTaskError"), dead_job.exception_class
    assert dead_job.attempts == 1, "dead-lettered at once, whatever max_attempts says"
    assert task_path in dead_job.message
    assert Job.objects.get(id=after).status == "done"


@pytest.mark.parametrize(
    "spec",
    [
        {"task": "os.system", "cron": "* * * * * *", "args": ["touch /tmp/django-jobs-check"]},
        {"task": "django.core.management.call_command", "cron": "@daily", "args": ["flush"]},
    ],
    ids=["os.system", "call_command"],
)
def test_manage_py_check_refuses_a_schedule_naming_a_non_task(spec):
    env = subprocess_env(DJANGO_JOBS_TEST_SCHEDULES=json.dumps({"hostile": spec}))
    check = subprocess.run(
        [sys.executable, "-m", "django", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = check.stdout + check.stderr
    assert check.returncode != 0, output
    assert "django_jobs.E1" in output and spec["task"] in output, output
