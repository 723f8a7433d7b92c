"""After SIGTERM a worker starts nothing new: prefetched jobs go back to the queue unstarted.

Found while making the chaos suite hold under load: the worker acts on SIGTERM, then stops its
LISTEN thread (a join of up to a few seconds) before it gives prefetched jobs back, and in that
window a slot that finished its job takes the next prefetched one and starts it. The chaos
drain test hid this behind jobs that slept 1.5 s; here the running job ends the moment the
worker has logged that it is stopping.
"""

from __future__ import annotations

import signal

import pytest

from django_jobs.models import Job, JobStatus
from tests import hostile_tasks, tasks
from tests.conftest import wait_for
from tests.faults.support import describe_jobs, runs_by_key

pytestmark = pytest.mark.postgres


def test_no_prefetched_job_starts_after_sigterm(start_worker, tmp_path):
    release = tmp_path / "release"
    running = hostile_tasks.record_then_wait.using(priority=100).enqueue("running", str(release))
    prefetched = [f"prefetched-{i}" for i in range(5)]
    prefetched_ids = [tasks.record.enqueue(key).id for key in prefetched]
    worker = start_worker("--concurrency", "1", "--prefetch", "5")
    worker.wait_until_started()
    wait_for(lambda: runs_by_key(["running"]), timeout=30, what="the first job to start")
    worker.send_signal(signal.SIGTERM)
    # "stopping" is the worker's log line for acting on the signal: from then on, nothing starts.
    wait_for(lambda: "stopping" in worker.output(), timeout=30, what="the worker to stop claiming")
    release.touch()
    code, out = worker.finish(timeout=60)
    assert code == 0, out[-3000:]
    assert Job.objects.get(id=running.id).status == JobStatus.DONE
    assert runs_by_key(prefetched) == {}, f"started after SIGTERM:\n{out[-3000:]}"
    rows = Job.objects.filter(id__in=prefetched_ids)
    assert {(j.status, j.attempts) for j in rows} == {(JobStatus.QUEUED, 0)}, describe_jobs()
