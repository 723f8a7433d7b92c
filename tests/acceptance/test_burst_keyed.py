"""``runworker --burst`` drains keyed jobs to the end: a claim that took jobs is never taken for
one that found nothing, however quickly those jobs were done (the benchmark's keyed drain once
saw a burst worker exit after 154 of 1,000)."""

from __future__ import annotations

import pytest

from django_jobs import enqueue_many
from django_jobs.models import Job, JobStatus
from tests import tasks

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("keys", [10, 100])
def test_a_burst_worker_runs_every_quick_keyed_job_before_it_exits(start_worker, keys: int):
    # A race with the jobs' own end: before the fix, about half of these drains stopped short.
    for drain in range(3):
        Job.objects.all().delete()
        for key in range(keys):
            task = tasks.noop.using(concurrency_key=f"key-{key}", concurrency_limit=1)
            enqueue_many(task, [()] * (1000 // keys))
        code, out = start_worker("--burst").finish(timeout=120)
        assert code == 0, out[-3000:]
        done = Job.objects.filter(status=JobStatus.DONE).count()
        assert done == 1000, f"drain {drain}: {done} of 1000 done at exit:\n{out[-2000:]}"
