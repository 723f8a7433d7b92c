"""Every exception a task raises is a failed attempt, ``BaseException`` subclasses included.

Issue 9, case 3: a ``KeyboardInterrupt``, ``GeneratorExit``, ``asyncio.CancelledError`` or a
custom ``BaseException`` killed the slot thread; the job stayed running with its lease renewed,
and with ``--concurrency 1`` the queue behind it stopped.
"""

from __future__ import annotations

import signal

import pytest

from django_jobs.models import Job, JobStatus
from tests import hostile_tasks, tasks
from tests.conftest import wait_for
from tests.faults.support import dead, describe_jobs, done_count, settled

pytestmark = pytest.mark.postgres

EXPECTED_CLASSES = {
    "KeyboardInterrupt": "builtins.KeyboardInterrupt",
    "GeneratorExit": "builtins.GeneratorExit",
    "CancelledError": "asyncio.exceptions.CancelledError",
    "SystemExit": "builtins.SystemExit",
    "Doom": "tests.hostile_tasks.Doom",
}

# 5 x 2 failed attempts and 10 quick jobs, one at a time, plus a worker's start-up on a loaded
# 2-core machine.
SETTLE_SECONDS = 90


def test_base_exceptions_are_failed_attempts_and_the_queue_behind_them_runs(start_worker):
    raising = {
        name: hostile_tasks.raises_base_exception.enqueue(name).id  # max_attempts=2
        for name in EXPECTED_CLASSES
    }
    behind = [tasks.record.enqueue(f"behind-{i}").id for i in range(10)]
    worker = start_worker("--concurrency", "1")
    wait_for(
        lambda: settled([*raising.values(), *behind]),
        timeout=SETTLE_SECONDS,
        what="the raising jobs and the 10 behind them to settle",
        describe=describe_jobs,
    )
    for name, job_id in raising.items():
        dead_job = dead(job_id)
        assert dead_job is not None, (name, describe_jobs([job_id]))
        assert dead_job.exception_class == EXPECTED_CLASSES[name]
        assert dead_job.attempts == 2
        assert [e["exception_class"] for e in dead_job.errors] == [EXPECTED_CLASSES[name]] * 2
    assert done_count(behind) == 10, describe_jobs(behind)
    worker.send_signal(signal.SIGTERM)
    code, out = worker.finish(timeout=60)
    assert code == 0, out[-3000:]
    assert not Job.objects.filter(status=JobStatus.RUNNING).exists(), describe_jobs()
