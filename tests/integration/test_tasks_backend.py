"""``django.tasks`` on django-jobs: every rule Django documents for a backend, on real workers.

Runs on Django 6.x (``django.tasks``) and on 5.2 with the ``django-tasks`` backport; skipped when
neither is installed. The backends are TASKS in tests/settings.py: "default" (MAX_ATTEMPTS 3) and
"once" (MAX_ATTEMPTS 1, per-backend options).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import logging
import sys
import traceback
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

if not (importlib.util.find_spec("django.tasks") or importlib.util.find_spec("django_tasks")):
    pytest.skip("needs django.tasks (Django 6) or django-tasks", allow_module_level=True)

from django_jobs.backends import (
    JobsBackend,
    compat,
)
from django_jobs.backends.checks import check_tasks_backends
from django_jobs.backends.results import result_for_job
from django_jobs.exceptions import JobTimeoutError, SerializationError
from django_jobs.models import DeadJob, Job, JobStatus
from django_jobs.worker import Worker
from tests import tasks
from tests import tasks_django as td
from tests.conftest import wait_for
from tests.models import Execution

READY = compat.TaskResultStatus.READY
RUNNING = compat.TaskResultStatus.RUNNING
SUCCESSFUL = compat.TaskResultStatus.SUCCESSFUL
FAILED = compat.TaskResultStatus.FAILED

pytestmark = pytest.mark.django_db(transaction=True)


def backend(alias: str = "default") -> Any:
    return compat.task_backends[alias]


def run_worker(**options: Any) -> None:
    assert Worker(burst=True, **options).run() == 0


# The backend and validate_task ------------------------------------------------------------------


def test_backend_declares_and_builds_jobs_tasks():
    assert isinstance(backend(), JobsBackend)
    assert backend().supports_defer and backend().supports_priority
    assert backend().supports_get_result and backend().supports_async_task
    assert isinstance(td.add, JobsBackend.task_class)


def test_validate_task_refuses_a_function_not_at_module_level():
    def nested() -> None: ...

    with pytest.raises(compat.InvalidTask, match="module level"):
        td.task(nested)


@pytest.mark.parametrize("priority", [-101, 101])
def test_validate_task_refuses_priority_out_of_range(priority):
    with pytest.raises(compat.InvalidTask, match="priority"):
        td.add.using(priority=priority)


def test_validate_task_refuses_naive_run_after():
    with pytest.raises(compat.InvalidTask, match="aware"):
        td.add.using(run_after=dt.datetime(2030, 1, 1, 12, 0))


def test_validate_task_refuses_queue_not_in_queues():
    with pytest.raises(compat.InvalidTask, match="nope"):
        td.add.using(queue_name="nope")


def test_validate_task_refuses_context_task_without_context_argument():
    with pytest.raises(compat.InvalidTask, match="context"):
        td.task(takes_context=True)(td.not_a_task)


def test_bad_options_are_refused_when_the_backend_is_built():
    with pytest.raises(compat.InvalidTaskBackend, match="MAX_ATEMPTS"):
        JobsBackend("typo", {"OPTIONS": {"MAX_ATEMPTS": 3}})
    with pytest.raises(compat.InvalidTaskBackend, match=r"max_attempts must be an integer"):
        JobsBackend("zero", {"OPTIONS": {"MAX_ATTEMPTS": 0}})
    with pytest.raises(compat.InvalidTaskBackend, match="timeout_seconds"):
        JobsBackend("neg", {"OPTIONS": {"TIMEOUT_SECONDS": -1}})


@pytest.mark.skipif(not td.PER_TASK_OPTIONS, reason="@task() passes no extra options here")
def test_validate_task_refuses_bad_per_task_options():
    with pytest.raises(compat.InvalidTask, match="max_attempts"):
        td.task(max_attempts=0)(td.not_a_task)
    with pytest.raises(compat.InvalidTask, match="backoff_base_seconds"):
        td.task(backoff_base_seconds="soon")(td.not_a_task)


def test_task_that_does_not_import_back_is_refused_at_enqueue():
    shadow = td.task(td.not_a_task)  # the module path names the bare function
    with pytest.raises(compat.InvalidTask, match="does not import back"):
        shadow.enqueue()
    assert not Job.objects.exists()


def test_arguments_must_be_json():
    with pytest.raises(SerializationError):
        td.record.enqueue(object())
    assert not Job.objects.exists()


def test_check_reports_queues_django_jobs_refuses():
    assert backend().check() == []
    with override_settings(DJANGO_JOBS={"QUEUES": ["default"]}):
        errors = backend().check()
    assert [e.id for e in errors] == ["django_jobs.E202"] and "mail" in errors[0].msg


def test_manage_py_check_runs_the_backend_checks(monkeypatch):
    # As in a process that never imported django.tasks, so Django's own check is not registered.
    monkeypatch.delitem(sys.modules, "django.tasks.checks", raising=False)
    monkeypatch.delitem(sys.modules, "django_tasks.checks", raising=False)
    assert check_tasks_backends() == []
    with override_settings(DJANGO_JOBS={"QUEUES": ["default"]}):
        assert [e.id for e in check_tasks_backends()] == ["django_jobs.E202"]
    bad = {"default": {"BACKEND": "django_jobs.backends.JobsBackend", "OPTIONS": {"RETRIES": 3}}}
    with override_settings(TASKS=bad):
        errors = check_tasks_backends()
    assert [e.id for e in errors] == ["django_jobs.E203"] and "RETRIES" in errors[0].msg


# Enqueue ----------------------------------------------------------------------------------------


def test_enqueue_writes_a_job_with_the_task_options():
    run_after = timezone.now() + dt.timedelta(hours=1)
    result = td.record.using(priority=7, queue_name="mail", run_after=run_after).enqueue("k")
    job = Job.objects.get(id=int(result.id))
    assert (job.task_path, job.args, job.kwargs) == ("tests.tasks_django.record", ["k"], {})
    assert (job.queue, job.priority, job.run_at, job.status) == ("mail", 7, run_after, "queued")
    assert (job.max_attempts, job.timeout_seconds, job.backoff_base_seconds) == (3, None, None)
    assert result.status == READY and result.backend == "default"
    assert result.enqueued_at == job.enqueued_at
    assert (result.started_at, result.finished_at, result.last_attempted_at) == (None,) * 3
    assert (result.errors, result.worker_ids, result.attempts) == ([], [], 0)
    assert result.task.run_after == run_after and result.task.priority == 7
    with pytest.raises(ValueError, match="not finished"):
        result.return_value  # noqa: B018


def test_enqueue_inside_a_rolled_back_transaction_leaves_no_result():
    class Rollback(Exception):
        pass

    with pytest.raises(Rollback), transaction.atomic():
        result = td.add.enqueue(1, 2)
        assert backend().get_result(result.id).status == READY  # visible inside
        raise Rollback
    with pytest.raises(compat.TaskResultDoesNotExist):
        backend().get_result(result.id)
    assert not Job.objects.exists()


def test_per_backend_options_reach_the_job():
    result = td.fails_once.enqueue("x")
    job = Job.objects.get(id=int(result.id))
    assert result.backend == "once"
    assert (job.max_attempts, job.timeout_seconds, job.backoff_base_seconds) == (1, 30, 5.0)
    assert job.backoff_max_seconds is None


@pytest.mark.skipif(not td.PER_TASK_OPTIONS, reason="@task() passes no extra options here")
def test_per_task_options_override_the_backend_options():
    result = td.fails_twice.enqueue("x")
    job = Job.objects.get(id=int(result.id))
    assert (job.max_attempts, job.timeout_seconds) == (2, 7)
    assert (job.backoff_base_seconds, job.backoff_max_seconds) == (0.0, 1.5)
    run_worker()
    failed = backend().get_result(result.id)
    assert failed.status == FAILED and len(failed.errors) == 2
    assert failed.errors[0].exception_class is KeyError


def test_a_django_task_raising_snooze_is_queued_again_and_reads_ready():
    result = td.snoozes_once.enqueue("later")
    run_worker()
    job = Job.objects.get(id=int(result.id))
    assert (job.status, job.attempts, job.snoozes) == (JobStatus.QUEUED, 0, 1)
    assert job.run_at > timezone.now() + dt.timedelta(minutes=59)
    assert backend().get_result(result.id).status == READY


# Results through their life ---------------------------------------------------------------------


def test_result_is_ready_running_then_successful_under_runworker(start_worker):
    result = td.wait_for_key.enqueue("started", "release")
    proc = start_worker("--burst")
    wait_for(
        lambda: Execution.objects.filter(key="started").exists() or proc.poll() is not None,
        what="the task to start",
    )
    assert proc.poll() is None, proc.output()
    result.refresh()
    job = Job.objects.get(id=int(result.id))
    assert result.status == RUNNING and not result.is_finished
    assert result.worker_ids == [job.worker_id] and result.attempts == 1
    assert result.started_at == result.last_attempted_at == job.started_at
    assert result.finished_at is None

    Execution.objects.create(key="release")
    code, output = proc.finish(timeout=60)
    assert code == 0, output
    result.refresh()
    assert result.status == SUCCESSFUL and result.return_value == "release"
    assert result.enqueued_at <= result.started_at <= result.finished_at
    assert result.worker_ids == [job.worker_id] and result.errors == []


def test_failed_result_holds_one_error_per_attempt_and_is_found_by_its_id():
    result = td.always_fails.enqueue("kaput")
    run_worker()
    assert DeadJob.objects.filter(job_id=int(result.id)).exists()
    result.refresh()
    assert result.status == FAILED and result.is_finished
    assert len(result.errors) == 3 and result.attempts == 3
    for error in result.errors:
        assert error.exception_class_path == "builtins.RuntimeError"
        assert error.exception_class is RuntimeError
        assert "raise RuntimeError(message)" in error.traceback and "kaput" in error.traceback
    dead = DeadJob.objects.get(job_id=int(result.id))
    assert set(result.worker_ids) == {dead.worker_id}
    assert result.finished_at == dead.failed_at
    with pytest.raises(ValueError, match="failed"):
        result.return_value  # noqa: B018
    assert backend().get_result(result.id).errors == result.errors


def test_failed_attempt_with_attempts_left_is_ready_again_with_its_error():
    result = td.fails_until.enqueue("flaky", succeed_on=3)
    run_worker(max_jobs=1)
    result.refresh()
    assert result.status == READY and len(result.errors) == 1 and result.attempts == 1
    assert result.errors[0].exception_class is ConnectionError


@override_settings(
    TASKS={
        "default": {
            "BACKEND": "django_jobs.backends.JobsBackend",
            "OPTIONS": {"BACKOFF_BASE_SECONDS": 100, "BACKOFF_MAX_SECONDS": 100},
        }
    },
    DJANGO_JOBS={"BACKOFF_JITTER": 0.0},
)
def test_backoff_options_set_the_next_attempt():
    result = td.always_fails.enqueue("later")
    run_worker()  # one attempt; the retry is 100 s away
    job = Job.objects.get(id=int(result.id))
    failed_at = dt.datetime.fromisoformat(job.errors[0]["failed_at"])
    assert job.status == JobStatus.QUEUED and job.run_at - failed_at == dt.timedelta(seconds=100)
    result.refresh()
    assert result.status == READY
    assert backend().get_result(result.id).task.run_after == job.run_at


@override_settings(
    TASKS={
        "default": {
            "BACKEND": "django_jobs.backends.JobsBackend",
            "OPTIONS": {"TIMEOUT_SECONDS": 1, "MAX_ATTEMPTS": 1},
        }
    }
)
def test_timeout_option_fails_an_overrunning_task():
    result = td.sleeps.enqueue(2.5)
    worker = Worker(burst=True, concurrency=1)
    worker.run()  # exits to be recycled: its only thread was abandoned to the sleeping task
    assert worker.timed_out == [int(result.id)]
    result.refresh()
    assert result.status == FAILED and len(result.errors) == 1
    assert result.errors[0].exception_class is JobTimeoutError
    wait_for(lambda: worker.running_jobs() == [], timeout=15, what="the abandoned task")
    result.refresh()
    assert result.status == FAILED  # its late success was fenced off


def test_unknown_ids_raise_result_does_not_exist():
    plain = tasks.add.enqueue(1, 2)  # a django-jobs job, not a django task
    for result_id in ["999999999", "abc", "", "-1", "1" * 30, str(plain.id)]:
        with pytest.raises(compat.TaskResultDoesNotExist):
            backend().get_result(result_id)


def test_task_get_result_checks_the_task():
    result = td.add.enqueue(1, 2)
    assert td.add.get_result(result.id).id == result.id
    with pytest.raises(compat.TaskResultMismatch):
        td.record.get_result(result.id)


def test_async_twins_enqueue_get_and_refresh():
    result = async_to_sync(td.add.aenqueue)(2, 3)
    assert async_to_sync(backend().aget_result)(result.id).status == READY
    run_worker()
    async_to_sync(result.arefresh)()
    assert result.status == SUCCESSFUL and result.return_value == 5


# Order, deferral, context, async tasks ----------------------------------------------------------


def test_higher_priority_runs_first():
    for key, priority in [("low", -5), ("mid", 0), ("high", 50), ("top", 100)]:
        td.record.using(priority=priority).enqueue(key)
    run_worker(concurrency=1)
    assert list(Execution.objects.order_by("id").values_list("key", flat=True)) == [
        "top",
        "high",
        "mid",
        "low",
    ]


def test_deferred_task_waits_for_run_after():
    run_after = timezone.now() + dt.timedelta(seconds=1)
    result = td.record.using(run_after=run_after).enqueue("later")
    run_worker()
    assert not Execution.objects.exists()
    assert backend().get_result(result.id).status == READY
    wait_for(lambda: timezone.now() > run_after, what="run_after to pass")
    run_worker()
    result.refresh()
    assert result.status == SUCCESSFUL and result.started_at >= run_after


def test_context_attempt_counts_from_one():
    result = td.fails_until.enqueue("ctx", succeed_on=2)
    run_worker()
    result.refresh()
    assert result.status == SUCCESSFUL
    seen = result.return_value
    assert seen["attempt"] == 2 and seen["id"] == result.id and seen["status"] == "RUNNING"
    assert seen["errors"] == 1 and seen["worker_ids"] == result.worker_ids
    assert len(result.worker_ids) == 2 and result.attempts == 2
    assert list(Execution.objects.order_by("id").values_list("attempt", flat=True)) == [1, 2]


def test_coroutine_tasks_run():
    added = td.async_add.enqueue(2, 3)
    recorded = td.async_record.enqueue("async")
    run_worker()
    added.refresh()
    recorded.refresh()
    assert added.status == SUCCESSFUL and added.return_value == 5
    assert recorded.status == SUCCESSFUL and recorded.return_value == 1
    assert Execution.objects.get(key="async").attempt == 1


# Signals ----------------------------------------------------------------------------------------


@pytest.fixture
def task_signals():
    seen: list[tuple[str, Any, str, str, int]] = []

    def receiver_for(name):
        def receive(sender, task_result, **kwargs):
            seen.append((name, sender, task_result.id, task_result.status, len(task_result.errors)))

        return receive

    receivers = {
        name: receiver_for(name) for name in ("task_enqueued", "task_started", "task_finished")
    }
    for name, receive in receivers.items():
        getattr(compat, name).connect(receive)
    yield seen
    for name, receive in receivers.items():
        getattr(compat, name).disconnect(receive)


def test_signals_follow_a_successful_task(task_signals):
    result = td.add.enqueue(1, 1)
    run_worker()
    assert task_signals == [
        ("task_enqueued", JobsBackend, result.id, READY, 0),
        ("task_started", JobsBackend, result.id, RUNNING, 0),
        ("task_finished", JobsBackend, result.id, SUCCESSFUL, 0),
    ]


def test_signals_follow_a_failing_task_to_its_last_attempt(task_signals):
    result = td.always_fails.enqueue("x")
    run_worker()
    assert task_signals == [
        ("task_enqueued", JobsBackend, result.id, READY, 0),
        ("task_started", JobsBackend, result.id, RUNNING, 0),
        ("task_started", JobsBackend, result.id, RUNNING, 1),
        ("task_started", JobsBackend, result.id, RUNNING, 2),
        ("task_finished", JobsBackend, result.id, FAILED, 3),
    ]


def test_signals_are_not_sent_for_plain_jobs(task_signals):
    tasks.add.enqueue(1, 1)
    run_worker()
    assert task_signals == []


def test_a_failing_receiver_does_not_change_the_outcome(task_signals):
    def broken(**kwargs):
        raise RuntimeError("receiver bug")

    compat.task_started.connect(broken)
    try:
        result = td.add.enqueue(2, 2)
        run_worker()
    finally:
        compat.task_started.disconnect(broken)
    result.refresh()
    assert result.status == SUCCESSFUL and result.return_value == 4


# Mapping without a database ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (JobStatus.QUEUED, READY),
        (JobStatus.RUNNING, RUNNING),
        (JobStatus.DONE, SUCCESSFUL),
        (JobStatus.CANCELLED, FAILED),
    ],
)
def test_job_statuses_map_to_result_statuses(status, expected):
    now = timezone.now()
    job = Job(id=5, task_path="tests.tasks_django.add", status=status, enqueued_at=now)
    job.finished_at = now if status in (JobStatus.DONE, JobStatus.CANCELLED) else None
    job.worker_id = "w1"
    result = result_for_job(job, task=td.add, backend="default")
    assert (result.id, result.status) == ("5", expected)
    assert result.finished_at == (now if result.is_finished else None)


def test_djangos_failure_log_carries_the_exception_and_its_traceback(caplog):
    # Django's task_finished receiver logs sys.exc_info(); it must not be empty for a failure.
    result = td.always_fails.enqueue("kaput")
    with caplog.at_level(logging.INFO, logger="django.tasks"):
        run_worker()
    (failed,) = [
        r for r in caplog.records if r.name == "django.tasks" and r.levelno == logging.ERROR
    ]
    assert result.id in failed.getMessage() and failed.exc_info is not None
    logged = "".join(traceback.format_exception(*failed.exc_info))
    assert "raise RuntimeError(message)" in logged  # the task's own traceback
    assert "builtins.RuntimeError: kaput" in logged


def test_a_rescued_django_task_is_logged_with_its_worker_lost_error(caplog):
    result = td.record.using(priority=1).enqueue("lost")
    Job.objects.filter(id=int(result.id)).update(
        status=JobStatus.RUNNING,
        attempts=3,
        max_attempts=3,
        started_at=timezone.now() - dt.timedelta(seconds=5),
        lease_expires_at=timezone.now() - dt.timedelta(seconds=1),
    )
    from django_jobs.worker.heartbeat import Heartbeat
    from django_jobs.worker.record import Recorder
    from django_jobs.worker.shared import Health, Held

    def report(rescued):
        for job, dead_job in rescued.dead:
            Recorder.report_dead(job, dead_job)

    heartbeat = Heartbeat(Held(), Health(), worker_id="w", interval_seconds=1, lease_seconds=3,
                          on_rescued=report)  # fmt: skip
    with caplog.at_level(logging.INFO, logger="django.tasks"):
        heartbeat.beat()
    (failed,) = [r for r in caplog.records if r.name == "django.tasks"]
    assert failed.levelno == logging.ERROR and failed.exc_info is not None
    assert "WorkerLostError" in "".join(traceback.format_exception(*failed.exc_info))
