"""cancel and run_now: guarded UPDATEs, whoever else is at the row.

cancel ends queued jobs at once and asks started ones to stop; run_now touches queued jobs only.
"""

import datetime as dt
import threading

import pytest
from django.db import connection, transaction
from django.utils import timezone

from django_jobs import get_status
from django_jobs.engine import cancel, claim, run_now
from django_jobs.models import Job, JobStatus
from django_jobs.worker import Worker
from tests import tasks
from tests.conftest import wait_for
from tests.models import Execution

pytestmark = pytest.mark.django_db(transaction=True)


def test_cancelled_job_never_runs_and_says_so():
    job = tasks.record.enqueue("never")
    assert cancel([job]).cancelled == [job.id]
    assert Worker(burst=True).run() == 0
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED and job.finished_at is not None
    assert not Execution.objects.filter(key="never").exists()
    assert get_status(job.id).state == "cancelled"


def test_cancel_takes_a_queryset_or_ids_cancels_queued_jobs_and_asks_running_ones():
    queued = tasks.add.enqueue(1, 1)
    later = tasks.add.using(delay=3600).enqueue(1, 2)
    done = tasks.add.enqueue(1, 3)
    Job.objects.filter(id=done.id).update(status=JobStatus.DONE, finished_at=timezone.now())
    running = tasks.add.enqueue(1, 4)
    Job.objects.filter(id=running.id).update(status=JobStatus.RUNNING, started_at=timezone.now())

    report = cancel(Job.objects.filter(id__in=[queued.id, done.id, running.id]))
    assert (report.cancelled, report.requested) == ([queued.id], [running.id])
    assert cancel([later.id]).cancelled == [later.id]
    assert len(cancel([queued, later, running])) == 0  # Repeating it changes nothing.
    assert Job.objects.get(id=running.id).cancel_requested_at is not None
    statuses = dict(Job.objects.values_list("id", "status"))
    assert statuses == {
        queued.id: JobStatus.CANCELLED,
        later.id: JobStatus.CANCELLED,
        done.id: JobStatus.DONE,
        running.id: JobStatus.RUNNING,
    }


def test_cancel_frees_the_idempotency_key():
    first = tasks.add.using(idempotency_key="invoice-7").enqueue(1, 2)
    assert tasks.add.using(idempotency_key="invoice-7").enqueue(1, 2).id == first.id
    cancel([first])
    second = tasks.add.using(idempotency_key="invoice-7").enqueue(1, 2)
    assert second.id != first.id and second.status == JobStatus.QUEUED


@pytest.mark.postgres
def test_cancel_waits_for_a_claim_that_holds_the_row_then_asks_the_started_job():
    job = tasks.add.enqueue(2, 2)
    claimed, release = threading.Event(), threading.Event()

    def claim_and_hold():
        try:
            with transaction.atomic():
                locked = Job.objects.select_for_update().get(id=job.id)
                Job.objects.filter(id=locked.id).update(
                    status=JobStatus.RUNNING, started_at=timezone.now()
                )
                claimed.set()
                release.wait(30)
        finally:
            connection.close()

    holder = threading.Thread(target=claim_and_hold)
    holder.start()
    assert claimed.wait(30)
    result: list = []

    def cancel_in_thread():
        try:
            result.append(cancel([job.id]))
        finally:
            connection.close()

    canceller = threading.Thread(target=cancel_in_thread)
    canceller.start()
    # The UPDATE waits on the row lock; once the claim commits it re-reads the row, finds it
    # running and started, and asks it to stop instead of cancelling it.
    wait_for(_waiting_on_lock, what="the cancel to wait on the claim's row lock")
    release.set()
    holder.join(30)
    canceller.join(30)
    assert [(r.cancelled, r.requested) for r in result] == [([], [job.id])]
    assert Job.objects.get(id=job.id).status == JobStatus.RUNNING


def _waiting_on_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND datname = current_database()"
        )
        return cursor.fetchone()[0] > 0


def test_run_now_makes_a_scheduled_job_ready():
    job = tasks.record.using(delay=dt.timedelta(hours=1)).enqueue("soon")
    assert claim(worker_id="w", limit=1, lease_seconds=30) == []
    assert run_now([job]) == 1
    job.refresh_from_db()
    assert job.run_at <= timezone.now()
    assert Worker(burst=True).run() == 0
    assert Execution.objects.filter(key="soon").exists()


def test_run_now_cuts_a_retry_backoff_short():
    job = tasks.fails_until.enqueue(key="retry", succeed_on=2)
    claimed = claim(worker_id="w", limit=1, lease_seconds=30)
    assert [j.id for j in claimed] == [job.id]
    # What a failed first attempt leaves: queued again, an error, run_at an hour away.
    Job.objects.filter(id=job.id).update(
        status=JobStatus.QUEUED,
        run_at=timezone.now() + dt.timedelta(hours=1),
        lease_token=None,
        errors=[{"attempt": 1, "exception_class": "builtins.ConnectionError", "message": "x",
                 "traceback": "", "failed_at": timezone.now().isoformat()}],
    )  # fmt: skip
    assert run_now(Job.objects.filter(id=job.id)) == 1
    assert Worker(burst=True).run() == 0
    job.refresh_from_db()
    assert (job.status, job.attempts, job.result) == (JobStatus.DONE, 2, 2)


def test_run_now_leaves_ready_and_finished_jobs_alone():
    ready = tasks.add.enqueue(1, 1)
    done = tasks.add.using(delay=60).enqueue(1, 2)
    Job.objects.filter(id=done.id).update(status=JobStatus.DONE)
    assert run_now([ready, done]) == 0
    assert Job.objects.get(id=ready.id).run_at == ready.run_at
    assert Job.objects.get(id=done.id).run_at == done.run_at
