"""The engine's transitions, each on its own, against the real database: the statements the
worker runs, their fences, their per-row fallbacks, and two connections at the same row."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import DataError, connection, transaction
from django.utils import timezone

from django_jobs import engine
from django_jobs.engine import sql
from django_jobs.engine.claim import _claim_sql
from django_jobs.exceptions import ReplayConflictError, WorkerLostError
from django_jobs.models import DeadJob, Job, JobStatus
from django_jobs.outcome import Recorded
from django_jobs.worker.execute import execute
from tests import tasks

pytestmark = pytest.mark.django_db(transaction=True)


def claimed(count: int = 1, **claim: Any) -> list[Job]:
    for i in range(count):
        tasks.add.enqueue(i, i)
    return engine.claim(worker_id="w1", limit=count, lease_seconds=claim.pop("lease", 30))


def expire(jobs: list[Job]) -> None:
    past = timezone.now() - dt.timedelta(seconds=5)
    Job.objects.filter(id__in=[job.id for job in jobs]).update(lease_expires_at=past)


@pytest.fixture
def refuse_updates_of() -> Iterator[Callable[[int], None]]:
    """Make PostgreSQL refuse (SQLSTATE 22000, a DataError) any UPDATE of one job's row."""

    def install(job_id: int) -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE OR REPLACE FUNCTION django_jobs_test_refuse() RETURNS trigger AS $$ "
                f"BEGIN IF NEW.id = {int(job_id)} THEN RAISE EXCEPTION 'row refused' "
                "USING ERRCODE = '22000'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
            )
            cursor.execute(
                "CREATE TRIGGER django_jobs_test_refuse BEFORE UPDATE ON django_jobs_job "
                "FOR EACH ROW EXECUTE FUNCTION django_jobs_test_refuse()"
            )

    yield install
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER IF EXISTS django_jobs_test_refuse ON django_jobs_job")
        cursor.execute("DROP FUNCTION IF EXISTS django_jobs_test_refuse()")


# claim ------------------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.parametrize("fused", [False, True], ids=["claim", "claim-and-start"])
def test_the_real_claim_statement_is_an_index_scan_over_ready_rows_only(fused):
    now = timezone.now()
    done = [
        Job(task_path="tests.tasks.add", status=JobStatus.DONE, run_at=now, finished_at=now)
        for _ in range(30_000)
    ]
    Job.objects.bulk_create(done, batch_size=5_000)
    for i in range(20):
        tasks.add.enqueue(i, i)
    compiled = _claim_sql("default", None, fused, "TRUE")
    statement = compiled.statement
    select_params = compiled.bind(now, 10)
    claim_params = ["running", "w", None, now]
    if fused:
        params = [*select_params, *claim_params, 5, 8, 5, 8, now]
    else:
        params = [*claim_params, *select_params]
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE django_jobs_job")
        cursor.execute(f"EXPLAIN {statement}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    # Either partial index of queued rows (for a few rows the planner may take the queue-led
    # one); never a scan of the job table with its done rows. The paused-queue table (a few
    # rows at most) is read whole.
    assert "django_jobs_job_ready_idx" in plan or "django_jobs_job_qready_idx" in plan, plan
    assert "Seq Scan on django_jobs_job " not in plan, plan


@pytest.mark.postgres
def test_a_claim_for_one_queue_walks_only_that_queues_ready_rows():
    now = timezone.now()
    busy = [Job(task_path="tests.tasks.add", queue="busy", run_at=now) for _ in range(20_000)]
    Job.objects.bulk_create(busy, batch_size=5_000)
    tasks.add.using(queue="quiet").enqueue(1, 1)
    compiled = _claim_sql("default", ("quiet",), False, "TRUE")
    statement, select_params = compiled.statement, compiled.bind(now, 10)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE django_jobs_job")
        cursor.execute(
            f"EXPLAIN (ANALYZE, BUFFERS) {statement}", ["running", "w", None, now, *select_params]
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "django_jobs_job_qready_idx" in plan, plan
    # The busy queue's 20,000 ready rows are not read: a handful of index and heap pages are.
    assert "rows=1 " in plan.split("django_jobs_job_qready_idx")[1].split("\n")[0], plan


def test_a_claim_starts_its_first_jobs_in_claim_order_and_only_those():
    for priority in (0, 5, 1, 3):
        tasks.add.using(priority=priority).enqueue(1, 1)
    jobs = engine.claim(worker_id="w", limit=4, lease_seconds=30, start_first=2)
    assert [job.priority for job in jobs] == [5, 3, 1, 0]
    stored = {job.id: job for job in Job.objects.all()}
    for job, started in zip(jobs, [True, True, False, False], strict=True):
        assert (job.started_at is not None) is started
        assert job.attempts == stored[job.id].attempts == (1 if started else 0)
        assert (stored[job.id].started_at is not None) is started
        assert stored[job.id].status == JobStatus.RUNNING
    # The unstarted ones start later, once.
    assert engine.start(jobs) == jobs[2:]
    assert engine.start(jobs) == []


@pytest.mark.postgres
def test_two_connections_claiming_at_once_never_take_the_same_row():
    for i in range(400):
        tasks.add.enqueue(i, i)
    barrier = threading.Barrier(2)
    taken: dict[str, list[int]] = {"a": [], "b": []}

    def drain(name: str) -> None:
        try:
            barrier.wait(10)
            while batch := engine.claim(
                worker_id=name, limit=7, lease_seconds=30, start_first=3 if name == "a" else 0
            ):
                taken[name] += [job.id for job in batch]
        finally:
            connection.close()

    threads = [threading.Thread(target=drain, args=(name,)) for name in taken]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not set(taken["a"]) & set(taken["b"])
    assert len(taken["a"]) + len(taken["b"]) == 400
    assert taken["a"] and taken["b"], "both connections should have claimed some"


def test_start_refuses_a_job_rescued_since_its_claim():
    [job] = claimed()
    expire([job])
    assert engine.rescue().released == [job.id]
    assert engine.start([job]) == []
    assert Job.objects.get(id=job.id).attempts == 0


# heartbeat, release, rescue ---------------------------------------------------------------------


def test_heartbeat_renews_held_leases_and_reports_the_lost_ones():
    jobs = claimed(3, lease=1)
    Job.objects.filter(id=jobs[0].id).update(lease_token=None, status=JobStatus.QUEUED)
    before = timezone.now()
    held = engine.heartbeat(jobs, lease_seconds=60)
    assert held == {jobs[1].id: None, jobs[2].id: None}
    renewed = Job.objects.filter(id__in=held).values_list("lease_expires_at", flat=True)
    assert all(expires > before + dt.timedelta(seconds=50) for expires in renewed)


@pytest.mark.postgres
def test_heartbeat_renews_the_other_leases_when_the_database_refuses_one_row(refuse_updates_of):
    jobs = claimed(3)
    refuse_updates_of(jobs[1].id)
    assert set(engine.heartbeat(jobs, lease_seconds=60)) == {jobs[0].id, jobs[2].id}


def test_release_gives_back_only_jobs_that_never_started():
    jobs = claimed(2)
    engine.start(jobs[:1])
    assert engine.release(jobs) == 1
    fresh, started = Job.objects.get(id=jobs[1].id), Job.objects.get(id=jobs[0].id)
    assert (fresh.status, fresh.attempts, fresh.lease_token) == (JobStatus.QUEUED, 0, None)
    assert (started.status, started.attempts) == (JobStatus.RUNNING, 1)


def test_rescue_releases_unstarted_jobs_and_fails_started_ones_with_worker_lost():
    unstarted, started, last = claimed(3)
    engine.start([started, last])
    Job.objects.filter(id=last.id).update(max_attempts=1)
    expire([unstarted, started, last])
    report = engine.rescue()
    assert report.released == [unstarted.id]
    assert report.requeued == [started.id]
    assert [job.id for job, _ in report.dead] == [last.id]
    fresh = Job.objects.get(id=unstarted.id)
    assert (fresh.status, fresh.attempts, fresh.errors) == (JobStatus.QUEUED, 0, [])
    requeued = Job.objects.get(id=started.id)
    assert requeued.status == JobStatus.QUEUED and requeued.attempts == 1
    assert [e["exception_class"] for e in requeued.errors] == [
        f"{WorkerLostError.__module__}.WorkerLostError"
    ]
    assert DeadJob.objects.get(job_id=last.id).exception_class.endswith("WorkerLostError")


def test_rescue_leaves_a_lease_renewed_in_time():
    [job] = claimed()
    assert not engine.rescue(now=timezone.now() + dt.timedelta(seconds=10))  # not yet expired
    engine.heartbeat([job], lease_seconds=60)
    assert not engine.rescue(now=timezone.now() + dt.timedelta(seconds=40))
    assert Job.objects.get(id=job.id).status == JobStatus.RUNNING


@pytest.mark.postgres
def test_rescue_skips_a_row_the_database_refuses_and_rescues_the_others(refuse_updates_of):
    jobs = claimed(3)
    engine.start(jobs)
    expire(jobs)
    refuse_updates_of(jobs[0].id)
    report = engine.rescue()
    assert report.skipped == [jobs[0].id]
    assert sorted(report.requeued) == sorted(job.id for job in jobs[1:])


# complete and fail ------------------------------------------------------------------------------


def test_complete_many_is_fenced_per_row():
    jobs = claimed(3)
    engine.start(jobs)
    Job.objects.filter(id=jobs[0].id).update(lease_token=None, status=JobStatus.QUEUED)
    fates = engine.complete_many([engine.Completion(job, job.id, str(job.id)) for job in jobs])
    assert fates == {jobs[0].id: Recorded.LOST, jobs[1].id: Recorded.DONE,
                     jobs[2].id: Recorded.DONE}  # fmt: skip
    assert Job.objects.get(id=jobs[1].id).result == jobs[1].id


@pytest.mark.postgres
def test_complete_many_writes_each_row_alone_when_one_is_refused(refuse_updates_of):
    jobs = claimed(4)
    engine.start(jobs)
    refuse_updates_of(jobs[2].id)
    fates = engine.complete_many([engine.Completion(job, "ok", '"ok"') for job in jobs])
    assert isinstance(fates.pop(jobs[2].id), DataError)
    assert set(fates.values()) == {Recorded.DONE}
    assert Job.objects.filter(status=JobStatus.DONE).count() == 3


def test_fail_retries_with_backoff_then_dead_letters_on_the_last_attempt():
    [job] = claimed()
    Job.objects.filter(id=job.id).update(max_attempts=2)
    job.max_attempts = 2
    [job] = engine.start([job])
    assert engine.fail(job, KeyboardInterrupt()).recorded is Recorded.RETRIED
    [job] = engine.start(engine.claim(worker_id="w1", limit=1, lease_seconds=30))
    record = engine.fail(job, KeyboardInterrupt())
    assert record.recorded is Recorded.DEAD and record.dead_job is not None
    assert record.dead_job.exception_class == "builtins.KeyboardInterrupt"
    assert engine.fail(job, RuntimeError()).recorded is Recorded.LOST  # gone: nothing written


# exactly once under concurrency -----------------------------------------------------------------


def at_once(step: Callable[[], Any], count: int = 2) -> list[Any]:
    """Run ``step`` in ``count`` threads, each on its own connection, released together."""
    barrier = threading.Barrier(count)
    results: list[Any] = []

    def run() -> None:
        try:
            barrier.wait(10)
            results.append(step())
        except Exception as exc:
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def dead_job() -> DeadJob:
    [job] = claimed()
    Job.objects.filter(id=job.id).update(max_attempts=1)
    job.max_attempts = 1
    engine.start([job])
    record = engine.fail(job, RuntimeError("boom"))
    assert record.dead_job is not None
    return record.dead_job


@pytest.mark.postgres  # SQLite serialises the writers, which proves nothing about the race
def test_two_replays_of_one_dead_job_at_the_same_instant_make_one_job():
    dead = dead_job()
    results = at_once(lambda: engine.replay(DeadJob.objects.filter(id=dead.id), by="admin"))
    conflicts = [r for r in results if isinstance(r, ReplayConflictError)]
    replayed = [r for r in results if isinstance(r, list)]
    assert len(conflicts) == 1 and len(replayed) == 1, results
    assert Job.objects.filter(task_path=dead.task_path).count() == 1
    dead.refresh_from_db()
    assert dead.replayed_job_id == replayed[0][0].id


@pytest.mark.postgres
def test_two_cancels_or_run_nows_at_the_same_instant_change_the_job_once():
    job = tasks.add.using(delay=3600).enqueue(1, 1)
    assert sorted(at_once(lambda: engine.run_now([job.id]))) == [0, 1]
    assert sorted(len(r.cancelled) for r in at_once(lambda: engine.cancel([job.id]))) == [0, 1]


@pytest.mark.postgres
def test_two_rescues_at_the_same_instant_record_one_lost_worker():
    jobs = claimed(5)
    engine.start(jobs)
    expire(jobs)
    reports = at_once(engine.rescue)
    requeued = [job_id for report in reports for job_id in report.requeued]
    assert sorted(requeued) == sorted(job.id for job in jobs)
    assert {len(job.errors) for job in Job.objects.all()} == {1}


def test_replay_refuses_a_dead_job_whose_key_a_live_job_holds_and_replays_nothing():
    free = dead_job()
    [job] = claimed()
    Job.objects.filter(id=job.id).update(max_attempts=1, idempotency_key="invoice-9")
    job.max_attempts, job.idempotency_key = 1, "invoice-9"
    engine.start([job])
    taken = engine.fail(job, RuntimeError("boom")).dead_job
    live = tasks.add.using(idempotency_key="invoice-9").enqueue(1, 2)
    with pytest.raises(ReplayConflictError, match=f"belongs to job {live.id}"):
        engine.replay(DeadJob.objects.filter(id__in=[free.id, taken.id]))
    assert not DeadJob.objects.filter(replayed_job_id__isnull=False).exists()
    assert list(Job.objects.values_list("id", flat=True)) == [live.id]


# commits without waiting for the WAL flush -------------------------------------------------------


def _synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_relaxed_commits_are_local_to_their_statement_and_skipped_inside_a_transaction(settings):
    tasks.add.enqueue(1, 1)
    tasks.add.enqueue(2, 2)
    [job] = engine.claim(worker_id="w", limit=1, lease_seconds=30)  # an unstarted claim: relaxed
    assert _synchronous_commit() == "on", "the claim's setting leaked into the session"
    engine.start([job])
    out = execute(job)
    engine.complete_many([engine.Completion(job, out.result, out.result_json)])
    assert _synchronous_commit() == "on", "the completion's setting leaked into the session"
    with transaction.atomic():
        # In a caller's transaction the setting would outlive the statement: none is added.
        assert sql.relaxed_commit() == "TRUE"
        engine.claim(worker_id="w", limit=1, lease_seconds=30)
        assert _synchronous_commit() == "on"
    settings.DJANGO_JOBS = {**settings.DJANGO_JOBS, "ASYNC_COMMIT": False}
    assert sql.relaxed_commit() == "TRUE"
    assert Job.objects.get(id=job.id).status == JobStatus.DONE


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_workers_statements_are_prepared_on_a_direct_connection():
    for i in range(3):
        tasks.add.enqueue(i, i)
    for _ in range(3):
        engine.claim(worker_id="w", limit=1, lease_seconds=30, start_first=1)
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    # One statement, prepared once and run three times (PgBouncer: tests/integration/
    # test_pgbouncer.py, where nothing is prepared).
    assert len([s for s in prepared if "WITH candidate AS MATERIALIZED" in s]) == 1, prepared
