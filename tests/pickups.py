"""An idle worker picking up jobs one at a time, for tests of what each pickup costs."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django_jobs.models import Job, JobStatus
from django_jobs.worker import Worker
from tests import tasks
from tests.conftest import wait_for


@contextmanager
def idle_worker(ready: Callable[[], object]) -> Iterator[Worker]:
    """Run a worker (2 slots, a 30 s poll) in a thread until the block ends; enter the block
    once ``ready()`` is true (within 60 s)."""
    worker = Worker(concurrency=2, poll_interval_seconds=30)
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        wait_for(ready, timeout=60, what="the worker to be ready")
        yield worker
    finally:
        worker.request_stop("test")
        thread.join(60)


def pick_up_one_by_one(count: int) -> None:
    """Enqueue ``count`` no-op jobs, each once the one before is done: each is NOTIFYed,
    claimed and run on its own."""
    for _ in range(count):
        job = tasks.noop.enqueue()
        wait_for(
            lambda job=job: Job.objects.filter(id=job.id, status=JobStatus.DONE).exists(),
            timeout=30,
            what=f"job {job.id} done",
        )
