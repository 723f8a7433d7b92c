"""Chart rollups from real `manage.py runworker` processes: their counts add up exactly."""

import signal

import pytest
from django.db import transaction

from django_jobs import latency
from django_jobs.models import Job, JobStatus, MinuteRollup
from tests import tasks
from tests.conftest import wait_for


@pytest.mark.postgres
def test_two_worker_processes_flushing_the_same_minutes_count_every_job_once(start_worker):
    workers = [start_worker("--concurrency", "4") for _ in range(2)]
    for proc in workers:
        wait_for(lambda p=proc: " started: " in p.output(), timeout=120, what="worker start")
    with transaction.atomic():
        ids = {tasks.add.enqueue(i, i).id for i in range(600)}
        failing = {tasks.always_fails.enqueue("rollup").id for _ in range(5)}  # 3 attempts each
    wait_for(
        lambda: (
            Job.objects.filter(id__in=ids, status=JobStatus.DONE).count() == 600
            and not Job.objects.filter(id__in=failing).exists()
        ),
        timeout=240,
        what="600 jobs done and 5 dead",
    )
    # SIGTERM at once: both write their last counts at the same moment, into the same minutes.
    for proc in workers:
        proc.send_signal(signal.SIGTERM)
    for proc in workers:
        code, out = proc.finish(timeout=60)
        assert code == 0, out[-3000:]
        assert "chart counts" not in out, out[-3000:]  # no flush failed or dropped counts
    rows = list(MinuteRollup.objects.filter(queue="default"))
    assert sum(row.done for row in rows) == 600
    assert sum(row.failed for row in rows) == 15
    started = latency.merge(row.pickup_buckets for row in rows)
    assert sum(started) == 615
    workers_seen = set(Job.objects.filter(id__in=ids).values_list("worker_id", flat=True))
    assert len(workers_seen) == 2, "both workers should have taken a share"
