"""Jobs started ahead of free slots (``worker/runway.py``): while jobs are short the claim starts
more than the idle slots, never a job on its last attempt, and what no slot took by shutdown
goes back with its attempt given back."""

from __future__ import annotations

import threading
import uuid

import pytest
from django.db import transaction

from django_jobs import engine
from django_jobs.models import Job, JobStatus
from django_jobs.worker import Worker
from django_jobs.worker.observers import Observer
from tests import tasks
from tests.conftest import wait_for
from tests.models import Execution

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


class Claims(Observer):
    """The size of every claim a worker made."""

    def __init__(self) -> None:
        self.sizes: list[int] = []

    def claimed(self, count: int) -> None:
        self.sizes.append(count)


def test_a_claim_starts_jobs_ahead_but_never_one_on_its_last_attempt():
    plain = [tasks.noop.enqueue() for _ in range(4)]
    last = tasks.noop.using(max_attempts=1).enqueue()
    claimed = engine.claim(worker_id="w", limit=10, lease_seconds=60, start_first=1, start_ahead=5)
    by_id = {job.id: job for job in claimed}
    assert set(by_id) == {job.id for job in [*plain, last]}
    rows = {job.id: job for job in Job.objects.filter(id__in=by_id)}
    for job in plain:
        assert rows[job.id].attempts == 1 and rows[job.id].started_at is not None
        assert by_id[job.id].started_at is not None
    # On its last attempt: claimed, not started; a worker starts it only as a slot takes it.
    assert rows[last.id].attempts == 0 and rows[last.id].started_at is None
    assert by_id[last.id].started_at is None and rows[last.id].status == JobStatus.RUNNING


def test_start_ahead_is_capped_by_the_limit_and_adds_to_start_first():
    for _ in range(6):
        tasks.noop.enqueue()
    claimed = engine.claim(worker_id="w", limit=4, lease_seconds=60, start_first=1, start_ahead=2)
    assert len(claimed) == 4
    assert sum(job.started_at is not None for job in claimed) == 3
    assert Job.objects.filter(attempts=1).count() == 3


def test_releasing_started_ahead_jobs_gives_their_attempt_back_and_is_fenced():
    for _ in range(3):
        tasks.noop.enqueue()
    claimed = engine.claim(worker_id="w", limit=3, lease_seconds=60, start_ahead=3)
    assert all(job.started_at is not None for job in claimed)
    # Fenced: a copy of a claim this worker no longer holds (another lease token) changes nothing.
    stale = Job.objects.get(id=claimed[0].id)
    stale.lease_token = uuid.uuid4()
    assert engine.release([stale], started_ahead=True) == 0
    # A plain release never touches a started job.
    assert engine.release(claimed) == 0
    assert engine.release(claimed, started_ahead=True) == 3
    rows = list(Job.objects.all())
    assert all((row.status, row.attempts, row.started_at, row.lease_token) ==
               (JobStatus.QUEUED, 0, None, None) for row in rows)  # fmt: skip
    # A started-ahead release never touches a job that was not started.
    unstarted = engine.claim(worker_id="w", limit=2, lease_seconds=60)
    assert engine.release(unstarted, started_ahead=True) == 0
    assert engine.release(unstarted) == 2


def test_a_drain_of_short_jobs_claims_more_than_its_slots_and_runs_each_once():
    jobs = [tasks.record.enqueue(f"r{i}") for i in range(400)]
    claims = Claims()
    assert Worker(burst=True, concurrency=2, observers=[claims]).run() == 0
    assert max(claims.sizes) > 2, claims.sizes
    assert Job.objects.filter(status=JobStatus.DONE, attempts=1).count() == len(jobs)
    assert Execution.objects.count() == len(jobs)
    assert len(set(Execution.objects.values_list("key", flat=True))) == len(jobs)


def test_slow_jobs_are_never_started_ahead():
    for i in range(8):
        tasks.sleep_then_record.enqueue(f"s{i}", 0.2)
    claims = Claims()
    assert Worker(burst=True, concurrency=2, observers=[claims]).run() == 0
    assert max(claims.sizes) <= 2, claims.sizes
    assert Execution.objects.count() == 8


def test_at_shutdown_jobs_started_ahead_go_back_with_their_attempt():
    # No-op jobs first, so that the worker knows its jobs are short.
    warm = [tasks.noop.enqueue() for _ in range(50)]
    worker = Worker(concurrency=1, poll_interval_seconds=0.2, grace_seconds=30)
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        wait_for(
            lambda: Job.objects.filter(id__in=[j.id for j in warm], status="done").count() == 50,
            timeout=60,
            what="the warm-up jobs",
        )
        with transaction.atomic():
            slow = tasks.sleep_then_record.enqueue("slow", 2.0)
            ahead = [tasks.noop.enqueue() for _ in range(20)]
        wait_for(
            lambda: Job.objects.filter(id__in=[j.id for j in ahead], attempts=1).count() == 20,
            timeout=60,
            what="the 20 short jobs started ahead while the slow one runs",
        )
        assert Job.objects.get(id=slow.id).status == JobStatus.RUNNING
    finally:
        worker.request_stop("test")
        thread.join(60)
    assert not thread.is_alive()
    assert Job.objects.get(id=slow.id).status == JobStatus.DONE
    rows = Job.objects.filter(id__in=[job.id for job in ahead])
    assert all((row.status, row.attempts, row.started_at, row.worker_id) ==
               (JobStatus.QUEUED, 0, None, "") for row in rows)  # fmt: skip
