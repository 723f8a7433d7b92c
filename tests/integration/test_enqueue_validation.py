"""Bad input raises the promised error before any SQL; the caller's transaction stays usable."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

import django_jobs
from django_jobs import InvalidJobOptionsError, SerializationError, job
from django_jobs.enqueue import enqueue_job
from django_jobs.models import Job
from tests import tasks
from tests.models import Order

INF, NAN = float("inf"), float("nan")


def jobs_settings(**extra):
    return override_settings(DJANGO_JOBS={**settings.DJANGO_JOBS, **extra})


def refused_before_any_sql(call, error, words=""):
    """Run ``call`` in a transaction; it must raise ``error`` with no query, and the transaction
    must stay usable."""
    with transaction.atomic():
        with CaptureQueriesContext(connection) as queries, pytest.raises(error) as info:
            call()
        assert queries.captured_queries == []
        Order.objects.create(reference="still usable")
    assert words in str(info.value)
    assert not Job.objects.exists() and Order.objects.count() == 1
    Order.objects.all().delete()
    return info.value


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "kwargs", "words"),
    [
        (["a\x00b"], {}, "positional argument 0 contains a NUL character"),
        ([{"deep": ["ok", "x\x00"]}], {}, "at ['deep'][1]"),
        ([{"k\x00": 1}], {}, "the key 'k\\x00'"),
        ([], {"b": "\ud800"}, "keyword argument 'b' contains a lone surrogate"),
        ([], {"b": {"\udfff": 1}}, "lone surrogate at the key"),
        ([INF], {}, "not JSON-serialisable"),
        ([], {"b": NAN}, "not JSON-serialisable"),
    ],
)
def test_data_postgresql_cannot_store_is_refused_before_any_sql(args, kwargs, words):
    refused_before_any_sql(lambda: tasks.add.enqueue(*args, **kwargs), SerializationError, words)


@pytest.mark.django_db
def test_a_backslash_before_u0000_is_no_nul():
    job = tasks.add.enqueue("\\u0000", {"\\u0000": "\\\\u0000"})
    assert Job.objects.get(id=job.id).args == ["\\u0000", {"\\u0000": "\\\\u0000"}]


@pytest.mark.django_db(transaction=True)
def test_enqueue_many_refuses_a_nul_in_any_item_before_any_sql():
    error = refused_before_any_sql(
        lambda: django_jobs.enqueue_many(tasks.add, [(1, 2), (3, "\x00")]),
        SerializationError,
        "Item 1 of calls",
    )
    assert "positional argument 1" in str(error)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: tasks.add.using(delay=INF), "delay"),
        (lambda: tasks.add.using(delay=NAN), "delay"),
        (lambda: tasks.add.using(delay=10**20), "delay"),
        (lambda: tasks.add.using(delay=dt.timedelta.max), "delay"),
        (lambda: tasks.add.using(delay=-1), "delay"),
        (lambda: tasks.add.using(timeout_seconds=INF), "timeout_seconds"),
        (lambda: tasks.add.using(timeout_seconds=NAN), "timeout_seconds"),
        (lambda: tasks.add.using(timeout_seconds=10**12), "timeout_seconds"),
        (lambda: tasks.add.using(max_attempts=2**31), "max_attempts"),
        (lambda: tasks.add.using(max_attempts=10**30), "max_attempts"),
        (lambda: tasks.add.using(priority=10**30), "priority"),
        (lambda: tasks.add.using(queue="q" * 65), "queue"),
        (lambda: tasks.add.using(idempotency_key="k\x00"), "idempotency_key"),
        (lambda: job(timeout_seconds=INF)(tasks.undecorated_add), "timeout_seconds"),
        (lambda: job(max_attempts=10**12)(tasks.undecorated_add), "max_attempts"),
        (lambda: job(queue="")(tasks.undecorated_add), "queue"),
        (lambda: enqueue_job("tests.tasks.add", backoff_base_seconds=INF), "backoff_base"),
        (lambda: enqueue_job("tests.tasks.add", backoff_max_seconds=10**12), "backoff_max"),
        (lambda: enqueue_job("tests.tasks.add", timeout_seconds=NAN), "timeout_seconds"),
    ],
)
def test_out_of_range_options_raise_invalid_job_options_before_any_sql(call, words):
    error = refused_before_any_sql(call, InvalidJobOptionsError, words)
    assert not isinstance(error, OverflowError | TypeError)


@pytest.mark.django_db
@jobs_settings(MAX_ARGUMENTS_BYTES=1000)
def test_arguments_over_the_size_limit_are_refused_with_what_to_do():
    error = refused_before_any_sql(
        lambda: tasks.add.enqueue("x" * 600, b="y" * 600), SerializationError, "over the limit"
    )
    message = str(error)
    assert "1000 bytes" in message and "MAX_ARGUMENTS_BYTES" in message
    assert "pass its id" in message
    tasks.add.enqueue("x" * 400, b="y" * 400)  # under the limit


@pytest.mark.django_db
def test_the_default_size_limit_is_one_mebibyte_of_utf8():
    refused_before_any_sql(
        lambda: tasks.add.enqueue("é" * (600 * 1024)), SerializationError, "1.2 MiB"
    )
    tasks.add.enqueue("x" * (1024 * 1024 - 100))


@pytest.mark.django_db
@jobs_settings(MAX_ARGUMENTS_BYTES=None)
def test_no_size_limit_when_the_setting_is_none():
    job = tasks.add.enqueue("x" * (2 * 1024 * 1024))
    assert len(Job.objects.get(id=job.id).args[0]) == 2 * 1024 * 1024


@pytest.mark.django_db
def test_a_nested_job_task_is_refused_at_enqueue():
    @job
    def nested() -> None: ...

    with pytest.raises(django_jobs.InvalidTaskError, match="module-level"):
        nested.enqueue()
