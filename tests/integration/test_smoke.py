import pytest

from django_jobs.models import DeadJob, Job, JobStatus
from django_jobs.worker import Worker
from tests import tasks


@pytest.mark.django_db(transaction=True)
def test_burst_worker_runs_success_retry_and_dead_letter():
    ok = tasks.add.enqueue(2, 3)
    bad = tasks.always_fails.enqueue("nope")
    assert Worker(burst=True).run() == 0
    ok.refresh_from_db()
    assert ok.status == JobStatus.DONE and ok.result == 5
    assert not Job.objects.filter(id=bad.id).exists()
    dead = DeadJob.objects.get(job_id=bad.id)
    assert dead.attempts == 3 and "RuntimeError: nope" in dead.traceback
