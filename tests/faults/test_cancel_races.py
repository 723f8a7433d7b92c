"""Cancel against the worker's own writes, by two real processes released at one instant.

Each test starts two ``tests/faults/race.py`` children running different steps over the same
jobs; they block on an advisory lock the test holds, and run when it lets go. Twenty jobs per
race, taken in the same order by both, so the two interleave row by row. Whatever the order,
each job ends in one state that agrees with what both racers were told: cancelled or done (or
claimed and asked), never two of these, and a write under a lost lease changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from django_jobs import engine
from django_jobs.models import DeadJob, Job, JobStatus
from tests import tasks
from tests.faults.barrier import Racers

pytestmark = pytest.mark.postgres

BARRIER_KEY = 90_070
JOBS = 20

Race = Callable[[list[tuple[str, list[int]]]], list[dict[str, Any]]]


@pytest.fixture
def race(transactional_db: None, tmp_path: Path) -> Iterator[Race]:
    """Run each ``(step, ids)`` in its own process, all released at once; return the values."""
    racers = Racers(tmp_path, BARRIER_KEY)
    yield racers.values
    racers.close()


def started_jobs(count: int = JOBS) -> list[Job]:
    for i in range(count):
        tasks.add.enqueue(i, i)
    jobs = engine.claim(worker_id="w1", limit=count, lease_seconds=60, start_first=count)
    assert len(jobs) == count
    return sorted(jobs, key=lambda job: job.id)


def rows(jobs: list[Job]) -> dict[int, Job]:
    return {job.id: job for job in Job.objects.filter(id__in=[j.id for j in jobs])}


def test_cancel_racing_completion_asks_or_misses_and_the_job_is_done(race):
    jobs = started_jobs()
    ids = [job.id for job in jobs]
    cancelled, completed = race([("cancel", ids), ("complete", ids)])
    # A started job is only asked to stop: its completion, first or second, writes done.
    assert cancelled["cancelled"] == [] and completed == ["done"] * JOBS
    asked = set(cancelled["requested"])
    for job_id, row in rows(jobs).items():
        assert row.status == JobStatus.DONE and row.result == "raced"
        # The request is on the row exactly when cancel said it asked (it came first).
        assert (row.cancel_requested_at is not None) == (job_id in asked), (job_id, asked)
    print(f"\ncancel vs complete: {len(asked)} of {JOBS} asked before completing")


def test_cancel_racing_a_claim_cancels_or_asks_never_both(race):
    for i in range(JOBS):
        tasks.add.enqueue(i, i)
    ids = sorted(Job.objects.values_list("id", flat=True))
    # One row per statement on both sides, so that the two interleave instead of one statement
    # taking every row first.
    cancelled, claimed = race([("cancel_each", ids), ("claim_each", ids)])
    at_once, asked, claimed = set(cancelled["cancelled"]), set(cancelled["requested"]), set(claimed)
    assert at_once | asked == set(ids) and not at_once & asked
    # A job the claim took was started by it, so cancel found it running: asked, not cancelled.
    assert claimed == asked, (claimed, asked)
    for job_id, status, requested_at in Job.objects.values_list(
        "id", "status", "cancel_requested_at"
    ):
        expected = JobStatus.CANCELLED if job_id in at_once else JobStatus.RUNNING
        assert status == expected and requested_at is not None
    print(f"\ncancel vs claim: {len(at_once)} cancelled at once, {len(asked)} claimed and asked")


def test_the_workers_cancel_and_a_completion_under_one_lease_write_once(race):
    jobs = started_jobs()
    ids = [job.id for job in jobs]
    engine.cancel(ids)
    acknowledged, completed = race([("acknowledge_cancel", ids), ("complete", ids)])
    for job, ack, done in zip(jobs, acknowledged, completed, strict=True):
        # Exactly one of the two fenced writes found the lease; the row says which.
        assert (ack, done) in (("cancelled", "lost"), ("lost", "done")), (job.id, ack, done)
        row = Job.objects.get(id=job.id)
        assert row.status == (JobStatus.CANCELLED if ack == "cancelled" else JobStatus.DONE)
        assert row.lease_token is None
    print(f"\nacknowledge vs complete: {acknowledged.count('cancelled')} cancelled")


def test_the_workers_cancel_and_a_rescue_of_its_expired_lease_end_the_job_cancelled_once(race):
    jobs = started_jobs()
    ids = [job.id for job in jobs]
    engine.cancel(ids)
    past = timezone.now() - timedelta(seconds=5)
    Job.objects.filter(id__in=ids).update(lease_expires_at=past)
    acknowledged, rescued = race([("acknowledge_cancel", ids), ("rescue", [])])
    by_rescue = set(rescued["cancelled"])
    assert rescued["requeued"] == [], rescued
    for job, ack in zip(jobs, acknowledged, strict=True):
        # One writer each: the worker's (no error recorded) or rescue's (WorkerLostError).
        assert (ack == "cancelled") != (job.id in by_rescue), (job.id, ack, by_rescue)
        row = Job.objects.get(id=job.id)
        assert row.status == JobStatus.CANCELLED
        assert len(row.errors) == (1 if job.id in by_rescue else 0)
    assert not DeadJob.objects.exists()
    print(f"\nacknowledge vs rescue: {len(by_rescue)} of {JOBS} ended by rescue")


def test_a_failure_racing_a_cancel_retries_or_cancels_never_both(race):
    jobs = started_jobs()
    ids = [job.id for job in jobs]
    cancelled, failed = race([("cancel", ids), ("fail", ids)])
    asked = set(cancelled["requested"])
    at_once = set(cancelled["cancelled"])
    for job, fate in zip(jobs, failed, strict=True):
        row = Job.objects.get(id=job.id)
        if fate == "retried":
            # The retry came first: the job was queued again, then cancel took it at once.
            assert job.id in at_once and row.status == JobStatus.CANCELLED, (job.id, fate)
        else:
            # The request came first: the failure found it and ended the job cancelled.
            assert fate == "cancelled" and job.id in asked, (job.id, fate, asked)
            assert row.status == JobStatus.CANCELLED
    assert not DeadJob.objects.exists()
    print(f"\nfail vs cancel: {len(asked)} asked first, {len(at_once)} retried first")
