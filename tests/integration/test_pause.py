"""Paused queues: never claimed, still enqueued into; resumed at once, woken by NOTIFY."""

import threading

import pytest
from django.db import connection, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

import django_jobs
from django_jobs import engine
from django_jobs.engine.claim import _claim_sql
from django_jobs.exceptions import InvalidJobOptionsError
from django_jobs.models import Job, JobStatus, PausedQueue
from django_jobs.worker import Worker
from django_jobs.worker.listen import Listener
from django_jobs.worker.observers import Observer
from tests import tasks
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db


def claim_all(**kwargs) -> list[Job]:
    return engine.claim(worker_id="w", limit=100, lease_seconds=30, **kwargs)


def test_a_paused_queue_is_not_claimed_but_still_takes_jobs():
    mail = [tasks.send_mail_task.enqueue(f"{i}@example.com") for i in range(3)]
    default = [tasks.add.enqueue(i, i) for i in range(2)]
    assert django_jobs.pause_queue("mail") is True
    later = tasks.send_mail_task.enqueue("late@example.com")  # enqueue is unchanged

    assert {job.id for job in claim_all()} == {job.id for job in default}
    assert claim_all(queues=["mail"]) == []
    assert Job.objects.get(id=later.id).status == JobStatus.QUEUED

    assert django_jobs.resume_queue("mail") is True
    claimed = claim_all(queues=["mail"])
    assert {job.id for job in claimed} == {job.id for job in [*mail, later]}


def test_pausing_twice_keeps_the_first_pause_and_resuming_twice_is_harmless():
    assert django_jobs.pause_queue("mail", by="ada") is True
    first = PausedQueue.objects.get(queue="mail")
    assert django_jobs.pause_queue("mail", by="bob") is False
    again = PausedQueue.objects.get(queue="mail")
    assert (again.paused_at, again.paused_by) == (first.paused_at, "ada")
    assert django_jobs.resume_queue("mail") is True
    assert django_jobs.resume_queue("mail") is False
    assert not PausedQueue.objects.exists()


def test_paused_queues_lists_each_pause_by_name_with_its_time_and_who():
    before = timezone.now()
    django_jobs.pause_queue("reports", by="ops")
    django_jobs.pause_queue("mail")
    rows = django_jobs.paused_queues()
    assert [(row.queue, row.paused_by) for row in rows] == [("mail", ""), ("reports", "ops")]
    assert all(before <= row.paused_at <= timezone.now() for row in rows)
    assert str(rows[1]).startswith("Queue reports paused at ") and str(rows[1]).endswith(" by ops")


def test_pausing_one_queue_leaves_jobs_of_others_in_priority_order():
    low = tasks.add.using(priority=-5).enqueue(1, 1)
    high = tasks.add.using(priority=50, queue="reports").enqueue(2, 2)
    tasks.add.using(priority=90, queue="mail").enqueue(3, 3)
    django_jobs.pause_queue("mail")
    assert [job.id for job in claim_all()] == [high.id, low.id]


@pytest.mark.parametrize(
    ("queue", "by", "message"),
    [
        ("", "", "queue must be a non-empty string"),
        ("q" * 65, "", "at most 64 characters"),
        (7, "", "queue must be a non-empty string"),
        ("mail", "x" * 151, "by must be a string of at most 150 characters"),
        ("mail", None, "by must be a string"),
    ],
)
def test_bad_input_is_refused_before_any_sql(queue, by, message):
    with CaptureQueriesContext(connection) as queries, pytest.raises(InvalidJobOptionsError) as e:
        django_jobs.pause_queue(queue, by=by)
    assert message in str(e.value)
    assert not queries.captured_queries
    if by == "":
        with CaptureQueriesContext(connection) as queries, pytest.raises(ValueError):
            django_jobs.resume_queue(queue)
        assert not queries.captured_queries


def test_a_queue_outside_the_configured_queues_is_refused(settings):
    settings.DJANGO_JOBS = {**settings.DJANGO_JOBS, "QUEUES": ["default", "mail"]}
    with pytest.raises(InvalidJobOptionsError, match=r"Unknown queue 'mial'.*'default', 'mail'"):
        django_jobs.pause_queue("mial")
    assert django_jobs.pause_queue("mail") is True


def test_a_queue_paused_before_it_left_the_configured_queues_can_be_resumed(settings):
    django_jobs.pause_queue("retired")
    settings.DJANGO_JOBS = {**settings.DJANGO_JOBS, "QUEUES": ["default"]}
    assert django_jobs.resume_queue("retired") is True
    assert django_jobs.resume_queue("never-was") is False
    assert not PausedQueue.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_pause_pauses_nothing():
    job = tasks.add.enqueue(1, 1)
    with pytest.raises(RuntimeError), transaction.atomic():
        django_jobs.pause_queue("default")
        raise RuntimeError
    assert [j.id for j in claim_all()] == [job.id]


@pytest.mark.django_db(transaction=True)
def test_a_burst_worker_leaves_a_paused_queue_queued_and_runs_the_rest():
    paused = tasks.send_mail_task.enqueue("a@example.com")
    other = tasks.add.enqueue(1, 1)
    django_jobs.pause_queue("mail")
    Worker(burst=True, concurrency=2).run()
    assert Job.objects.get(id=other.id).status == JobStatus.DONE
    assert (Job.objects.get(id=paused.id).status, Job.objects.get(id=paused.id).attempts) == (
        JobStatus.QUEUED,
        0,
    )


# Across connections (PostgreSQL): what one process pauses, every other's next claim obeys ----


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_pause_holds_for_the_next_claim_of_a_connection_that_claimed_before():
    mail = [tasks.send_mail_task.enqueue(f"{i}") for i in range(5)]
    claimed: dict[str, list[int]] = {}
    paused = threading.Event()

    def other_worker() -> None:
        try:
            # Claim once before the pause: its statement compiled, its connection warm.
            claimed["before"] = [job.id for job in claim_all(queues=["default"])]
            paused.wait(10)
            claimed["after"] = [job.id for job in claim_all()]
        finally:
            connection.close()

    thread = threading.Thread(target=other_worker)
    thread.start()
    try:
        wait_for(lambda: "before" in claimed, what="the first claim")
        django_jobs.pause_queue("mail")
        paused.set()
    finally:
        thread.join(30)
    assert claimed == {"before": [], "after": []}
    statuses = Job.objects.filter(id__in=[j.id for j in mail]).values_list("status", flat=True)
    assert set(statuses) == {JobStatus.QUEUED}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_connections_pausing_at_once_write_one_row_and_one_is_told_it_was_paused():
    barrier = threading.Barrier(2)
    results: list[bool] = []

    def pause() -> None:
        try:
            barrier.wait(10)
            results.append(django_jobs.pause_queue("mail", by=threading.current_thread().name))
        finally:
            connection.close()

    threads = [threading.Thread(target=pause, name=f"t{n}") for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == [False, True]
    assert PausedQueue.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_resume_wakes_listeners_of_that_queue_at_commit():
    woken = threading.Event()
    listener = Listener(woken.set, queues=["mail"])
    django_jobs.pause_queue("mail")
    django_jobs.pause_queue("reports")
    listener.start()
    try:
        wait_for(listener.listening.is_set, what="LISTEN")
        django_jobs.resume_queue("reports")  # not the listener's queue
        django_jobs.resume_queue("default")  # not paused: nothing sent
        assert not woken.wait(0.5)
        with transaction.atomic():
            assert django_jobs.resume_queue("mail") is True
            assert not woken.wait(0.3), "NOTIFY must wait for the commit"
        assert woken.wait(5)
    finally:
        listener.stop()


class ClaimCounter(Observer):
    def __init__(self) -> None:
        self.claims = 0

    def claimed(self, count: int) -> None:
        self.claims += 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@override_settings(DJANGO_JOBS={"POLL_INTERVAL_SECONDS": 60})
def test_an_idle_worker_takes_a_resumed_queue_without_polling():
    django_jobs.pause_queue("mail")
    job = tasks.send_mail_task.enqueue("a@example.com")
    counter = ClaimCounter()
    worker = Worker(concurrency=1, observers=[counter])
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        # Listening, and past its first claim (which found the queue paused): idle for 60 s.
        wait_for(lambda: worker.listener and worker.listener.listening.is_set(), what="LISTEN")
        wait_for(lambda: counter.claims >= 1, what="the first claim")
        assert Job.objects.get(id=job.id).status == JobStatus.QUEUED
        django_jobs.resume_queue("mail")
        # The worker polls every 60 s: done within 10 s means the resume's NOTIFY woke it.
        wait_for(lambda: Job.objects.filter(id=job.id, status=JobStatus.DONE).exists(), timeout=10)
    finally:
        worker.request_stop()
        thread.join(30)


@pytest.mark.postgres
@pytest.mark.parametrize("fused", [False, True], ids=["claim", "claim-and-start"])
def test_the_claim_stays_an_index_scan_of_ready_rows_with_paused_queues(fused):
    now = timezone.now()
    done = [
        Job(task_path="tests.tasks.add", status=JobStatus.DONE, run_at=now, finished_at=now)
        for _ in range(30_000)
    ]
    Job.objects.bulk_create(done, batch_size=5_000)
    for i in range(20):
        tasks.add.using(queue=("mail", "default")[i % 2]).enqueue(i, i)
    django_jobs.pause_queue("mail")
    django_jobs.pause_queue("reports")
    compiled = _claim_sql("default", None, fused, "TRUE")
    statement = compiled.statement
    assert "django_jobs_pausedqueue" in statement
    select_params = compiled.bind(now, 10)
    claim_params = ["running", "w", None, now]
    if fused:
        params = [*select_params, *claim_params, 5, 8, 5, 8, now]
    else:
        params = [*claim_params, *select_params]
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE django_jobs_job")
        cursor.execute("ANALYZE django_jobs_pausedqueue")
        cursor.execute(f"EXPLAIN {statement}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    # Either partial index of queued rows (for a few rows the planner may take the queue-led one).
    assert "django_jobs_job_ready_idx" in plan or "django_jobs_job_qready_idx" in plan, plan
    assert "Seq Scan on django_jobs_job " not in plan, plan
    # The paused table is read once per statement into a hash, not once per candidate row.
    assert "hashed SubPlan" in plan, plan
