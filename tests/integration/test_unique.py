"""``unique_for`` and ``debounce_seconds``: one job per key past the live job, or replaced."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_jobs import engine, enqueue_many
from django_jobs.engine import claim
from django_jobs.exceptions import InvalidJobOptionsError
from django_jobs.models import DeadJob, Job, JobStatus
from django_jobs.outcome import Recorded
from tests import tasks

pytestmark = pytest.mark.django_db(transaction=True)


def finish(job: Job, *, seconds_ago: float = 0, status: str = JobStatus.DONE) -> None:
    Job.objects.filter(id=job.id).update(
        status=status, finished_at=timezone.now() - timezone.timedelta(seconds=seconds_ago)
    )


def test_a_unique_job_is_returned_while_queued_and_while_done_within_its_window():
    first = tasks.sync_account.enqueue(7)
    assert first.idempotency_key.startswith("unique:")
    assert tasks.sync_account.enqueue(7).id == first.id  # queued: the live key
    assert tasks.sync_account.enqueue(8).id != first.id  # other arguments, other key
    finish(first, seconds_ago=10)
    again = tasks.sync_account.enqueue(7)
    assert again.id == first.id and again.status == JobStatus.DONE
    assert Job.objects.filter(task_path=first.task_path, args=[7]).count() == 1


def test_past_the_window_or_after_a_dead_letter_the_key_is_free():
    first = tasks.sync_account.enqueue(7)
    finish(first, seconds_ago=3601)
    second = tasks.sync_account.enqueue(7)
    assert second.id != first.id
    # A dead-lettered job does not hold the key: its row left the job table.
    Job.objects.filter(id=second.id).delete()
    DeadJob.objects.create(
        job_id=second.id, task_path=second.task_path, queue="default", max_attempts=1,
        attempts=1, exception_class="x.Y", enqueued_at=timezone.now(),
        idempotency_key=second.idempotency_key,
    )  # fmt: skip
    assert tasks.sync_account.enqueue(7).id not in (first.id, second.id)


def test_a_cancelled_job_does_not_hold_the_key():
    first = tasks.sync_account.enqueue(7)
    finish(first, status=JobStatus.CANCELLED)
    assert tasks.sync_account.enqueue(7).id != first.id


def test_the_derived_key_ignores_keyword_order_and_a_given_key_wins():
    a = tasks.add.using(unique_for=60).enqueue(a=1, b=2)
    assert tasks.add.using(unique_for=60).enqueue(b=2, a=1).id == a.id
    keyed = tasks.add.using(unique_for=60, idempotency_key="k").enqueue(1, 2)
    assert keyed.idempotency_key == "k"
    finish(keyed)
    assert tasks.add.using(unique_for=60, idempotency_key="k").enqueue(5, 5).id == keyed.id


@pytest.mark.postgres
def test_the_done_look_up_has_an_index_path():
    # A table with history, analyzed (as autovacuum would): on an empty one any index will do.
    now = timezone.now()
    Job.objects.bulk_create(
        Job(task_path="tests.tasks.add", status=JobStatus.DONE, idempotency_key=f"key-{i}",
            finished_at=now, queue=f"q{i % 3}")
        for i in range(3000)
    )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE django_jobs_job")
        cursor.execute("SET enable_seqscan = off")
        cursor.execute(
            "EXPLAIN SELECT id FROM django_jobs_job WHERE idempotency_key = 'k' "
            "AND status = 'done' AND finished_at >= clock_timestamp() - interval '60 seconds'"
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("RESET enable_seqscan")
    assert "django_jobs_job_done_key_idx" in plan, plan


def test_a_plain_enqueue_is_still_one_statement():
    with CaptureQueriesContext(connection) as queries:
        tasks.add.enqueue(1, 2)
    assert len(queries) == 1


def test_debounce_replaces_the_queued_jobs_arguments_and_pushes_its_run_at():
    first = tasks.reindex.enqueue([1])
    assert first.debounce_key.startswith("unique:") and first.idempotency_key is None
    before = timezone.now()
    second = tasks.reindex.enqueue([1, 2])
    assert second.id == first.id
    row = Job.objects.get(id=first.id)
    assert row.args == [[1, 2]] and row.run_at >= before + timezone.timedelta(seconds=60)
    assert Job.objects.filter(task_path=first.task_path).count() == 1


def test_debounce_inserts_a_new_job_once_the_queued_one_was_claimed():
    first = tasks.reindex.enqueue([1])
    Job.objects.filter(id=first.id).update(run_at=timezone.now())
    [running] = claim(worker_id="w", limit=1, lease_seconds=60)
    assert running.id == first.id
    second = tasks.reindex.enqueue([2])
    assert second.id != first.id and second.status == JobStatus.QUEUED
    assert Job.objects.get(id=first.id).args == [[1]]  # the running job's call is untouched
    assert tasks.reindex.enqueue([3]).id == second.id


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"unique_for": 0}, "unique_for must be a finite number"),
        ({"unique_for": float("nan")}, "unique_for must be a finite number"),
        ({"unique_for": "60"}, "unique_for must be a finite number"),
        ({"debounce_seconds": -1}, "debounce_seconds must be a finite number"),
        ({"debounce_seconds": 10**9}, "debounce_seconds must be a finite number"),
    ],
)
def test_bad_windows_are_refused_before_any_sql(options, message):
    with (
        CaptureQueriesContext(connection) as queries,
        pytest.raises(InvalidJobOptionsError, match=message),
    ):
        tasks.add.using(**options)
    assert len(queries) == 0


def test_conflicting_options_are_refused_before_any_sql():
    with CaptureQueriesContext(connection) as queries:
        with pytest.raises(InvalidJobOptionsError, match="not both"):
            tasks.add.using(unique_for=5, debounce_seconds=5).enqueue(1, 2)
        with pytest.raises(InvalidJobOptionsError, match="debounce_seconds sets run_at"):
            tasks.reindex.using(delay=5).enqueue([1])
        with pytest.raises(InvalidJobOptionsError, match="enqueue_many does not take"):
            enqueue_many(tasks.sync_account, [(1,), (2,)])
    assert len(queries) == 0


def test_a_debounced_job_that_comes_back_to_the_queue_beside_a_newer_one_is_written():
    first = tasks.reindex.enqueue([1])
    Job.objects.filter(id=first.id).update(run_at=timezone.now())
    [running] = claim(worker_id="w", limit=1, lease_seconds=60, start_first=1)
    second = tasks.reindex.enqueue([2])
    # The first job's attempt fails: it is queued again for its retry beside the second.
    record = engine.fail(running, RuntimeError("boom"))
    assert record.recorded is Recorded.RETRIED
    assert set(Job.objects.filter(debounce_key=first.debounce_key).values_list("id", "status")) == {
        (first.id, JobStatus.QUEUED),
        (second.id, JobStatus.QUEUED),
    }
    # A new call replaces the newest queued holder's call, not the retry's.
    assert tasks.reindex.enqueue([3]).id == second.id
    assert Job.objects.get(id=first.id).args == [[1]]
    assert Job.objects.get(id=second.id).args == [[3]]
