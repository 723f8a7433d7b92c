"""Chains and groups under three real ``manage.py runworker`` processes.

A 1,000-member group is spread over the three workers, which finish members concurrently; its
callback runs exactly once, with all 1,000 results in member order. Chains of several steps,
enqueued side by side, run each step once and in order, the steps landing on any worker.
"""

import itertools
import signal

import pytest

import django_jobs
from django_jobs.models import Job, JobStatus, Workflow
from tests import tasks
from tests.conftest import wait_for
from tests.models import Execution

pytestmark = pytest.mark.postgres

WORKERS, CONCURRENCY = 3, 2
MEMBERS = 1000
CHAINS, STEPS = 6, 5


def start_workers(start_worker):
    workers = [
        start_worker("--concurrency", str(CONCURRENCY), "--worker-id", f"w{n}")
        for n in range(WORKERS)
    ]
    for proc in workers:
        proc.wait_until_started()
    return workers


def stop(workers) -> None:
    for proc in workers:
        proc.send_signal(signal.SIGTERM)
    for proc in workers:
        code, out = proc.finish(timeout=60)
        assert code == 0, out[-3000:]


def test_thousand_member_group_runs_its_callback_once_with_every_result(start_worker):
    workers = start_workers(start_worker)
    workflow = django_jobs.group(
        [tasks.square.s(n) for n in range(MEMBERS)], then=tasks.collect.s(key="fan-in")
    )
    callback = Job.objects.filter(workflow=workflow, workflow_position=MEMBERS)
    wait_for(
        lambda: callback.filter(status=JobStatus.DONE).exists(),
        timeout=600,
        what="the callback to run",
        describe=lambda: django_jobs.get_workflow_status(workflow.id),
    )
    members = Job.objects.filter(workflow=workflow, workflow_position__lt=MEMBERS)
    # The members really ran side by side on every worker.
    assert set(members.values_list("worker_id", flat=True)) == {f"w{n}" for n in range(WORKERS)}
    [job] = callback
    assert job.args == [[n * n for n in range(MEMBERS)]]
    assert job.result == sum(n * n for n in range(MEMBERS))
    stop(workers)  # anything left to run has run: a second callback would show now
    assert callback.count() == 1
    runs = Execution.objects.filter(key="fan-in")
    assert list(runs.values_list("attempt", flat=True)) == [MEMBERS]  # one run, 1,000 results
    workflow.refresh_from_db()
    assert (workflow.pending, workflow.finished_at is not None) == (0, True)
    status = django_jobs.get_workflow_status(workflow.id)
    assert (status.state, status.done, status.total) == ("done", MEMBERS + 1, MEMBERS + 1)


def test_chains_run_each_step_once_in_order_across_workers(start_worker):
    workers = start_workers(start_worker)
    chains = [
        django_jobs.chain(
            tasks.chain_step.s(None, f"c{c}-s0"),
            *[tasks.chain_step.s(f"c{c}-s{s}") for s in range(1, STEPS)],
        )
        for c in range(CHAINS)
    ]
    wait_for(
        lambda: Workflow.objects.filter(id__in=[w.id for w in chains], pending=0).count() == CHAINS,
        timeout=300,
        what="every chain to finish",
        describe=lambda: [django_jobs.get_workflow_status(w.id) for w in chains],
    )
    stop(workers)
    seen_workers = set()
    for c, workflow in enumerate(chains):
        steps = list(Job.objects.filter(workflow=workflow).order_by("workflow_position"))
        names = [f"c{c}-s{s}" for s in range(STEPS)]
        assert [s.workflow_position for s in steps] == list(range(STEPS))
        assert steps[-1].result == names
        for n, (before, after) in enumerate(itertools.pairwise(steps)):
            assert after.args[0] == names[: n + 1]
            assert before.finished_at <= after.enqueued_at <= after.started_at
        seen_workers |= {s.worker_id for s in steps}
        for name in names:
            assert Execution.objects.filter(key=f"step-{name}").count() == 1, name
    assert len(seen_workers) > 1, seen_workers


def test_a_worker_killed_during_the_fan_in_leaves_one_callback_with_every_result(start_worker):
    members = 300
    workers = start_workers(start_worker)
    workflow = django_jobs.group(
        [tasks.slow_square.s(n, 0.02) for n in range(members)],
        then=tasks.collect.s(key="after-kill"),
    )
    done = Job.objects.filter(workflow=workflow, status=JobStatus.DONE)
    wait_for(lambda: done.count() >= members // 3, timeout=300, what="a third of the members")
    workers[0].kill()  # SIGKILL: its running members are rescued once their leases expire
    callback = Job.objects.filter(workflow=workflow, workflow_position=members)
    wait_for(
        lambda: callback.filter(status=JobStatus.DONE).exists(),
        timeout=600,
        what="the callback to run after the kill",
        describe=lambda: django_jobs.get_workflow_status(workflow.id),
    )
    stop(workers[1:])
    [job] = callback
    assert job.args == [[n * n for n in range(members)]]
    assert list(Execution.objects.filter(key="after-kill").values_list("attempt", flat=True)) == [
        members
    ]
    workflow.refresh_from_db()
    assert workflow.pending == 0
    # Every member ran at least once; those the killed worker held may have run twice, and
    # each still counted once.
    runs = Execution.objects.filter(key__startswith="square-")
    assert set(runs.values_list("key", flat=True)) == {f"square-{n}" for n in range(members)}
    print(f"\nmember runs: {runs.count()} for {members} members")
