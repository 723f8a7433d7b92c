"""``update_queued`` hammering jobs that three real ``manage.py runworker`` processes claim.

The test keeps changing the priority of every job it enqueued while the workers take them; each
job checks that its priority did not change while it ran. The guard (``status = 'queued'``)
means none did, however the updates and the claims interleave, and the updates still reached
the jobs that were queued.
"""

import itertools
import signal

import pytest

from django_jobs import enqueue_many, update_queued
from django_jobs.models import DeadJob, Job, JobStatus
from tests import tasks
from tests.conftest import wait_for

pytestmark = pytest.mark.postgres

WORKERS, CONCURRENCY, JOBS = 3, 2, 150


def test_updates_never_change_a_job_that_three_workers_claimed(start_worker):
    workers = [
        start_worker("--concurrency", str(CONCURRENCY), "--worker-id", f"w{n}")
        for n in range(WORKERS)
    ]
    for proc in workers:
        proc.wait_until_started()
    # All at once (one transaction), each long enough that many wait while the updates run.
    ids = enqueue_many(tasks.priority_holds, [(0.1,)] * JOBS)
    priorities = itertools.cycle(range(-50, 51, 7))
    changed = []

    def hammer() -> bool:
        changed.append(update_queued(ids, priority=next(priorities)))
        finished = Job.objects.filter(id__in=ids, status=JobStatus.DONE).count()
        return finished + DeadJob.objects.filter(job_id__in=ids).count() == JOBS

    wait_for(hammer, timeout=240, what="every job to finish under the updates")
    for proc in workers:
        proc.send_signal(signal.SIGTERM)
    for proc in workers:
        code, out = proc.finish(timeout=60)
        assert code == 0, out[-3000:]
    dead = list(DeadJob.objects.filter(job_id__in=ids).values_list("message", flat=True))
    assert dead == [], dead[:5]
    assert max(changed) > 0 and len(changed) > 10, changed[:20]
    workers_seen = set(Job.objects.filter(id__in=ids).values_list("worker_id", flat=True))
    assert workers_seen == {f"w{n}" for n in range(WORKERS)}
