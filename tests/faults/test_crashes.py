"""A task that kills its worker process costs only its own job, not the jobs prefetched with it.

Issue 9, case 7: prefetched jobs were charged an attempt at claim time, so when a neighbour
killed the process (``os._exit``, a segfault) they were rescued as lost and, with
``max_attempts=1``, dead-lettered without ever running.
"""

from __future__ import annotations

import pytest

from django_jobs.models import Job
from tests import hostile_tasks, tasks
from tests.conftest import wait_for
from tests.faults.support import dead, describe_jobs, runs_by_key, settled

pytestmark = pytest.mark.postgres

SETTLE_SECONDS = 90


def test_a_crash_costs_only_the_job_that_crashed(start_worker):
    crasher = hostile_tasks.exits_the_process.using(priority=100).enqueue().id  # max_attempts=1
    neighbours = [f"neighbour-{i}" for i in range(5)]
    neighbour_ids = [tasks.record.using(max_attempts=1).enqueue(key).id for key in neighbours]
    first = start_worker("--concurrency", "1", "--prefetch", "5")  # claims all 6 at once
    wait_for(
        lambda: first.poll() is not None,
        timeout=SETTLE_SECONDS,
        what="the crashing task to end its worker",
        describe=lambda: (describe_jobs(), first.output()[-2000:]),
    )
    assert runs_by_key(neighbours) == {}, "a neighbour ran before the crash: the test is moot"
    start_worker("--concurrency", "1")
    wait_for(
        lambda: settled([crasher, *neighbour_ids]),
        timeout=SETTLE_SECONDS,
        what="the crashed job and its neighbours to settle after the restart",
        describe=describe_jobs,
    )
    neighbour_rows = Job.objects.filter(id__in=neighbour_ids)
    assert [(j.status, j.attempts, j.errors) for j in neighbour_rows] == [("done", 1, [])] * 5, (
        describe_jobs()
    )
    assert runs_by_key(neighbours) == dict.fromkeys(neighbours, 1)
    dead_job = dead(crasher)
    assert dead_job is not None, describe_jobs([crasher])
    assert dead_job.exception_class.endswith("WorkerLostError")
    assert dead_job.attempts == 1
