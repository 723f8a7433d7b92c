"""Edge cases found in review: replaying twice, bare-string bulk items, faulty receivers."""

import pytest
from django.dispatch import receiver

import django_jobs
from django_jobs import InvalidJobOptionsError, ReplayConflictError
from django_jobs.engine import replay
from django_jobs.models import DeadJob, Job, JobStatus
from django_jobs.signals import job_enqueued, job_started, job_succeeded
from django_jobs.worker import Worker
from tests import tasks

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_dead_job_is_replayed_once():
    job = tasks.always_fails.using(max_attempts=1).enqueue()
    Worker(burst=True).run()
    dead = DeadJob.objects.get(job_id=job.id)
    [new] = replay([dead], by="ops")
    dead.refresh_from_db()
    assert (dead.replayed_job_id, dead.replayed_by) == (new.id, "ops")
    with pytest.raises(ReplayConflictError, match=f"already replayed as job {new.id}"):
        replay([dead])
    assert Job.objects.filter(task_path=job.task_path, status=JobStatus.QUEUED).count() == 1


def test_enqueue_many_refuses_a_bare_string_item():
    with pytest.raises(InvalidJobOptionsError, match="Item 1 of calls is str"):
        django_jobs.enqueue_many(tasks.record, [("a",), "bcd"])
    assert not Job.objects.exists()


def test_job_enqueued_is_sent_only_when_a_row_was_inserted():
    seen = []

    @receiver(job_enqueued)
    def collect(sender, job, **kwargs):
        seen.append(job.id)

    try:
        first = tasks.add.using(idempotency_key="once").enqueue(1, 2)
        tasks.add.using(idempotency_key="once").enqueue(1, 2)
    finally:
        job_enqueued.disconnect(collect)
    assert seen == [first.id]


def test_a_raising_receiver_changes_no_outcome_and_stops_no_worker():
    def explode(**kwargs):
        raise RuntimeError("receiver bug")

    job_started.connect(explode)
    job_succeeded.connect(explode)
    try:
        jobs = [tasks.add.enqueue(i, i) for i in range(3)]
        assert Worker(burst=True, concurrency=2).run() == 0
    finally:
        job_started.disconnect(explode)
        job_succeeded.disconnect(explode)
    assert [Job.objects.get(id=j.id).result for j in jobs] == [0, 2, 4]
