"""A unique job enqueued from tasks running in three real ``manage.py runworker`` processes.

Sixty jobs, spread over the workers, each enqueue ``sync_account(42)`` (``unique_for`` an hour)
while the workers also run it (ahead of them, by priority): whether it is queued, running or done
by then, every enqueue gets the same job, and exactly one exists.
"""

import signal

import pytest

from django_jobs.models import Job, JobStatus
from tests import tasks
from tests.conftest import wait_for
from tests.models import Execution

pytestmark = pytest.mark.postgres

WORKERS, CONCURRENCY, ENQUEUERS = 3, 2, 60


def test_enqueues_from_three_workers_agree_on_one_unique_job(start_worker):
    workers = [
        start_worker("--concurrency", str(CONCURRENCY), "--worker-id", f"w{n}")
        for n in range(WORKERS)
    ]
    for proc in workers:
        proc.wait_until_started()
    ids = [tasks.enqueue_unique_sync.enqueue(f"e{n}").id for n in range(ENQUEUERS)]
    wait_for(
        lambda: (
            Job.objects.filter(id__in=ids, status=JobStatus.DONE).count() == ENQUEUERS
            and not Job.objects.filter(task_path="tests.tasks.sync_account")
            .exclude(status=JobStatus.DONE)
            .exists()
        ),
        timeout=240,
        what="every enqueuer and the unique job to finish",
    )
    for proc in workers:
        proc.send_signal(signal.SIGTERM)
    for proc in workers:
        code, out = proc.finish(timeout=60)
        assert code == 0, out[-3000:]
    [unique] = Job.objects.filter(task_path="tests.tasks.sync_account")
    got = set(Execution.objects.filter(key__startswith="e").values_list("attempt", flat=True))
    assert got == {unique.id}
    assert len(set(Execution.objects.values_list("worker_pid", flat=True))) > 1
    # Most enqueues ran once the unique job was done: the window, not the live key, held.
    assert Job.objects.filter(id__in=ids, started_at__gt=unique.finished_at).exists()
