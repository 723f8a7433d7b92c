"""Replay, cancel, run-now and rescue are each exactly-once when two processes do them at once.

Issue 9, case 6: two concurrent replays of one dead job created two jobs. Each test here starts
two real processes (``tests/faults/race.py``) that block on an advisory lock the test holds, and
releases them at one instant.

The steps come from ``django_jobs.engine``; set ``DJANGO_JOBS_FAULTS_API=today`` to run the same
races against the functions before it (``django_jobs.deadletter.replay`` and the rest).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from django_jobs.models import DeadJob, Job, JobStatus
from tests import hostile_tasks, tasks
from tests.conftest import wait_for
from tests.faults.barrier import Racers
from tests.faults.support import describe_jobs
from tests.models import Execution

pytestmark = pytest.mark.postgres

API = os.environ.get("DJANGO_JOBS_FAULTS_API", "engine")
BARRIER_KEY = 90_009  # any bigint; below 2**32 it shows as pg_locks.objid
RACERS = 2


@pytest.fixture
def race(transactional_db: None, tmp_path: Path) -> Iterator[Callable[..., list[dict[str, Any]]]]:
    """Run ``race(step, ids)`` in two processes released at once; return their JSON outcomes."""
    racers = Racers(tmp_path, BARRIER_KEY)
    yield lambda step, ids: racers.run([(step, ids)] * RACERS, api=API)
    racers.close()


def _dead_job(start_worker) -> DeadJob:
    """Dead-letter one job through a real worker, and return its dead job."""
    job_id = tasks.permanent_failure.enqueue().id
    code, out = start_worker("--burst").finish(timeout=120)
    assert code == 0, out[-2000:]
    return DeadJob.objects.get(job_id=job_id)


def test_two_concurrent_replays_of_one_dead_job_create_exactly_one_job(race, start_worker):
    dead = _dead_job(start_worker)
    outcomes = race("replay", [dead.id])
    print(f"\nreplay race outcomes ({API}): {outcomes}")
    assert Job.objects.count() == 1, f"{Job.objects.count()} jobs from one dead job: {outcomes}"
    replayed = Job.objects.get()
    dead.refresh_from_db()
    assert dead.replayed_job_id == replayed.id
    winners = [o for o in outcomes if o["outcome"] == "ok"]
    losers = [o for o in outcomes if o["outcome"] == "error"]
    assert len(winners) == 1, outcomes
    assert len(losers) == 1 and losers[0]["error"].endswith("ReplayConflictError"), outcomes


def test_two_concurrent_cancels_of_one_job_add_up_to_one(race):
    job = tasks.noop.enqueue()
    outcomes = race("cancel", [job.id])
    print(f"\ncancel race outcomes ({API}): {outcomes}")
    assert [o["outcome"] for o in outcomes] == ["ok", "ok"], outcomes
    assert sum(len(o["value"]["cancelled"]) for o in outcomes) == 1, outcomes
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED


def test_two_concurrent_run_nows_of_one_job_add_up_to_one(race):
    job = tasks.noop.using(run_at=timezone.now() + timedelta(hours=1)).enqueue()
    outcomes = race("run_now", [job.id])
    print(f"\nrun_now race outcomes ({API}): {outcomes}")
    assert [o["outcome"] for o in outcomes] == ["ok", "ok"], outcomes
    assert sum(o["value"] for o in outcomes) == 1, outcomes
    job.refresh_from_db()
    assert job.run_at <= timezone.now()


def test_two_concurrent_rescues_of_one_expired_job_requeue_it_once(race, start_worker, tmp_path):
    # A real worker claims the job and is killed: the row is left running, its lease expiring.
    job_id = hostile_tasks.record_then_wait.enqueue("stranded", str(tmp_path / "never")).id
    victim = start_worker("--concurrency", "1")
    wait_for(
        lambda: Execution.objects.filter(key="stranded").exists(),
        timeout=120,
        what="the job to start",
    )
    victim.kill()
    wait_for(
        lambda: Job.objects.expired().filter(id=job_id).exists(),
        timeout=30,
        what="the killed worker's lease to expire",
        describe=lambda: describe_jobs([job_id]),
    )
    outcomes = race("rescue", [])
    print(f"\nrescue race outcomes ({API}): {outcomes}")
    assert [o["outcome"] for o in outcomes] == ["ok", "ok"], outcomes
    job = Job.objects.get(id=job_id)
    assert job.status == JobStatus.QUEUED, describe_jobs([job_id])
    lost = [e for e in job.errors if e["exception_class"].endswith("WorkerLostError")]
    assert len(lost) == 1, job.errors
