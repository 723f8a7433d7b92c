"""The heartbeat and rescue survive database errors that are not about the connection.

Issue 9, case 8: the heartbeat thread died on any non-connection error (a ``DataError``, a
read-only standby after failover), ending lease renewal and rescue for its worker; and rescue
orders by expiry, so every worker met the same bad row. The faults are real: a trigger in
PostgreSQL refuses every UPDATE of one chosen job row (``refuse_job_updates`` in conftest).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from django_jobs.models import Job
from tests import hostile_tasks
from tests.conftest import wait_for
from tests.faults.support import describe_jobs, done_count, runs_by_key
from tests.models import Execution

pytestmark = pytest.mark.postgres

LEASE_SECONDS = settings.DJANGO_JOBS["LEASE_SECONDS"]
SETTLE_SECONDS = 90


def _leases(ids: list[int]) -> dict[int, datetime | None]:
    return dict(Job.objects.filter(id__in=ids).values_list("id", "lease_expires_at"))


def _all_renewed_after(ids: list[int], moment: datetime) -> bool:
    """Return whether every job of ``ids`` holds a lease renewed after ``moment``.

    A renewal at time t sets the lease to t + LEASE_SECONDS, so a lease ending after
    ``moment + LEASE_SECONDS`` was written after ``moment``.
    """
    leases = _leases(ids)
    limit = moment + timedelta(seconds=LEASE_SECONDS)
    return len(leases) == len(ids) and all(e is not None and e > limit for e in leases.values())


@pytest.mark.parametrize("sqlstate", ["22000", "25006"], ids=["data-error", "read-only"])
def test_heartbeat_keeps_renewing_other_leases_while_one_row_refuses_updates(
    sqlstate, start_worker, refuse_job_updates, tmp_path
):
    release = tmp_path / "release"
    keys = ["chosen", "other-0", "other-1", "other-2"]
    ids = [hostile_tasks.record_then_wait.enqueue(key, str(release)).id for key in keys]
    chosen, others = ids[0], ids[1:]
    worker = start_worker("--concurrency", "4")
    wait_for(
        lambda: Execution.objects.count() == 4,
        timeout=SETTLE_SECONDS,
        what="all 4 jobs to be running",
        describe=describe_jobs,
    )
    drop_fault = refuse_job_updates(chosen, sqlstate)
    faulted_at = timezone.now()
    # Renewed after the fault, then again two seconds later: the leases keep moving.
    for extra_seconds in (0.0, 2.0):
        wait_for(
            lambda s=extra_seconds: _all_renewed_after(others, faulted_at + timedelta(seconds=s)),
            timeout=30,
            what=f"the other jobs' leases to be renewed {extra_seconds}s after the fault",
            describe=lambda: (_leases(others), worker.output()[-2000:]),
        )
    wait_for(
        lambda: f"UPDATE of job {chosen} refused" in worker.output(),
        timeout=30,
        what="the worker to log the refused UPDATE",
    )
    others_now = Job.objects.filter(id__in=others)
    assert {(j.status, j.attempts, len(j.errors)) for j in others_now} == {("running", 1, 0)}
    assert worker.poll() is None, worker.output()[-3000:]
    drop_fault()
    release.touch()
    wait_for(
        lambda: done_count(ids) == 4,
        timeout=SETTLE_SECONDS,
        what="every job to be done once the fault is gone",
        describe=lambda: (describe_jobs(), worker.output()[-2000:]),
    )
    assert runs_by_key(keys[1:]) == dict.fromkeys(keys[1:], 1), "another job ran twice"
    assert all(not j.errors for j in Job.objects.filter(id__in=others))


def _strand(start_worker, keys: list[str], release: Path) -> list[int]:
    """Have a real worker start one job per key, then SIGKILL it: the rows stay running."""
    ids = [hostile_tasks.record_then_wait.enqueue(key, str(release)).id for key in keys]
    victim = start_worker("--concurrency", str(len(keys)))
    wait_for(
        lambda: Execution.objects.filter(key__in=keys).count() == len(keys),
        timeout=SETTLE_SECONDS,
        what="every job to be running on the victim",
        describe=describe_jobs,
    )
    victim.kill()
    return ids


def test_rescue_skips_a_row_whose_write_fails_and_every_worker_rescues_the_others(
    start_worker, refuse_job_updates, tmp_path
):
    release = tmp_path / "release"
    keys = ["bad", "lost-0", "lost-1", "lost-2"]
    ids = _strand(start_worker, keys, release)
    bad, others = ids[0], ids[1:]
    drop_fault = refuse_job_updates(bad, "22000")
    release.touch()  # reruns finish at once
    rescuers = [start_worker("--concurrency", "2") for _ in range(2)]
    wait_for(
        lambda: done_count(others) == 3,
        timeout=SETTLE_SECONDS,
        what="the other expired jobs to be rescued and done despite the bad row",
        describe=lambda: (describe_jobs(), [w.output()[-1500:] for w in rescuers]),
    )
    # Each rescuer met the bad row (rescue orders by expiry) and went on.
    for rescuer in rescuers:
        wait_for(
            lambda r=rescuer: f"UPDATE of job {bad} refused" in r.output(),
            timeout=30,
            what=f"rescuer {rescuer.pid} to log the bad row",
        )
        assert rescuer.poll() is None, rescuer.output()[-3000:]
    drop_fault()
    wait_for(
        lambda: done_count(ids) == 4,
        timeout=SETTLE_SECONDS,
        what="the bad row to be rescued and done once the fault is gone",
        describe=lambda: (describe_jobs(), [w.output()[-1500:] for w in rescuers]),
    )
    assert runs_by_key(keys) == dict.fromkeys(keys, 2), "each ran on the victim, then once more"
