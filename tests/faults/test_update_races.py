"""``update_queued`` racing a worker's claim in real processes released at the same instant.

The guarantee: a job that a claim took is never changed by the update afterwards (the update's
WHERE ``status = 'queued'`` re-checks each row after the claim's commit). A job may be updated
and then claimed; it is never claimed and then updated.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from django_jobs.models import Job, JobStatus
from tests import tasks
from tests.faults.barrier import Racers

pytestmark = pytest.mark.postgres

BARRIER_KEY = 90_012
JOBS = 300
ROUNDS = 3


@pytest.fixture
def race_steps(
    transactional_db: None, tmp_path: Path
) -> Iterator[Callable[..., list[dict[str, Any]]]]:
    """Run ``race_steps((step, ids), ...)``, each step in its own process, released at once."""
    racers = Racers(tmp_path, BARRIER_KEY)
    yield lambda *steps: racers.run(steps)
    racers.close()


def test_an_update_racing_a_claim_never_changes_a_job_the_claim_took(race_steps):
    claimed_any = 0
    for _ in range(ROUNDS):
        ids = [tasks.noop.enqueue().id for _ in range(JOBS)]
        # The claim takes up to half the jobs (fewer: it skips rows the update holds locked);
        # the update tries to change all of them.
        claimed, updated = race_steps(("claim", ids[: JOBS // 2]), ("update", ids))
        assert claimed["outcome"] == updated["outcome"] == "ok", (claimed, updated)
        seen = {job_id: priority for job_id, priority in claimed["value"]}
        claimed_any += len(seen)
        rows = {job.id: job for job in Job.objects.filter(id__in=ids)}
        for job_id, priority_at_claim in seen.items():
            row = rows[job_id]
            assert row.status == JobStatus.RUNNING
            # Claimed before the update: left at 0. Updated first, then claimed: 7 at the claim.
            assert row.priority == priority_at_claim, (job_id, priority_at_claim, row.priority)
        queued = [row for row in rows.values() if row.status == JobStatus.QUEUED]
        assert all(row.priority == 7 for row in queued)
        assert sum(row.priority == 7 for row in rows.values()) == updated["value"]
        print(f"\nround: {len(seen)} claimed, {updated['value']} updated, "
              f"{sum(p == 7 for p in seen.values())} of them before the claim")  # fmt: skip
        Job.objects.filter(id__in=ids).delete()
    assert claimed_any > 0, "no claim took a job in any round: the race proved nothing"


@pytest.mark.parametrize("racers", [3])
def test_unique_enqueues_at_the_same_instant_create_one_job(race_steps, racers):
    outcomes = race_steps(*[("unique", [])] * racers)
    assert [o["outcome"] for o in outcomes] == ["ok"] * racers, outcomes
    assert len({o["value"] for o in outcomes}) == 1, outcomes
    assert Job.objects.filter(task_path="tests.tasks.sync_account").count() == 1


def test_unique_enqueues_racing_a_done_job_in_its_window_return_it(race_steps):
    done = tasks.sync_account.enqueue(42)
    Job.objects.filter(id=done.id).update(status=JobStatus.DONE, finished_at=timezone.now())
    outcomes = race_steps(("unique", []), ("unique", []))
    assert [o["value"] for o in outcomes] == [done.id, done.id], outcomes
    assert Job.objects.filter(task_path="tests.tasks.sync_account").count() == 1


def test_debounces_at_the_same_instant_leave_one_queued_job_with_one_of_their_calls(race_steps):
    outcomes = race_steps(("debounce", []), ("debounce", []), ("debounce", []))
    assert [o["outcome"] for o in outcomes] == ["ok"] * 3, outcomes
    assert len({o["value"] for o in outcomes}) == 1, outcomes
    [job] = Job.objects.filter(task_path="tests.tasks.reindex")
    assert job.status == JobStatus.QUEUED and len(job.args[0]) == 1


def test_a_debounce_racing_a_claim_changes_the_queued_job_or_adds_one_never_the_running_one(
    race_steps,
):
    replaced = added = skipped = 0
    for _ in range(ROUNDS * 2):
        Job.objects.all().delete()
        first = tasks.reindex.enqueue([0])
        Job.objects.filter(id=first.id).update(run_at=timezone.now())  # ready for the claim
        claimed, debounced = race_steps(("claim_calls", [first.id]), ("debounce", []))
        assert claimed["outcome"] == debounced["outcome"] == "ok", (claimed, debounced)
        if not claimed["value"]:
            # The claim skipped the row the debounce held locked: the job stays queued, replaced.
            assert debounced["value"] == first.id
            row = Job.objects.get(id=first.id)
            assert row.status == JobStatus.QUEUED and row.args != [[0]]
            skipped += 1
            continue
        [(claimed_id, args_at_claim)] = claimed["value"]
        assert claimed_id == first.id
        running = Job.objects.get(id=first.id)
        assert running.status == JobStatus.RUNNING
        # Whichever came first, the running job runs the call it was claimed with.
        assert running.args == args_at_claim, (running.args, args_at_claim)
        if debounced["value"] == first.id:  # the debounce replaced the call before the claim
            assert args_at_claim != [[0]]
            assert Job.objects.filter(task_path=first.task_path).count() == 1
            replaced += 1
        else:  # the claim came first: the new call is a new queued job
            new = Job.objects.get(id=debounced["value"])
            assert new.status == JobStatus.QUEUED and new.args != [[0]]
            assert args_at_claim == [[0]]
            added += 1
    print(f"\ndebounce before the claim {replaced}x, after it {added}x, skipped {skipped}x")
