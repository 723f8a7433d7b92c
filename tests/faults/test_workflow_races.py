"""A workflow's fan-in is exactly once when its last members finish at the same instant.

Two real processes (``tests/faults/race.py complete_member``) block on an advisory lock the test
holds; each then completes its own member of the same groups. Whatever the interleaving, every
group's callback is inserted once, with every member's result. Then a member dead-lettered by a
real worker, replayed by ``manage.py jobs replay``, resumes its workflow.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import django_jobs
from django_jobs import engine
from django_jobs.models import DeadJob, Job, JobStatus, Workflow
from tests import tasks
from tests.faults.barrier import Racers
from tests.models import Execution

pytestmark = pytest.mark.postgres

BARRIER_KEY = 90_012
GROUPS = 20


@pytest.fixture
def race_each(
    transactional_db: None, tmp_path: Path
) -> Iterator[Callable[[str, list[list[int]]], list[dict[str, Any]]]]:
    """Run ``step`` in one process per list of ids, all released at once; return outcomes."""
    racers = Racers(tmp_path, BARRIER_KEY)
    yield lambda step, id_lists: racers.run([(step, ids) for ids in id_lists])
    racers.close()


def test_last_two_members_finishing_at_once_insert_the_callback_once(race_each):
    workflows = [
        django_jobs.group(
            [tasks.square.s(1), tasks.square.s(2)], then=tasks.collect.s(key=f"cb-{n}")
        )
        for n in range(GROUPS)
    ]
    claimed = engine.claim(
        worker_id="w", limit=2 * GROUPS, lease_seconds=300, start_first=2 * GROUPS
    )
    assert len(claimed) == 2 * GROUPS
    firsts = [j.id for j in claimed if j.workflow_position == 0]
    seconds = [j.id for j in claimed if j.workflow_position == 1]

    outcomes = race_each("complete_member", [firsts, seconds])

    assert [o["outcome"] for o in outcomes] == ["ok", "ok"], outcomes
    assert all(v == "done" for o in outcomes for v in o["value"]), outcomes
    for workflow in workflows:
        callbacks = list(Job.objects.filter(workflow=workflow, workflow_position=2))
        assert len(callbacks) == 1, f"workflow {workflow.id}: {len(callbacks)} callbacks"
        [first, second] = Job.objects.filter(workflow=workflow, workflow_position__lt=2).order_by(
            "workflow_position"
        )
        assert callbacks[0].args == [[first.id, second.id]]
        workflow.refresh_from_db()
        assert workflow.pending == 1


def test_dead_member_replayed_from_the_command_resumes_its_group(start_worker, start_command):
    workflow = django_jobs.group(
        [tasks.square.s(3), tasks.fails_until_allowed.s("x")],
        then=tasks.chain_step.s("end"),
    )
    code, out = start_worker("--burst").finish(timeout=120)
    assert code == 0, out[-2000:]
    dead = DeadJob.objects.get(workflow_id=workflow.id)
    assert dead.workflow_position == 1
    assert not Job.objects.filter(workflow=workflow, workflow_position=2).exists()
    assert django_jobs.get_workflow_status(workflow.id).state == "blocked"

    Execution.objects.create(key="allow-x")
    code, out = start_command("jobs", "replay", str(dead.job_id)).finish(timeout=120)
    assert code == 0, out[-2000:]
    code, out = start_worker("--burst").finish(timeout=120)
    assert code == 0, out[-2000:]

    callback = Job.objects.get(workflow=workflow, workflow_position=2)
    assert callback.status == JobStatus.DONE
    assert (callback.args, callback.result) == ([[9, "x"], "end"], [9, "x", "end"])
    assert Execution.objects.filter(key="step-end").count() == 1
    assert Workflow.objects.get(id=workflow.id).pending == 0


def test_two_processes_completing_the_same_step_at_once_insert_the_next_step_once(race_each):
    chains = [
        django_jobs.chain(tasks.chain_step.s(None, f"c{n}"), tasks.chain_step.s("next"))
        for n in range(GROUPS)
    ]
    claimed = engine.claim(worker_id="w", limit=GROUPS, lease_seconds=300, start_first=GROUPS)
    ids = [j.id for j in claimed]
    assert len(ids) == GROUPS

    # Both hold the same lease token: as a worker whose lease was taken over by another would.
    outcomes = race_each("complete_member", [ids, ids])

    assert [o["outcome"] for o in outcomes] == ["ok", "ok"], outcomes
    fates = list(zip(outcomes[0]["value"], outcomes[1]["value"], strict=True))
    assert all(sorted(pair) == ["done", "lost"] for pair in fates), fates
    for workflow in chains:
        assert Job.objects.filter(workflow=workflow, workflow_position=1).count() == 1
        workflow.refresh_from_db()
        assert workflow.pending == 1
