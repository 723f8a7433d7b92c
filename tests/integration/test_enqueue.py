"""Enqueue: the INSERT joins the caller's transaction, and bad input inserts nothing."""

import datetime as dt
import shutil
import threading

import pytest
from django.db import connection, transaction
from django.test import override_settings
from django.utils import timezone

import django_jobs
from django_jobs import (
    InvalidJobOptionsError,
    InvalidTaskError,
    SerializationError,
    UnknownTaskError,
)
from django_jobs.engine import claim
from django_jobs.models import Job, JobStatus
from tests import plain_tasks, tasks
from tests.models import Order


@pytest.mark.django_db(transaction=True)
def test_rolled_back_enqueue_leaves_no_job():
    with pytest.raises(RuntimeError), transaction.atomic():
        Order.objects.create(reference="A-1")
        tasks.add.enqueue(1, 2)
        raise RuntimeError("business logic failed")
    assert not Order.objects.exists()
    assert not Job.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_committed_enqueue_leaves_one_job_with_its_defaults():
    with transaction.atomic():
        Order.objects.create(reference="A-2")
        job = tasks.add.enqueue(1, 2)
    stored = Job.objects.get()
    assert stored.id == job.id
    assert stored.task_path == "tests.tasks.add"
    assert (stored.args, stored.kwargs) == ([1, 2], {})
    assert (stored.queue, stored.priority, stored.status) == ("default", 0, JobStatus.QUEUED)
    assert stored.max_attempts == 20 and stored.attempts == 0


@pytest.mark.postgres  # SQLite serialises writers: the claim would wait for the lock instead
@pytest.mark.django_db(transaction=True)
def test_another_connection_claims_the_job_only_after_commit():
    inserted, release = threading.Event(), threading.Event()

    def enqueue_and_hold() -> None:
        with transaction.atomic():
            tasks.add.enqueue(1, 2)
            inserted.set()
            release.wait(10)
        connection.close()

    thread = threading.Thread(target=enqueue_and_hold)
    thread.start()
    assert inserted.wait(10)
    assert claim(worker_id="w", limit=10, lease_seconds=30) == []
    release.set()
    thread.join(10)
    claimed = claim(worker_id="w", limit=10, lease_seconds=30)
    assert [j.task_path for j in claimed] == ["tests.tasks.add"]


@pytest.mark.django_db
def test_plain_function_of_a_task_module_and_dotted_path_enqueue():
    by_func = django_jobs.enqueue(plain_tasks.plain_add, 1, b=2)
    by_path = django_jobs.enqueue("tests.plain_tasks.plain_add", 3, 4)
    by_task_path = django_jobs.enqueue("tests.tasks.send_mail_task", "a@example.com")
    assert by_func.task_path == by_path.task_path == "tests.plain_tasks.plain_add"
    assert by_func.kwargs == {"b": 2}
    assert (by_task_path.queue, by_task_path.priority) == ("mail", 10)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("task", "error"),
    [
        ("os.system", UnknownTaskError),
        ("subprocess.getoutput", UnknownTaskError),
        ("builtins.eval", UnknownTaskError),
        ("shutil.rmtree", UnknownTaskError),
        ("django.core.management.call_command", UnknownTaskError),
        ("tests.tasks.undecorated_add", UnknownTaskError),  # an installed app, but not listed
        ("tests.plain_tasks.shutil", UnknownTaskError),  # a module, not a function
        (tasks.undecorated_add, InvalidTaskError),
        (shutil.rmtree, InvalidTaskError),
    ],
)
def test_anything_but_a_registered_task_is_refused_at_enqueue(task, error):
    with pytest.raises(error, match="not a registered task") as info:
        django_jobs.enqueue(task, "touch f")
    assert "@django_jobs.job" in str(info.value) and "TASK_MODULES" in str(info.value)
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_django_task_path_is_refused_by_enqueue_with_advice():
    pytest.importorskip("django_jobs.backends.compat")
    with pytest.raises(InvalidTaskError, match="its own API"):
        django_jobs.enqueue("tests.tasks_django.add", 1, 2)


@pytest.mark.django_db
def test_using_sets_options_and_leaves_the_task_unchanged():
    run_at = timezone.now() + dt.timedelta(hours=1)
    job = tasks.add.using(run_at=run_at, priority=-5, queue="low", max_attempts=2).enqueue(1, 1)
    assert (job.run_at, job.priority, job.queue, job.max_attempts) == (run_at, -5, "low", 2)
    assert tasks.add.priority is None
    delayed = tasks.add.using(delay=60).enqueue(1, 1)
    assert delayed.run_at > timezone.now() + dt.timedelta(seconds=55)


def nested_function_enqueue():
    def inner() -> None: ...

    return inner


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("call", "error", "words"),
    [
        (lambda: django_jobs.enqueue(lambda: None), InvalidTaskError, "module-level"),
        (lambda: django_jobs.enqueue(nested_function_enqueue()), InvalidTaskError, "module-level"),
        (lambda: django_jobs.enqueue("tests.tasks.nope"), UnknownTaskError, "tests.tasks.nope"),
        (lambda: django_jobs.enqueue("no_such_module.f"), UnknownTaskError, "no_such_module"),
        (
            lambda: tasks.add.enqueue(1, dt.datetime(2026, 1, 1)),
            SerializationError,
            "positional argument 1 (datetime",
        ),
        (lambda: tasks.add.enqueue(1, b={1, 2}), SerializationError, "keyword argument 'b'"),
        (
            lambda: tasks.add.using(run_at=dt.datetime(2030, 1, 1)).enqueue(1, 2),
            InvalidJobOptionsError,
            "naive",
        ),
        (lambda: tasks.add.using(priority=101).enqueue(1, 2), InvalidJobOptionsError, "-100..100"),
        (lambda: tasks.add.using(priority=-101).enqueue(1, 2), InvalidJobOptionsError, "range"),
        (
            lambda: tasks.add.using(max_attempts=0).enqueue(1, 2),
            InvalidJobOptionsError,
            "1..2147483647",
        ),
        (
            lambda: tasks.add.using(run_at=timezone.now(), delay=5),
            InvalidJobOptionsError,
            "not both",
        ),
    ],
)
def test_bad_input_raises_a_clear_error_and_inserts_nothing(call, error, words):
    with pytest.raises(error, match=None) as info:
        call()
    assert words in str(info.value)
    assert not Job.objects.exists()


@pytest.mark.django_db
@override_settings(DJANGO_JOBS={"QUEUES": ["default", "mail"]})
def test_unknown_queue_is_refused_where_queues_are_restricted():
    tasks.send_mail_task.enqueue("a@example.com")
    with pytest.raises(InvalidJobOptionsError, match="Unknown queue 'reports'"):
        tasks.add.using(queue="reports").enqueue(1, 2)
    assert Job.objects.count() == 1


@pytest.mark.django_db
def test_idempotency_key_returns_the_live_job_and_frees_when_done():
    first = tasks.add.using(idempotency_key="order-7").enqueue(1, 2)
    again = tasks.add.using(idempotency_key="order-7").enqueue(1, 2)
    assert again.id == first.id and Job.objects.count() == 1
    Job.objects.filter(id=first.id).update(status=JobStatus.DONE)
    later = tasks.add.using(idempotency_key="order-7").enqueue(1, 2)
    assert later.id != first.id


@pytest.mark.django_db(transaction=True)
def test_concurrent_enqueues_with_one_key_insert_one_job():
    barrier = threading.Barrier(4)
    ids: list[int] = []

    def enqueue() -> None:
        barrier.wait(10)
        with transaction.atomic():
            ids.append(tasks.add.using(idempotency_key="race").enqueue(1, 2).id)
        connection.close()

    threads = [threading.Thread(target=enqueue) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(ids) == 4 and len(set(ids)) == 1
    assert Job.objects.count() == 1


@pytest.mark.django_db
def test_enqueue_inside_a_caller_savepoint_conflict_keeps_the_transaction_usable():
    with transaction.atomic():
        tasks.add.using(idempotency_key="k").enqueue(1, 2)
        tasks.add.using(idempotency_key="k").enqueue(1, 2)
        Order.objects.create(reference="still usable")
    assert Order.objects.count() == 1


@pytest.mark.django_db
def test_async_enqueue():
    from asgiref.sync import async_to_sync

    job = async_to_sync(tasks.add.aenqueue)(2, 2)
    assert Job.objects.get(id=job.id).args == [2, 2]
