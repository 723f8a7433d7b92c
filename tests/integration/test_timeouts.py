"""Timeouts: an overrunning job fails by its policy, its late outcome is discarded, and the
worker keeps its concurrency, then recycles."""

import pytest

from django_jobs.exceptions import JobTimeoutError
from django_jobs.models import DeadJob, Job, JobStatus
from django_jobs.worker import Worker
from django_jobs.worker.runner import EXIT_RECYCLE
from tests import tasks
from tests.conftest import wait_for
from tests.models import Execution

pytestmark = pytest.mark.django_db(transaction=True)


def test_overrunning_job_is_retried_then_dead_lettered_and_its_late_write_discarded():
    slow = tasks.overruns.enqueue("slow", 2.5)
    quick = [tasks.record.enqueue(f"quick-{i}") for i in range(5)]
    worker = Worker(concurrency=2, burst=True)
    assert worker.run() == EXIT_RECYCLE  # two abandoned threads = its concurrency
    assert worker.timed_out == [slow.id, slow.id]
    dead = DeadJob.objects.get(job_id=slow.id)
    assert dead.exception_class == f"{JobTimeoutError.__module__}.JobTimeoutError"
    assert [e["exception_class"].rsplit(".", 1)[-1] for e in dead.errors] == ["JobTimeoutError"] * 2
    assert Job.objects.filter(id__in=[j.id for j in quick], status=JobStatus.DONE).count() == 5
    # The abandoned threads finish their sleep and try to complete the job: the fence refuses.
    wait_for(lambda: Execution.objects.filter(key="slow").count() == 2, timeout=15)
    wait_for(lambda: worker.running_jobs() == [], timeout=5)
    assert not Job.objects.filter(id=slow.id).exists()
    assert DeadJob.objects.get(job_id=slow.id).attempts == 2


def test_job_within_its_timeout_completes():
    job = tasks.overruns.enqueue("fast", 0.0)
    assert Worker(burst=True).run() == 0
    job.refresh_from_db()
    assert job.status == JobStatus.DONE


def test_a_timed_out_job_retried_on_the_same_worker_runs_normally():
    job = tasks.slow_first_attempt.enqueue("again")
    worker = Worker(concurrency=2, burst=True)
    assert worker.run() == 0  # one abandoned thread is below the recycle threshold of two
    job.refresh_from_db()
    assert (job.status, job.attempts, job.result) == (JobStatus.DONE, 2, 2)
    # The first attempt's thread wakes up later; its write is fenced off and changes nothing.
    wait_for(lambda: Execution.objects.filter(key="again").count() == 2, timeout=15)
    wait_for(lambda: worker.running_jobs() == [], timeout=5)
    job.refresh_from_db()
    assert (job.status, job.attempts, job.result) == (JobStatus.DONE, 2, 2)
