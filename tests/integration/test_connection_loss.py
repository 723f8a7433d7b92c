"""A worker whose connections were cut mid-life does not spend a job's attempt finding out."""

import threading

import pytest
from django.db import connection

from django_jobs.models import Job, JobStatus
from django_jobs.worker import Worker
from tests import tasks
from tests.conftest import wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def terminate_other_backends() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def test_jobs_after_terminated_connections_do_not_lose_an_attempt():
    worker = Worker(concurrency=3)
    worker.idle_check_seconds = 0.0  # check before every job, so the test needs no idle wait
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        warm = [tasks.record.enqueue(f"warm-{i}") for i in range(6)]
        wait_for(lambda: Job.objects.filter(status=JobStatus.DONE).count() == len(warm))
        assert terminate_other_backends() > 0
        after = [tasks.record.enqueue(f"after-{i}") for i in range(6)]
        ids = [j.id for j in after]
        wait_for(lambda: Job.objects.filter(id__in=ids, status=JobStatus.DONE).count() == 6)
        assert set(Job.objects.filter(id__in=ids).values_list("attempts", flat=True)) == {1}
    finally:
        worker.request_stop()
        thread.join(30)
