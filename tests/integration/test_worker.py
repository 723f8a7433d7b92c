"""The worker in-process: outcomes, retries with backoff, dead letters, order and options."""

import datetime as dt
import random
import threading

import pytest
from django.test import override_settings
from django.utils import timezone

from django_jobs.engine import claim, start
from django_jobs.exceptions import PermanentError
from django_jobs.models import DeadJob, Job, JobStatus
from django_jobs.worker import Worker
from tests import tasks
from tests.conftest import wait_for
from tests.models import Execution

pytestmark = pytest.mark.django_db(transaction=True)


def test_success_stores_result_and_times():
    job = tasks.add.enqueue(20, 22)
    assert Worker(burst=True).run() == 0
    job.refresh_from_db()
    assert (job.status, job.result, job.attempts) == (JobStatus.DONE, 42, 1)
    assert job.started_at <= job.finished_at
    assert job.lease_token is None and job.errors == []


def test_failure_is_retried_then_dead_lettered_with_every_traceback():
    job = tasks.always_fails.enqueue("kaput")
    assert Worker(burst=True).run() == 0
    assert not Job.objects.filter(id=job.id).exists()
    dead = DeadJob.objects.get(job_id=job.id)
    assert dead.attempts == dead.max_attempts == 3
    assert dead.exception_class == "builtins.RuntimeError" and dead.message == "kaput"
    assert "raise RuntimeError(message)" in dead.traceback
    assert [e["attempt"] for e in dead.errors] == [1, 2, 3]
    assert (dead.task_path, dead.args, dead.queue) == (
        "tests.tasks.always_fails",
        ["kaput"],
        "default",
    )


def test_flaky_job_succeeds_on_a_later_attempt():
    job = tasks.fails_until.enqueue("flaky", succeed_on=3)
    Worker(burst=True).run()
    job.refresh_from_db()
    assert (job.status, job.result, job.attempts) == (JobStatus.DONE, 3, 3)
    assert [e["exception_class"] for e in job.errors] == ["builtins.ConnectionError"] * 2
    assert list(Execution.objects.order_by("attempt").values_list("attempt", flat=True)) == [
        1,
        2,
        3,
    ]


@override_settings(
    DJANGO_JOBS={"BACKOFF_BASE_SECONDS": 10, "BACKOFF_MAX_SECONDS": 25, "BACKOFF_JITTER": 0.2}
)
def test_retry_moves_run_at_by_capped_exponential_backoff():
    job = tasks.always_fails.using(max_attempts=5).enqueue()
    for attempt, full_delay in [(1, 10), (2, 20), (3, 25)]:
        Job.objects.filter(id=job.id).update(run_at=timezone.now())
        before = timezone.now()
        Worker(max_jobs=1).run()
        job.refresh_from_db()
        assert job.status == JobStatus.QUEUED and job.attempts == attempt
        delay = (job.run_at - before).total_seconds()
        # Jitter only shortens: within [80%, 100%] of the capped exponential delay.
        assert full_delay * 0.8 - 0.5 <= delay <= full_delay + 0.5, (attempt, delay)


def test_permanent_error_goes_straight_to_dead_letter():
    job = tasks.permanent_failure.enqueue()
    Worker(burst=True).run()
    dead = DeadJob.objects.get(job_id=job.id)
    assert dead.attempts == 1 and dead.max_attempts == 5
    assert dead.exception_class == f"{PermanentError.__module__}.PermanentError"


def test_unserialisable_result_is_dead_lettered_not_rerun():
    job = tasks.returns_object.enqueue()
    Worker(burst=True).run()
    dead = DeadJob.objects.get(job_id=job.id)
    assert dead.attempts == 1 and "not JSON-serialisable" in dead.message


def test_unknown_task_at_run_time_is_a_recorded_failure():
    job = tasks.add.using(max_attempts=1).enqueue(1, 2)
    Job.objects.filter(id=job.id).update(task_path="tests.tasks.removed_since")
    assert Worker(burst=True).run() == 0
    assert "No task at 'tests.tasks.removed_since'" in DeadJob.objects.get(job_id=job.id).message


def test_async_task_and_context_task_run():
    a = tasks.async_add.enqueue(1, 2)
    p = tasks.reports_progress.enqueue()
    Worker(burst=True).run()
    a.refresh_from_db()
    p.refresh_from_db()
    assert a.result == 3
    assert p.result is True  # the fenced progress write found its row


def test_jobs_run_in_priority_then_run_at_then_id_order():
    now = timezone.now()
    expected = [
        tasks.record.using(priority=50, run_at=now - dt.timedelta(seconds=1)).enqueue("p50-old"),
        tasks.record.using(priority=50, run_at=now).enqueue("p50-new"),
        tasks.record.using(priority=0).enqueue("p0-a"),
        tasks.record.using(priority=0).enqueue("p0-b"),
        tasks.record.using(priority=-10).enqueue("p-10"),
    ]
    Worker(burst=True, concurrency=1, prefetch=0).run()
    ran = list(Execution.objects.order_by("id").values_list("key", flat=True))
    assert ran == [j.args[0] for j in expected]


def test_future_jobs_wait_and_queues_filter():
    tasks.record.using(delay=3600).enqueue("later")
    tasks.record.using(queue="other").enqueue("other")
    tasks.record.enqueue("now")
    Worker(burst=True, queues=["default"]).run()
    assert list(Execution.objects.values_list("key", flat=True)) == ["now"]


def test_max_jobs_stops_after_that_many():
    for i in range(5):
        tasks.record.enqueue(f"k{i}")
    Worker(max_jobs=2, concurrency=2).run()
    assert Execution.objects.count() == 2
    assert Job.objects.filter(status=JobStatus.QUEUED).count() == 3


def test_one_claim_takes_a_batch_marks_it_running_and_charges_attempts_only_at_start():
    for i in range(5):
        tasks.record.enqueue(f"k{i}")
    claimed = claim(worker_id="w1", limit=3, lease_seconds=30)
    assert len(claimed) == 3 and len({j.lease_token for j in claimed}) == 1
    rows = Job.objects.filter(status=JobStatus.RUNNING)
    assert sorted(rows.values_list("id", flat=True)) == sorted(j.id for j in claimed)
    assert set(rows.values_list("worker_id", "attempts", "started_at")) == {("w1", 0, None)}
    assert [job.attempts for job in start(claimed[:2])] == [1, 1]
    assert start(claimed[:2]) == []  # charged once per claim however often it is asked
    assert sorted(rows.values_list("attempts", flat=True)) == [0, 1, 1]


def test_failing_jobs_do_not_stop_the_worker():
    rng = random.Random(7)
    keys = []
    for i in range(30):
        if rng.random() < 0.5:
            tasks.always_fails.using(max_attempts=1).enqueue()
        else:
            keys.append(tasks.record.enqueue(f"ok{i}").args[0])
    assert Worker(burst=True, concurrency=3).run() == 0
    assert sorted(Execution.objects.values_list("key", flat=True)) == sorted(keys)
    assert not Job.objects.live().exists()


@pytest.mark.parametrize("stop", ["burst", "max_jobs"])
def test_a_drained_worker_exits_once_the_last_outcome_is_written_not_at_the_next_poll(stop: str):
    # Successes are written by the completer after their slots are idle again: the claim that
    # finds nothing still sees them held. The write of the last one must wake the loop to exit,
    # not leave it waiting out the poll interval (a minute here; 1 s by default).
    ids = [tasks.noop.enqueue().id for _ in range(40)]
    options = {"burst": True} if stop == "burst" else {"max_jobs": len(ids)}
    worker = Worker(concurrency=4, poll_interval_seconds=60, **options)  # type: ignore[arg-type]
    exited: list[int] = []
    thread = threading.Thread(target=lambda: exited.append(worker.run()), daemon=True)
    thread.start()
    try:
        wait_for(lambda: exited, timeout=30, what="the drained worker to exit",
                 describe=lambda: Job.objects.values_list("status").distinct())  # fmt: skip
    finally:
        worker.request_stop()
        thread.join(30)
    assert exited == [0]
    assert Job.objects.filter(id__in=ids, status=JobStatus.DONE).count() == len(ids)
