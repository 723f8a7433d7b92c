"""Real ``manage.py runworker`` processes prune: done jobs go, leadership survives a SIGKILL."""

from __future__ import annotations

import json
import signal

import pytest
from django.db import transaction

from django_jobs import engine, leadership
from django_jobs.models import Job
from tests import tasks
from tests.conftest import wait_for
from tests.models import Execution

pytestmark = pytest.mark.postgres

#: Done jobs go a second after they finish; the leader looks twice a second. LEASE_SECONDS is
#: the test settings' 3 s, so a dead leader's role is free 3 s after its last renewal.
FAST_PRUNE = json.dumps({"DONE_RETENTION_SECONDS": 1, "PRUNE_INTERVAL_SECONDS": 0.5})


def _holder() -> str | None:
    row = leadership.holder(leadership.PRUNER)
    return None if row is None else row.worker_id


def _enqueue(prefix: str, count: int) -> set[int]:
    with transaction.atomic():
        return {tasks.record.enqueue(f"{prefix}-{i}").id for i in range(count)}


def _ran(prefix: str) -> int:
    return Execution.objects.filter(key__startswith=f"{prefix}-").count()


def test_done_jobs_disappear_seconds_after_they_finish(start_worker):
    worker = start_worker("--concurrency", "2", DJANGO_JOBS_TEST_OVERRIDES=FAST_PRUNE)
    worker.wait_until_started()
    ids = _enqueue("short-lived", 20)
    cancelled = tasks.record.using(delay=3600).enqueue("never")
    engine.cancel([cancelled.id])
    wait_for(lambda: _ran("short-lived") == 20, timeout=120, what="all 20 jobs to run")
    wait_for(
        lambda: not Job.objects.filter(id__in=ids).exists(),
        timeout=60,
        what="the done jobs to be pruned",
        describe=lambda: list(Job.objects.filter(id__in=ids).values_list("id", "status")),
    )
    # Cancelled jobs keep their own retention (7 days by default).
    assert Job.objects.filter(id=cancelled.id).exists()
    assert "now holds the pruner role" in worker.output()
    worker.send_signal(signal.SIGTERM)
    code, out = worker.finish(timeout=60)
    assert code == 0, out[-3000:]
    assert _holder() is None, "a worker that stopped cleanly kept the pruner role"


def test_another_worker_takes_over_pruning_when_the_leader_is_killed(start_worker):
    workers = {
        f"w{i}": start_worker(
            "--concurrency", "2", "--worker-id", f"w{i}", DJANGO_JOBS_TEST_OVERRIDES=FAST_PRUNE
        )
        for i in range(3)
    }
    for proc in workers.values():
        proc.wait_until_started()
    first = wait_for(_holder, timeout=60, what="a worker to lead the pruner")
    before = _enqueue("before", 10)
    wait_for(lambda: not Job.objects.filter(id__in=before).exists(), timeout=60,
             what="the first leader to prune")  # fmt: skip
    workers[first].proc.send_signal(signal.SIGKILL)
    workers[first].proc.wait(timeout=30)
    second = wait_for(
        lambda: (h := _holder()) not in (None, first) and h,
        timeout=60,
        what="another worker to take the pruner role over",
        describe=_holder,
    )
    assert workers[second].poll() is None
    after = _enqueue("after", 10)
    wait_for(lambda: _ran("after") == 10, timeout=120, what="the later jobs to run")
    wait_for(lambda: not Job.objects.filter(id__in=after).exists(), timeout=60,
             what="the new leader to prune", describe=_holder)  # fmt: skip
    for worker_id, proc in workers.items():
        if worker_id != first:
            proc.send_signal(signal.SIGTERM)
            code, out = proc.finish(timeout=60)
            assert code == 0, out[-3000:]
