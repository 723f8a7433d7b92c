"""Real `manage.py runworker` processes on the test database."""

import signal

import pytest
from django.db import transaction
from django.db.models import Count

from django_jobs.models import Job, JobStatus
from tests import tasks
from tests.conftest import wait_for
from tests.models import Execution


@pytest.mark.postgres
def test_two_worker_processes_run_2000_jobs_exactly_once(start_worker):
    workers = [start_worker("--concurrency", "4") for _ in range(2)]
    # Both must be up before the jobs commit, or on a busy machine the first to finish
    # importing Django may drain them all before the second claims any.
    for proc in workers:
        wait_for(lambda p=proc: " started: " in p.output(), timeout=120, what="worker start")
    with transaction.atomic():
        ids = {tasks.record.enqueue(f"job-{i}").id for i in range(2000)}
    wait_for(
        lambda: Job.objects.filter(id__in=ids, status=JobStatus.DONE).count() == 2000,
        timeout=240,
        what="all 2000 jobs done",
    )
    for proc in workers:
        proc.send_signal(signal.SIGTERM)
        code, out = proc.finish(timeout=60)
        assert code == 0, out[-3000:]
    assert Job.objects.filter(id__in=ids, status=JobStatus.DONE).count() == 2000
    runs = Execution.objects.values("key").annotate(n=Count("id"))
    assert len(runs) == 2000
    assert {row["n"] for row in runs} == {1}, "a job ran twice"
    pids = set(Execution.objects.values_list("worker_pid", flat=True))
    assert len(pids) == 2, "both workers should have taken a share"


def test_sigterm_lets_the_running_job_finish_and_claims_nothing_after(start_worker):
    long_job = tasks.sleep_then_record.using(priority=100).enqueue("long", 2.0)
    waiting = [tasks.record.enqueue(f"after-{i}") for i in range(5)]
    proc = start_worker("--concurrency", "1")
    wait_for(
        lambda: Job.objects.filter(id=long_job.id, status=JobStatus.RUNNING).exists(),
        what="the long job to start",
    )
    proc.send_signal(signal.SIGTERM)
    code, out = proc.finish(timeout=30)
    assert code == 0, out[-3000:]
    long_job.refresh_from_db()
    assert long_job.status == JobStatus.DONE
    assert list(Execution.objects.values_list("key", flat=True)) == ["long"]
    waiting_rows = Job.objects.filter(id__in=[j.id for j in waiting])
    statuses = set(waiting_rows.values_list("status", "attempts"))
    assert statuses == {(JobStatus.QUEUED, 0)}, "nothing may be claimed after SIGTERM"
    assert "stopped cleanly" in out


def test_second_signal_exits_at_once(start_worker):
    job = tasks.sleep_then_record.enqueue("very-long", 60.0)
    proc = start_worker()
    wait_for(lambda: Job.objects.filter(id=job.id, status=JobStatus.RUNNING).exists())
    # Python runs both handlers in turn, whichever lands first: one drains, the other exits.
    proc.send_signal(signal.SIGTERM)
    proc.send_signal(signal.SIGINT)
    code, out = proc.finish(timeout=10)
    assert code == 1, out[-3000:]
    assert not Execution.objects.exists()
