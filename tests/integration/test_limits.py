"""Concurrency keys and queue limits in the engine: what claim and claim_limited take."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from django_jobs import engine
from django_jobs.engine.queues import limited_queues
from django_jobs.exceptions import InvalidJobOptionsError
from django_jobs.models import DeadJob, Job, JobStatus, RateWindow
from tests import tasks

pytestmark = pytest.mark.django_db

LIMITED = {"QUEUES": {"default": None, "mail": {"concurrency": 2}, "sms": {"rate_limit": "3/h"}}}


def claim_limited(limit: int = 100, **kwargs) -> list[Job]:
    return engine.claim_limited(worker_id="w", limit=limit, lease_seconds=30, **kwargs).jobs


def claim(limit: int = 100, **kwargs) -> list[Job]:
    return engine.claim(worker_id="w", limit=limit, lease_seconds=30, **kwargs)


def keyed(key: str, n: int, limit: int | None = None) -> list[Job]:
    task = tasks.limited_sleep.using(concurrency_key=key, concurrency_limit=limit)
    return [task.enqueue() for _ in range(n)]


def test_a_job_stores_its_key_and_limit_and_a_limit_alone_keys_the_whole_task():
    job = tasks.limited_sleep.using(concurrency_key="tenant-1").enqueue()
    assert (job.concurrency_key, job.concurrency_limit) == ("tenant-1", 1)
    whole = tasks.limited_sleep.enqueue()
    assert (whole.concurrency_key, whole.concurrency_limit) == ("tests.tasks.limited_sleep", 1)
    plain = tasks.add.enqueue(1, 2)
    assert (plain.concurrency_key, plain.concurrency_limit) == (None, None)
    stored = Job.objects.get(id=job.id)
    assert (stored.concurrency_key, stored.concurrency_limit) == ("tenant-1", 1)


def test_a_key_without_a_limit_and_bad_values_are_refused_before_any_sql():
    with pytest.raises(InvalidJobOptionsError, match="needs a concurrency_limit"):
        tasks.add.using(concurrency_key="k").enqueue(1, 2)
    with pytest.raises(InvalidJobOptionsError, match="concurrency_limit must be"):
        tasks.add.using(concurrency_limit=0)
    with pytest.raises(InvalidJobOptionsError, match="concurrency_key must be"):
        tasks.add.using(concurrency_key="")
    assert not Job.objects.exists()


def test_the_plain_claim_leaves_keyed_jobs_and_limited_queues_to_the_limited_claim():
    keyed_jobs = keyed("a", 2)
    plain = tasks.add.enqueue(1, 1)
    with override_settings(DJANGO_JOBS=LIMITED):
        mail = tasks.add.using(queue="mail").enqueue(2, 2)
        assert [job.id for job in claim()] == [plain.id]
        limited = claim_limited()
    assert {job.id for job in limited} == {keyed_jobs[0].id, mail.id}


def test_at_most_the_limit_of_a_key_runs_and_a_finished_job_frees_its_slot():
    jobs = keyed("a", 3, limit=2)
    first = claim_limited()
    assert [job.id for job in first] == [jobs[0].id, jobs[1].id]
    assert all(job.status == JobStatus.RUNNING and job.started_at for job in first)
    assert all(job.attempts == 1 for job in first)
    assert claim_limited() == []
    engine.complete(first[0], result=None)
    assert [job.id for job in claim_limited()] == [jobs[2].id]


def test_a_saturated_key_does_not_block_other_keys_behind_it():
    keyed("a", 200)
    b = keyed("b", 1)
    claim_limited(limit=1)  # a's one slot
    assert [job.id for job in claim_limited(limit=4)] == [b[0].id]


def test_keys_are_taken_in_turn_when_slots_are_few():
    a = keyed("a", 5, limit=5)
    b = keyed("b", 5, limit=5)
    taken = claim_limited(limit=4)
    assert sorted(job.id for job in taken) == sorted([a[0].id, a[1].id, b[0].id, b[1].id])


def test_an_expired_lease_rescued_frees_the_slot_of_its_key():
    jobs = keyed("a", 2)
    [first] = claim_limited()
    Job.objects.filter(id=first.id).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    engine.rescue()
    assert Job.objects.get(id=first.id).status == JobStatus.QUEUED
    assert len(claim_limited()) == 1
    assert Job.objects.filter(id__in=[j.id for j in jobs], status=JobStatus.RUNNING).count() == 1


@override_settings(DJANGO_JOBS=LIMITED)
def test_a_queue_with_a_concurrency_runs_at_most_that_many_jobs():
    jobs = [tasks.add.using(queue="mail").enqueue(i, i) for i in range(5)]
    assert [job.id for job in claim_limited()] == [jobs[0].id, jobs[1].id]
    assert claim_limited() == []
    engine.complete(Job.objects.get(id=jobs[0].id), result=None)
    assert [job.id for job in claim_limited()] == [jobs[2].id]


@override_settings(DJANGO_JOBS=LIMITED)
def test_a_rate_limited_queue_starts_at_most_its_count_per_period_and_says_when_next():
    for i in range(5):
        tasks.add.using(queue="sms").enqueue(i, i)
    assert len(claim_limited()) == 3
    result = engine.claim_limited(worker_id="w", limit=10, lease_seconds=30)
    assert result.jobs == []
    assert 3500 < result.wait_seconds <= 3600
    assert len(RateWindow.objects.get(queue="sms").recent_started_at) == 3


@override_settings(DJANGO_JOBS=LIMITED)
def test_a_keyed_job_in_a_limited_queue_needs_room_in_both():
    for key in "abc":
        tasks.limited_sleep.using(queue="mail", concurrency_key=key).enqueue()
    assert len(claim_limited()) == 2  # the queue's concurrency, though three keys are free


def test_a_dead_job_keeps_its_key_and_replay_restores_it():
    keyed("a", 1, limit=3)
    [claimed] = claim_limited()
    from django_jobs.failure import Failure

    dead = engine.dead_letter(claimed, Failure.from_exception(RuntimeError("x"), attempt=1))
    assert (dead.concurrency_key, dead.concurrency_limit) == ("a", 3)
    [again] = engine.replay(DeadJob.objects.filter(id=dead.id))
    assert (again.concurrency_key, again.concurrency_limit) == ("a", 3)


@pytest.mark.postgres
def test_the_plain_claim_walks_the_ready_index_past_a_keyed_backlog_without_reading_it():
    keyed("a", 200)  # older than the plain job, so first in claim order
    plain = tasks.add.enqueue(1, 1)
    from django_jobs.engine.claim import _claim_sql

    with override_settings(DJANGO_JOBS=LIMITED):
        compiled = _claim_sql("default", None, False, "TRUE", limited_queues())
    statement = compiled.statement
    params = ["running", "w", None, timezone.now(), *compiled.bind(timezone.now(), 10)]
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE django_jobs_job")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + statement, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    # Either ready index (with few rows left the planner may take the queue-led one, as the
    # claim's other plan tests allow); neither holds a keyed job: none is read and filtered out.
    assert "django_jobs_job_ready_idx" in plan or "django_jobs_job_qready_idx" in plan, plan
    assert "Rows Removed by Filter" not in plan, plan
    assert Job.objects.get(id=plain.id).status == JobStatus.RUNNING


def test_a_django_task_with_a_concurrency_limit_runs_one_job_at_a_time():
    td = pytest.importorskip("tests.tasks_django")
    if not td.PER_TASK_OPTIONS:
        pytest.skip("@task() passes no extra options here")
    first, second = td.one_at_a_time.enqueue(1), td.one_at_a_time.enqueue(2)
    job = Job.objects.get(id=int(first.id))
    assert (job.concurrency_key, job.concurrency_limit) == ("tests.tasks_django.one_at_a_time", 1)
    assert [j.id for j in claim_limited()] == [int(first.id)]
    assert Job.objects.get(id=int(second.id)).status == JobStatus.QUEUED


@pytest.mark.django_db(transaction=True)
def test_a_burst_worker_drains_keyed_jobs_and_plain_ones_together():
    from django_jobs.worker import Worker

    jobs = keyed("a", 3) + keyed("b", 3)
    plain = [tasks.add.enqueue(i, i) for i in range(5)]
    assert Worker(burst=True, concurrency=3).run() == 0
    ids = [job.id for job in jobs + plain]
    assert Job.objects.filter(id__in=ids, status=JobStatus.DONE).count() == len(ids)


@pytest.mark.django_db(transaction=True)
def test_a_plain_backlog_does_not_starve_keyed_jobs_in_a_worker():
    from django_jobs.worker import Worker

    plain = [tasks.add.enqueue(i, i) for i in range(100)]
    [first_keyed] = keyed("a", 1)
    assert Worker(burst=True, concurrency=2).run() == 0
    started = Job.objects.get(id=first_keyed.id).started_at
    last_plain = max(
        Job.objects.filter(id__in=[j.id for j in plain]).values_list("started_at", flat=True)
    )
    assert started < last_plain


@override_settings(
    DJANGO_JOBS={"QUEUES": {"default": None, "a": {"concurrency": 10}, "b": {"concurrency": 10}}}
)
def test_a_worker_serving_two_limited_queues_takes_from_both_in_turn():
    for i in range(20):
        tasks.add.using(queue="a").enqueue(i, i)
    for i in range(20):
        tasks.add.using(queue="b").enqueue(i, i)
    taken = claim_limited(limit=4)
    assert sorted(job.queue for job in taken) == ["a", "a", "b", "b"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@override_settings(DJANGO_JOBS={"POLL_INTERVAL_SECONDS": 60})
def test_an_idle_worker_takes_a_new_keyed_job_on_notify_and_the_next_as_the_first_ends():
    import threading

    from django_jobs.worker import Worker
    from tests.conftest import wait_for

    worker = Worker(concurrency=2)
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        wait_for(lambda: worker.listener and worker.listener.listening.is_set(), what="LISTEN")
        wait_for(lambda: worker.feed.next_look_in() > 30, what="the first look by the clock")
        # Polls and clock looks are a minute apart: within 20 s, only the NOTIFY (the first
        # job) and the end of the first job (the second, same key) can have started them.
        task = tasks.limited_sleep.using(concurrency_key="k")
        first, second = task.enqueue(0.2), task.enqueue(0)
        wait_for(
            lambda: (
                Job.objects.filter(id__in=[first.id, second.id], status=JobStatus.DONE).count() == 2
            ),
            timeout=20,
            what="both keyed jobs done",
        )
        runs = Job.objects.filter(id__in=[first.id, second.id]).order_by("started_at")
        assert [job.id for job in runs] == [first.id, second.id]
        assert runs[1].started_at >= runs[0].finished_at
    finally:
        worker.request_stop()
        thread.join(30)


@pytest.mark.postgres  # elsewhere claim and start are two statements anyway
@override_settings(DJANGO_JOBS=LIMITED)
def test_the_plain_claim_stays_one_statement_beside_limited_jobs():
    from django.test.utils import CaptureQueriesContext

    keyed("a", 3)
    tasks.add.using(queue="mail").enqueue(1, 1)
    plain = [tasks.add.enqueue(i, i) for i in range(3)]
    with CaptureQueriesContext(connection) as queries:
        claimed = engine.claim(worker_id="w", limit=10, lease_seconds=30, start_first=2)
    assert len(queries) == 1, queries.captured_queries
    assert sorted(job.id for job in claimed) == sorted(job.id for job in plain)
