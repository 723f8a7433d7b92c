"""Replay, cancel, run-now and rescue are each exactly-once when two processes do them at once.

Issue 9, case 6: two concurrent replays of one dead job created two jobs. Each test here starts
two real processes (``tests/faults/race.py``) that block on an advisory lock the test holds, and
releases them at one instant.

The steps come from ``django_jobs.engine``; set ``DJANGO_JOBS_FAULTS_API=today`` to run the same
races against the functions before it (``django_jobs.deadletter.replay`` and the rest).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from django_jobs.models import DeadJob, Job, JobStatus
from tests import hostile_tasks, tasks
from tests.conftest import ROOT, subprocess_env, wait_for
from tests.faults.support import describe_jobs
from tests.models import Execution

pytestmark = pytest.mark.postgres

API = os.environ.get("DJANGO_JOBS_FAULTS_API", "engine")
BARRIER_KEY = 90_009  # any bigint; below 2**32 it shows as pg_locks.objid
RACERS = 2


def _waiting_at_barrier() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
            "AND classid = 0 AND objid = %s "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            [BARRIER_KEY],
        )
        return cursor.fetchone()[0]


def _advisory(function: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {function}(%s)", [BARRIER_KEY])


@pytest.fixture
def race(transactional_db: None, tmp_path: Path) -> Iterator[Callable[..., list[dict[str, Any]]]]:
    """Run ``race(step, ids)`` in two processes released at once; return their JSON outcomes."""
    started: list[subprocess.Popen[bytes]] = []

    def run(step: str, ids: list[int]) -> list[dict[str, Any]]:
        logs = [tmp_path / f"{step}-{i}.log" for i in range(RACERS)]
        children: list[subprocess.Popen[bytes]] = []
        command = [sys.executable, "-m", "tests.faults.race", step, API, str(BARRIER_KEY)]
        _advisory("pg_advisory_lock")
        try:
            for log in logs:
                with open(log, "wb") as out:
                    child = subprocess.Popen(
                        [*command, *map(str, ids)],
                        cwd=ROOT,
                        env=subprocess_env(),
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                children.append(child)
                started.append(child)
            # Django's set-up alone takes seconds per process on a loaded machine.
            wait_for(
                lambda: (
                    _waiting_at_barrier() == RACERS or any(c.poll() is not None for c in children)
                ),
                timeout=120,
                what=f"{RACERS} processes to wait at the barrier",
            )
            early = [
                log.read_text()
                for c, log in zip(children, logs, strict=True)
                if c.poll() is not None
            ]
            assert not early, f"a racer ended before the barrier opened: {early}"
        finally:
            _advisory("pg_advisory_unlock")
        for child in children:
            child.wait(timeout=120)
        return [_outcome(log.read_text()) for log in logs]

    yield run
    for child in started:
        if child.poll() is None:
            child.kill()
            child.wait(30)


def _outcome(output: str) -> dict[str, Any]:
    for line in reversed(output.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    return {"outcome": "no-output", "output": output[-2000:]}


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
