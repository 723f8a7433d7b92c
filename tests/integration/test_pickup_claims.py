"""What one pickup costs an idle worker in claims: the claim that takes the job, and the one
its slot's end asks for; not a third straight after a claim that found less than it asked for."""

from __future__ import annotations

import threading

import pytest

from django_jobs.models import Job, JobStatus
from django_jobs.worker import Worker, feed
from tests import tasks
from tests.conftest import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


def test_a_claim_that_took_what_was_ready_is_not_followed_by_another_at_once(monkeypatch):
    taken: list[int] = []
    real = feed.engine.claim

    def counted(**kwargs):
        jobs = real(**kwargs)
        taken.append(len(jobs))
        return jobs

    monkeypatch.setattr(feed.engine, "claim", counted)
    worker = Worker(concurrency=2, poll_interval_seconds=30)
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        wait_for(lambda: taken, timeout=60, what="the worker's first claim")
        before = len(taken)
        for _ in range(20):  # each one enqueued, NOTIFYed, claimed and run on its own
            job = tasks.noop.enqueue()
            wait_for(
                lambda job=job: Job.objects.filter(id=job.id, status=JobStatus.DONE).exists(),
                timeout=30,
                what=f"job {job.id} done",
            )
    finally:
        worker.request_stop("test")
        thread.join(60)
    claims = taken[before:]
    assert sum(claims) == 20
    # Two per job: the NOTIFY's claim that takes it, and the one when its slot is free again.
    # Before, the claim that took one job of the two it had room for was followed at once by
    # another that found nothing: three per job.
    assert len(claims) <= 2 * 20 + 2, claims
