"""A task that leaves a transaction open fails, and the jobs after it on its slot keep their writes.

Issue 9, case 5: a task that entered ``atomic()`` without leaving it, or turned autocommit off,
left its slot's connection mid-transaction; the next jobs there reported done, but their rows
never committed and vanished when the worker exited.
"""

from __future__ import annotations

import signal

import pytest

from tests import hostile_tasks, tasks
from tests.conftest import wait_for
from tests.faults.support import dead, describe_jobs, done_count, runs_by_key, settled

pytestmark = pytest.mark.postgres

SETTLE_SECONDS = 90


@pytest.mark.parametrize(
    "leaking_task",
    [hostile_tasks.leaves_atomic_open, hostile_tasks.turns_autocommit_off],
    ids=["atomic-never-exited", "autocommit-off"],
)
def test_a_task_leaving_a_transaction_open_fails_and_later_jobs_on_its_slot_commit(
    leaking_task, start_worker
):
    leak = leaking_task.enqueue("leak").id  # max_attempts=1
    after = [f"after-{i}" for i in range(5)]
    after_ids = [tasks.record.enqueue(key).id for key in after]
    worker = start_worker("--concurrency", "1")  # one slot, one connection: all 6 share it
    wait_for(
        lambda: settled([leak, *after_ids]),
        timeout=SETTLE_SECONDS,
        what="the leaking job and the 5 after it to settle",
        describe=describe_jobs,
    )
    worker.send_signal(signal.SIGTERM)
    worker.finish(timeout=60)
    # Read after the worker is gone: a write left uncommitted on its connection is gone too.
    assert done_count(after_ids) == 5, describe_jobs(after_ids)
    assert runs_by_key(after) == dict.fromkeys(after, 1), "the later jobs' writes were lost"
    dead_job = dead(leak)
    assert dead_job is not None, describe_jobs([leak])
    assert dead_job.errors[-1]["exception_class"].endswith("OpenTransactionError")
    assert runs_by_key(["leak"]) == {}, "the leaking task's own writes must be rolled back"
