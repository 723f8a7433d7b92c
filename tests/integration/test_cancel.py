"""Cancelling running jobs: the request on the row, how the task hears it, and how the job ends.

A worker runs in a thread of the test process (the acceptance test runs three real ones); its
heartbeat beats every 0.5 s (tests/settings.py), or at once on a cancel NOTIFY.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import timezone

from django_jobs import engine, get_status
from django_jobs.engine import acknowledge_cancel, cancel
from django_jobs.exceptions import JobCancelled
from django_jobs.models import DeadJob, Job, JobStatus
from django_jobs.outcome import Cancelled, Recorded
from django_jobs.signals import job_cancelled, job_failed, job_succeeded
from django_jobs.worker import Worker
from django_jobs.worker.observers import Observer
from tests import cancel_tasks, tasks
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


class Outcomes(Observer):
    """Collect the outcome labels a worker reports to its observers."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, str]] = []

    def finished(self, job: Job, outcome: Any, duration_seconds: float) -> None:
        self.seen.append((job.id, outcome))


@pytest.fixture
def signals() -> Iterator[dict[str, list[dict[str, Any]]]]:
    got: dict[str, list[dict[str, Any]]] = {"cancelled": [], "failed": [], "succeeded": []}
    receivers = {
        "cancelled": lambda sender, **kw: got["cancelled"].append(kw),
        "failed": lambda sender, **kw: got["failed"].append(kw),
        "succeeded": lambda sender, **kw: got["succeeded"].append(kw),
    }
    job_cancelled.connect(receivers["cancelled"], weak=False)
    job_failed.connect(receivers["failed"], weak=False)
    job_succeeded.connect(receivers["succeeded"], weak=False)
    yield got
    job_cancelled.disconnect(receivers["cancelled"])
    job_failed.disconnect(receivers["failed"])
    job_succeeded.disconnect(receivers["succeeded"])


@pytest.fixture
def worker() -> Iterator[Callable[..., Worker]]:
    """Start ``Worker(**options)`` in a thread; stop it at the end of the test."""
    running: list[tuple[Worker, threading.Thread]] = []

    def start(**options: Any) -> Worker:
        options.setdefault("poll_interval_seconds", 0.05)
        options.setdefault("concurrency", 2)
        instance = Worker(**options)
        thread = threading.Thread(target=instance.run, daemon=True)
        thread.start()
        running.append((instance, thread))
        return instance

    yield start
    for instance, thread in running:
        instance.request_stop()
        thread.join(60)


def status(job_id: int) -> str:
    return Job.objects.get(id=job_id).status


def wait_started(job_id: int) -> None:
    wait_for(
        lambda: Job.objects.filter(id=job_id, started_at__isnull=False).exists(),
        timeout=60,
        what=f"job {job_id} to start",
    )


def wait_status(job_id: int, wanted: str, timeout: float = 60) -> Job:
    wait_for(
        lambda: status(job_id) == wanted,
        timeout=timeout,
        what=f"job {job_id} to be {wanted}",
        describe=lambda: Job.objects.filter(id=job_id).values().first(),
    )
    return Job.objects.get(id=job_id)


# The worker's side: polling tasks end cancelled ----------------------------------------------


@pytest.mark.parametrize("task", [cancel_tasks.polls_context, cancel_tasks.polls_function])
def test_a_polling_task_asked_to_stop_ends_cancelled_not_retried(worker, signals, task, tmp_path):
    outcomes = Outcomes()
    worker(observers=[outcomes])
    queued = task.enqueue(str(tmp_path / "never"))
    wait_started(queued.id)
    assert get_status(queued.id).state == "running"

    report = cancel([queued.id])
    assert (report.cancelled, report.requested) == ([], [queued.id])
    asked = get_status(queued.id)
    assert (asked.state, asked.finished) == ("cancelling", False)
    assert asked.cancel_requested_at is not None

    ended = wait_status(queued.id, JobStatus.CANCELLED)
    assert ended.finished_at is not None and ended.lease_token is None
    assert ended.attempts == 1 and ended.errors == []  # JobCancelled is no failed attempt
    assert not DeadJob.objects.exists()
    final = get_status(queued.id)
    assert (final.state, final.finished, final.error) == ("cancelled", True, "")
    wait_for(lambda: signals["cancelled"], what="job_cancelled")
    [sent] = signals["cancelled"]
    assert sent["job"].id == queued.id and isinstance(sent["error"], JobCancelled)
    assert signals["failed"] == [] and signals["succeeded"] == []
    assert (queued.id, "cancelled") in outcomes.seen


def test_a_task_that_ignores_the_request_and_returns_is_done(worker, signals):
    worker()
    queued = cancel_tasks.ignores_request.enqueue()
    wait_started(queued.id)
    assert cancel([queued.id]).requested == [queued.id]
    ended = wait_status(queued.id, JobStatus.DONE)
    # The task saw the request (its result says so) and finished its work all the same.
    assert ended.result == "asked" and ended.cancel_requested_at is not None
    assert get_status(queued.id).state == "done"
    assert signals["cancelled"] == []


@pytest.mark.parametrize("raised", ["KeyboardInterrupt", "Doom", "SystemExit", "RuntimeError"])
def test_a_task_raising_anything_after_the_request_ends_cancelled(worker, signals, raised):
    worker()
    queued = cancel_tasks.raises_when_asked.enqueue(raised)
    wait_started(queued.id)
    cancel([queued.id])
    ended = wait_status(queued.id, JobStatus.CANCELLED)
    # Not retried (max_attempts=5), not dead: the error is kept to say how the task stopped.
    assert ended.attempts == 1 and not DeadJob.objects.exists()
    [error] = ended.errors
    assert error["exception_class"].endswith(raised)
    assert get_status(queued.id).state == "cancelled"
    wait_for(lambda: signals["cancelled"], what="job_cancelled")
    assert type(signals["cancelled"][0]["error"]).__name__ == raised
    assert signals["failed"] == []


def test_an_asked_task_that_runs_past_its_timeout_ends_cancelled_not_retried(worker):
    worker()
    queued = cancel_tasks.overruns_ignoring_requests.enqueue()
    wait_started(queued.id)
    cancel([queued.id])
    ended = wait_status(queued.id, JobStatus.CANCELLED)
    assert ended.errors[-1]["exception_class"].endswith("JobTimeoutError")
    assert not DeadJob.objects.exists()


def test_a_task_may_cancel_itself_by_raising_job_cancelled(worker):
    worker()
    queued = cancel_tasks.cancels_itself.enqueue()
    ended = wait_status(queued.id, JobStatus.CANCELLED)
    assert ended.cancel_requested_at is None and ended.attempts == 1 and ended.errors == []


def test_an_async_task_hears_the_request_through_cancel_requested(worker):
    worker()
    queued = cancel_tasks.polls_async.enqueue()
    wait_started(queued.id)
    cancel([queued.id])
    assert wait_status(queued.id, JobStatus.CANCELLED).errors == []


def test_a_django_tasks_task_stops_at_the_request_with_check_cancelled(worker):
    from django_jobs.backends.compat import task_finished
    from tests import cancel_tasks_django

    finished: list[Any] = []

    def on_finished(sender: Any, task_result: Any, **kwargs: Any) -> None:
        finished.append(task_result)

    task_finished.connect(on_finished, weak=False)
    try:
        worker()
        result = cancel_tasks_django.polls.enqueue()
        job_id = int(result.id)
        wait_started(job_id)
        cancel([job_id])
        wait_status(job_id, JobStatus.CANCELLED)
        result.refresh()
        assert result.status == "FAILED"  # django.tasks has no cancelled status
        wait_for(lambda: finished, what="task_finished")
        assert [(r.id, r.status) for r in finished] == [(result.id, "FAILED")]
    finally:
        task_finished.disconnect(on_finished)


def test_outside_a_job_nothing_is_requested():
    import django_jobs

    assert django_jobs.cancel_requested() is False
    django_jobs.check_cancelled()  # returns


@pytest.mark.postgres
def test_a_notify_brings_the_request_long_before_the_next_heartbeat(worker, tmp_path):
    # Heartbeats every 10 minutes: only the NOTIFY can tell the task within the test's patience.
    slow = {**settings.DJANGO_JOBS, "HEARTBEAT_SECONDS": 600.0, "LEASE_SECONDS": 1200.0}
    with override_settings(DJANGO_JOBS=slow):
        running = worker()
        assert running.listener is not None
        assert running.listener.listening.wait(30)
        queued = cancel_tasks.polls_context.enqueue(str(tmp_path / "never"))
        wait_started(queued.id)
        cancel([queued.id])
        wait_status(queued.id, JobStatus.CANCELLED, timeout=60)


def test_without_listen_the_next_heartbeat_brings_the_request(worker, monkeypatch, tmp_path):
    from django_jobs.worker import listen

    monkeypatch.setattr(listen, "supported", lambda alias="default": False)
    running = worker()
    assert running.listener is None
    queued = cancel_tasks.polls_context.enqueue(str(tmp_path / "never"))
    wait_started(queued.id)
    cancel([queued.id])
    # HEARTBEAT_SECONDS is 0.5 here; 10 by default.
    wait_status(queued.id, JobStatus.CANCELLED)


# The engine: guards and fences ------------------------------------------------------------------


def started_job(task: Any = tasks.add, *args: Any, **options: Any) -> Job:
    task.using(**options).enqueue(*args) if options else task.enqueue(*args)
    [job] = engine.claim(worker_id="w1", limit=1, lease_seconds=30, start_first=1)
    assert job.started_at is not None
    return job


def test_cancel_ends_a_claimed_job_that_never_started_at_once_and_its_start_finds_nothing():
    tasks.add.enqueue(1, 1)
    [job] = engine.claim(worker_id="w1", limit=1, lease_seconds=30)
    assert job.started_at is None
    assert cancel([job.id]).cancelled == [job.id]
    row = Job.objects.get(id=job.id)
    assert (row.status, row.lease_token) == (JobStatus.CANCELLED, None)
    assert engine.start([job]) == []
    assert engine.release([job]) == 0


def test_the_heartbeat_returns_each_held_jobs_request():
    first, second = started_job(tasks.add, 1, 1), started_job(tasks.add, 2, 2)
    cancel([second.id])
    held = engine.heartbeat([first, second], lease_seconds=60)
    assert held[first.id] is None
    asked = held[second.id]
    assert asked is not None and asked == Job.objects.get(id=second.id).cancel_requested_at


def test_a_failure_after_a_request_is_cancelled_not_retried_or_dead_lettered():
    retrying = started_job(tasks.add, 1, 1)
    last_try = started_job(tasks.add, 2, 2, max_attempts=1)
    cancel([retrying.id, last_try.id])
    for job in (retrying, last_try):
        # The worker had not heard of the request yet: engine.fail finds it on the row.
        assert job.cancel_requested_at is None
        record = engine.fail(job, RuntimeError("stopped"))
        assert record.recorded is Recorded.CANCELLED
        row = Job.objects.get(id=job.id)
        assert row.status == JobStatus.CANCELLED and len(row.errors) == 1
    assert not DeadJob.objects.exists()


def test_rescue_of_an_asked_job_whose_worker_died_ends_it_cancelled():
    job = started_job()
    cancel([job.id])
    Job.objects.filter(id=job.id).update(lease_expires_at=timezone.now() - dt.timedelta(seconds=5))
    report = engine.rescue()
    assert [j.id for j in report.cancelled] == [job.id] and report.requeued == []
    row = Job.objects.get(id=job.id)
    assert row.status == JobStatus.CANCELLED
    assert row.errors[-1]["exception_class"].endswith("WorkerLostError")


def test_acknowledge_cancel_is_fenced_by_the_lease_and_needs_a_request():
    job = started_job()
    # No request, and an ordinary error: fail's to record, not this.
    assert acknowledge_cancel(job, RuntimeError("x")) is Recorded.LOST
    cancel([job.id])
    stale = Job.objects.get(id=job.id)
    stale.lease_token = uuid.uuid4()
    assert acknowledge_cancel(stale, JobCancelled("x")) is Recorded.LOST
    assert status(job.id) == JobStatus.RUNNING
    assert acknowledge_cancel(job, JobCancelled("x")) is Recorded.CANCELLED
    assert acknowledge_cancel(job, JobCancelled("again")) is Recorded.LOST
    assert status(job.id) == JobStatus.CANCELLED


def test_cancel_leaves_finished_jobs_and_repeats_change_nothing():
    job = started_job()
    assert engine.complete(job, 2) is Recorded.DONE
    assert len(cancel([job.id])) == 0
    row = Job.objects.get(id=job.id)
    assert (row.status, row.cancel_requested_at) == (JobStatus.DONE, None)
    assert len(cancel([])) == 0


def test_cancel_frees_the_idempotency_key_once_the_running_job_is_cancelled():
    job = started_job(tasks.add, 1, 1, idempotency_key="k-1")
    cancel([job.id])
    # Still running: the key still guards.
    assert tasks.add.using(idempotency_key="k-1").enqueue(1, 1).id == job.id
    acknowledge_cancel(job, JobCancelled("x"))
    assert tasks.add.using(idempotency_key="k-1").enqueue(1, 1).id != job.id


def test_a_started_job_asked_to_stop_before_its_task_ran_is_cancelled_without_running():
    # A job started ahead of a free slot (the runway) may hear of its cancel request from the
    # heartbeat before a slot takes it: the task is then never called.
    from django_jobs.worker.execute import execute
    from tests.models import Execution

    job = started_job(tasks.record, "never")
    cancel([job.id])
    job.cancel_requested_at = engine.heartbeat([job], lease_seconds=60)[job.id]
    outcome = execute(job)
    assert isinstance(outcome, Cancelled), outcome
    assert isinstance(outcome.error, JobCancelled) and "before its task ran" in str(outcome.error)
    assert not Execution.objects.filter(key="never").exists()
    assert acknowledge_cancel(job, outcome.error) is Recorded.CANCELLED
    assert Job.objects.get(id=job.id).status == JobStatus.CANCELLED
