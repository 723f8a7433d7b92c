"""Enqueue's own INSERT: the Job returned is the row stored, one statement, no stray savepoint."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection, transaction
from django.dispatch import receiver
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

import django_jobs
from django_jobs import InvalidJobOptionsError, SerializationError
from django_jobs.engine.insert import PREPARE_FROM_RUN
from django_jobs.enqueue import enqueue_job
from django_jobs.models import Job
from django_jobs.signals import job_enqueued
from tests import tasks
from tests.models import Order

FIELDS = [f.attname for f in Job._meta.concrete_fields]


class Statements:
    """An execute wrapper that keeps every statement sent on the connection."""

    def __init__(self) -> None:
        self.sql: list[str] = []

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.sql.append(sql)
        return execute(sql, params, many, context)


@pytest.fixture
def statements() -> Iterator[Statements]:
    watch = Statements()
    with connection.execute_wrapper(watch):
        yield watch


def as_stored(job: Job) -> dict[str, Any]:
    return {name: getattr(job, name) for name in FIELDS}


@pytest.mark.django_db
def test_returned_job_has_the_stored_rows_fields():
    run_at = timezone.now() + dt.timedelta(minutes=5)
    jobs = [
        tasks.add.enqueue(1, b={"nested": [1, 2.5, None, "é"]}),
        tasks.add.using(run_at=run_at, priority=-3, queue="low", max_attempts=4).enqueue(2, (3, 4)),
        tasks.add.using(idempotency_key="rows-1", timeout_seconds=30).enqueue(),
        enqueue_job(
            "tests.tasks.add", [5], {"k": None}, backoff_base_seconds=1.5, backoff_max_seconds=9.0
        ),
    ]
    for job in jobs:
        assert as_stored(job) == as_stored(Job.objects.get(id=job.id))
        assert not job._state.adding and job._state.db == "default"
    assert jobs[1].args == [2, [3, 4]]  # as JSON stores it: a tuple comes back as a list


@pytest.mark.django_db
def test_returned_job_can_be_saved_and_refreshed_like_a_fetched_one():
    job = tasks.add.enqueue(1, 2)
    job.refresh_from_db()
    assert job.errors == [] and job.result is None and job.progress_message == ""
    other = tasks.add.enqueue(3, 4)
    other.errors.append("mine")  # a default list is not shared between two jobs
    assert job.errors == []


@pytest.mark.django_db
def test_job_enqueued_is_sent_with_the_returned_job():
    seen: list[Job] = []

    @receiver(job_enqueued)
    def collect(sender: Any, job: Job, **kwargs: Any) -> None:
        seen.append(job)

    try:
        job = tasks.add.enqueue(1, 2)
    finally:
        job_enqueued.disconnect(collect)
    assert seen == [job] and seen[0] is job
    tasks.add.enqueue(1, 2)
    assert len(seen) == 1  # disconnected: no receivers, nothing sent


@pytest.mark.django_db
def test_enqueue_without_a_key_is_one_statement_and_no_savepoint(statements):
    with transaction.atomic():
        statements.sql.clear()
        tasks.add.enqueue(1, 2)
        [insert] = statements.sql
    assert insert.startswith("INSERT INTO") and "RETURNING" in insert


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_connection_prepares_the_insert_only_once_it_has_enqueued_a_few_jobs():
    def prepared() -> list[str]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT statement FROM pg_prepared_statements")
            return [row[0] for row in cursor.fetchall() if 'INTO "django_jobs_job"' in row[0]]

    connection.close()  # a new connection, as a web request's with CONN_MAX_AGE = 0
    for i in range(1, PREPARE_FROM_RUN):
        with transaction.atomic():
            tasks.add.enqueue(i, i)
    assert prepared() == []  # a short-lived connection pays no round trip to prepare it
    jobs = [tasks.add.enqueue(i, i) for i in range(3)]
    assert len(prepared()) == 1  # prepared once, then run again
    assert [Job.objects.get(id=job.id).args for job in jobs] == [[0, 0], [1, 1], [2, 2]]


@pytest.mark.django_db
def test_enqueue_with_a_key_inserts_in_a_savepoint(statements):
    with transaction.atomic():
        statements.sql.clear()
        tasks.add.using(idempotency_key="sp").enqueue(1, 2)
        sent = list(statements.sql)
    assert [s.split()[0] for s in sent] == ["SAVEPOINT", "INSERT", "RELEASE"]


@pytest.mark.django_db
def test_enqueue_is_seen_by_query_logging():
    with CaptureQueriesContext(connection) as queries:
        tasks.add.enqueue(1, 2)
        django_jobs.enqueue_many(tasks.add, [(1, 2), (3, 4)])
    inserts = [q["sql"] for q in queries if q["sql"].startswith("INSERT INTO")]
    assert len(inserts) == 2 and "tests.tasks.add" in inserts[0]


@pytest.mark.django_db
def test_key_conflict_returns_the_live_job_and_sends_nothing():
    first = tasks.add.using(idempotency_key="dup").enqueue(1, 2)
    seen: list[Job] = []

    @receiver(job_enqueued)
    def collect(sender: Any, job: Job, **kwargs: Any) -> None:
        seen.append(job)

    try:
        with transaction.atomic():
            again = tasks.add.using(idempotency_key="dup").enqueue(9, 9)
            Order.objects.create(reference="still usable")
    finally:
        job_enqueued.disconnect(collect)
    assert again.id == first.id and again.args == [1, 2]
    assert seen == [] and Job.objects.count() == 1 and Order.objects.count() == 1


@pytest.mark.django_db
def test_cached_options_follow_a_change_of_settings():
    assert tasks.add.enqueue(1, 2).max_attempts == 20
    with override_settings(DJANGO_JOBS={"MAX_ATTEMPTS": 3, "QUEUES": ["default"]}):
        assert tasks.add.enqueue(1, 2).max_attempts == 3
        with pytest.raises(InvalidJobOptionsError, match="Unknown queue 'low'"):
            tasks.add.using(queue="low").enqueue(1, 2)
    assert tasks.add.using(queue="low").enqueue(1, 2).max_attempts == 20


@pytest.mark.django_db
@pytest.mark.parametrize(
    "options",
    [
        {"priority": True},  # a bool is not taken for the cached 1
        {"priority": 1.0},
        {"max_attempts": True},
        {"queue": ["default"]},  # unhashable: still the validator's error, not a TypeError
    ],
)
def test_bad_options_raise_every_time_despite_the_cache(options):
    tasks.add.using(priority=1, max_attempts=1).enqueue(1, 2)  # fills the cache with 1s
    for _ in range(2):
        with pytest.raises(InvalidJobOptionsError):
            enqueue_job("tests.tasks.add", [1, 2], **options)
    assert Job.objects.count() == 1


ODD_CALLS: list[Any] = [
    ("émoji 🎉, RTL עברית, combining e\u0301, \u2028 line sep",),
    # jsonb keeps numbers exactly (and prints 1e308 as 309 digits: an int when read back)
    (2**63 - 1, -(2**63), 10**30, 0.1, 1.5e-7, 12345.678),
    ({"a": {"b": [{"c": [None, True, False, {"d": ["deep"]}]}]}},),
    {"none": None, "empty": "", "list": [], "dict": {}},
    ('quote " backslash \\ tab \t newline \n, and a literal \\u0000 (no NUL)',),
    [],
    {},
    ("x" * 10_000,),
]


@pytest.mark.django_db(transaction=True)
def test_enqueue_many_stores_odd_data_as_given_and_returns_ids_in_order():
    ids = django_jobs.enqueue_many(tasks.add, ODD_CALLS * 3)
    assert len(ids) == len(set(ids)) == len(ODD_CALLS) * 3
    stored = {job.id: job for job in Job.objects.filter(id__in=ids)}
    for call, job_id in zip(ODD_CALLS * 3, ids, strict=True):
        job = stored[job_id]
        expected = ([], call) if isinstance(call, dict) else (list(call), {})
        assert (job.args, job.kwargs) == expected
        assert (job.task_path, job.queue, job.status, job.attempts) == (
            "tests.tasks.add",
            "default",
            "queued",
            0,
        )
        assert (job.errors, job.result, job.worker_id) == ([], None, "")


@pytest.mark.django_db(transaction=True)
def test_enqueue_many_over_many_statements_keeps_the_order_of_calls():
    # Over BULK_BATCH_SIZE and, on SQLite, over one statement's parameter limit.
    calls = [(i,) for i in range(4_500)]
    ids = django_jobs.enqueue_many(tasks.add, calls)
    by_id = dict(Job.objects.filter(id__in=ids).values_list("id", "args"))
    assert [by_id[job_id] for job_id in ids] == [[i] for i in range(4_500)]


@pytest.mark.django_db
def test_a_bad_row_of_enqueue_many_raises_before_any_sql(statements):
    good = [(i, i) for i in range(1_500)]
    with transaction.atomic():
        statements.sql.clear()
        with pytest.raises(SerializationError, match=r"Item 1501 of calls: .*NUL"):
            django_jobs.enqueue_many(tasks.add, [*good, (1, 1), ("a\x00b",)])
        with pytest.raises(InvalidJobOptionsError, match="Item 3 of calls"):
            django_jobs.enqueue_many(tasks.add, [*good[:3], "not a call"])
        assert statements.sql == []
        Order.objects.create(reference="still usable")
    assert not Job.objects.exists() and Order.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_enqueue_opening_a_transaction_returns_and_commits_the_stored_row():
    with transaction.atomic():
        job = tasks.add.enqueue(1, 2)
        also = tasks.add.enqueue(3, 4)
    assert as_stored(job) == as_stored(Job.objects.get(id=job.id))
    assert also.id > job.id
    with pytest.raises(RuntimeError), transaction.atomic():
        tasks.add.enqueue(5, 6)
        raise RuntimeError
    assert Job.objects.count() == 2
