"""A worker with Django's connection pool: its job threads borrow a connection per job, so the
pool's size bounds its connections, not ``--concurrency``."""

import signal
import threading
import time

import pytest
from django.db import connections, transaction

from django_jobs.models import Job, JobStatus
from tests import tasks
from tests.conftest import wait_for
from tests.models import Execution
from tests.settings_pool import APPLICATION_NAME, POOL_MAX_SIZE

pytestmark = pytest.mark.postgres
pytest.importorskip("psycopg_pool")


def backends(application_name: str) -> int:
    """Connections to the test database that gave PostgreSQL ``application_name``."""
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name = %s",
            [application_name],
        )
        return cursor.fetchone()[0]


def test_ten_job_threads_share_a_pool_of_six_and_every_job_runs_once(start_worker):
    wait_for(lambda: backends(APPLICATION_NAME) == 0, timeout=60, what="no worker left connected")
    proc = start_worker(
        "--concurrency", "10", DJANGO_SETTINGS_MODULE="tests.settings_pool"
    )  # fmt: skip
    wait_for(lambda: " started: " in proc.output(), timeout=120, what="worker start")
    most, stop = [0], threading.Event()

    def sample() -> None:
        while not stop.is_set():
            most[0] = max(most[0], backends(APPLICATION_NAME))
            time.sleep(0.02)
        connections["default"].close()

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        with transaction.atomic():
            ids = [tasks.sleep_then_record.enqueue(f"p{i}", 0.2).id for i in range(40)]
        wait_for(
            lambda: Job.objects.filter(id__in=ids, status=JobStatus.DONE).count() == 40,
            timeout=120,
            what="40 jobs done by ten threads on six pooled connections",
            describe=lambda: proc.output()[-3000:],
        )
    finally:
        stop.set()
        sampler.join()
    proc.send_signal(signal.SIGTERM)
    code, out = proc.finish(timeout=60)
    assert code == 0, out[-3000:]
    assert Execution.objects.count() == 40
    assert len(set(Execution.objects.values_list("key", flat=True))) == 40
    # The pool's connections, and the listener's own (LISTEN never goes into the pool).
    assert most[0] <= POOL_MAX_SIZE + 1, most[0]
    assert most[0] >= 4, f"the sampler saw {most[0]} connections: it did not see the worker"
