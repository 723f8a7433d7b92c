"""Timeouts: a timed-out job is failed on its own, and a job blocked on a lock is stopped too.

Issue 9, case 4: a claim gave its whole batch one lease token and abandonment was tracked by
that token, so when a sibling of a timed-out job finished, its slot thread exited without a
replacement (or the worker died of a ``KeyError``). Case 13: a task blocked on a database row
lock was not stopped at its timeout.
"""

from __future__ import annotations

import signal
import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction

from django_jobs.models import Job, JobStatus
from tests import hostile_tasks, tasks
from tests.conftest import wait_for
from tests.faults.support import dead, describe_jobs, done_count, runs_by_key, settled
from tests.models import Execution, Order

pytestmark = pytest.mark.postgres

SETTLE_SECONDS = 90


def test_one_timed_out_job_leaves_its_batch_siblings_and_its_worker_whole(start_worker):
    slow = hostile_tasks.sleeps_past_its_timeout.using(priority=100).enqueue(30.0).id
    # Each sibling outlives the slow job's 1 s timeout, so that siblings of the same claim
    # finish after it was given up: the moment today's bookkeeping mistook them for it.
    siblings = [f"sibling-{i}" for i in range(8)]
    sibling_ids = [tasks.sleep_then_record.enqueue(key, 2.0).id for key in siblings]
    worker = start_worker("--concurrency", "3", "--prefetch", "6")  # one claim takes all 9
    wait_for(
        lambda: settled([slow, *sibling_ids]),
        timeout=SETTLE_SECONDS,
        what="the slow job and its 8 siblings to settle",
        describe=describe_jobs,
    )
    dead_job = dead(slow)
    assert dead_job is not None and dead_job.exception_class.endswith("JobTimeoutError"), (
        describe_jobs([slow])
    )
    assert done_count(sibling_ids) == 8, describe_jobs(sibling_ids)
    assert runs_by_key(siblings) == dict.fromkeys(siblings, 1)
    later = [f"later-{i}" for i in range(20)]
    later_ids = [tasks.record.enqueue(key).id for key in later]
    wait_for(
        lambda: done_count(later_ids) == 20,
        timeout=SETTLE_SECONDS,
        what="20 jobs enqueued after the timeout to be done by the same worker",
        describe=lambda: (describe_jobs(later_ids), worker.output()[-2000:]),
    )
    assert runs_by_key(later) == dict.fromkeys(later, 1)
    assert set(Execution.objects.values_list("worker_pid", flat=True)) == {worker.pid}
    out = worker.output()
    assert "Traceback" not in out and "KeyError" not in out, out[-3000:]
    worker.send_signal(signal.SIGTERM)
    worker.finish(timeout=60)
    assert not Job.objects.filter(status=JobStatus.RUNNING).exists(), describe_jobs()


def _blocked_by(pid: int) -> int:
    """Return how many backends wait on a lock that backend ``pid`` holds."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND %s = ANY(pg_blocking_pids(pid))",
            [pid],
        )
        return cursor.fetchone()[0]


class RowLockHolder:
    """Hold ``SELECT ... FOR UPDATE`` on one Order row in a thread of its own (own connection)."""

    def __init__(self, order_id: int) -> None:
        self.order_id = order_id
        self.pid = 0
        self._held = threading.Event()
        self._release = threading.Event()
        self._thread = threading.Thread(target=self._hold, daemon=True)

    def __enter__(self) -> RowLockHolder:
        self._thread.start()
        assert self._held.wait(30), "the lock holder did not get its lock"
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._release.set()
        self._thread.join(30)

    def _hold(self) -> None:
        try:
            with transaction.atomic():
                Order.objects.select_for_update().get(id=self.order_id)
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_backend_pid()")
                    self.pid = cursor.fetchone()[0]
                self._held.set()
                self._release.wait(300)
        finally:
            connection.close()


def test_a_job_blocked_on_a_row_lock_is_stopped_at_its_timeout(start_worker):
    order = Order.objects.create(reference="locked by the test")
    with RowLockHolder(order.id) as holder:
        blocked = hostile_tasks.locks_order.enqueue(order.id).id  # timeout_seconds=2
        after = tasks.record.enqueue("after-the-lock").id
        worker = start_worker("--concurrency", "1")
        wait_for(
            lambda: _blocked_by(holder.pid) > 0,
            timeout=SETTLE_SECONDS,
            what="the job to wait on the test's row lock",
            describe=lambda: describe_jobs([blocked]),
        )
        wait_for(
            lambda: dead(blocked) is not None,
            timeout=30,
            what="the blocked job to be failed at its timeout",
            describe=lambda: (describe_jobs([blocked]), worker.output()[-2000:]),
        )
        dead_job = dead(blocked)
        assert dead_job is not None and dead_job.exception_class.endswith("JobTimeoutError")
        # The timeout is the behaviour under test: 2 s, plus slack for a loaded machine.
        assert dead_job.started_at is not None
        assert dead_job.failed_at - dead_job.started_at < timedelta(seconds=2 + 10)
        wait_for(
            lambda: _blocked_by(holder.pid) == 0,
            timeout=20,
            what="no backend of the worker to be waiting on the lock any more",
        )
        wait_for(
            lambda: done_count([after]) == 1,
            timeout=30,
            what="the next job to complete while the lock is still held",
            describe=lambda: (describe_jobs([after]), worker.output()[-2000:]),
        )
