"""enqueue_many: many jobs in few statements, all or nothing, validated first."""

import datetime as dt

import pytest
from django.db import transaction
from django.utils import timezone

import django_jobs
from django_jobs import InvalidJobOptionsError, SerializationError
from django_jobs.models import Job, JobStatus
from django_jobs.worker import Worker
from tests import tasks
from tests.models import Execution

pytestmark = pytest.mark.django_db(transaction=True)


def test_inserts_every_call_with_the_task_options_and_returns_ids():
    run_at = timezone.now() - dt.timedelta(seconds=1)
    ids = django_jobs.enqueue_many(
        tasks.record.using(priority=7, queue="bulk", run_at=run_at),
        [("a",), ["b"], {"key": "c"}],
    )
    jobs = list(Job.objects.filter(id__in=ids).order_by("id"))
    assert [(j.args, j.kwargs) for j in jobs] == [(["a"], {}), (["b"], {}), ([], {"key": "c"})]
    assert {(j.priority, j.queue, j.run_at, j.status) for j in jobs} == {
        (7, "bulk", run_at, JobStatus.QUEUED)
    }
    Worker(burst=True).run()
    assert sorted(Execution.objects.values_list("key", flat=True)) == ["a", "b", "c"]


def test_batches_commit_or_roll_back_together():
    with pytest.raises(RuntimeError), transaction.atomic():
        django_jobs.enqueue_many(tasks.add, [(i, i) for i in range(5_000)])
        raise RuntimeError
    assert not Job.objects.exists()
    ids = django_jobs.enqueue_many(tasks.add, [(i, i) for i in range(5_000)])
    assert len(set(ids)) == Job.objects.count() == 5_000


def test_a_bad_item_is_named_and_nothing_is_inserted():
    with pytest.raises(SerializationError, match=r"Item 2 of calls: .*positional argument 1"):
        django_jobs.enqueue_many(tasks.add, [(1, 2), (3, 4), (5, object())])
    with pytest.raises(InvalidJobOptionsError, match="idempotency_key"):
        django_jobs.enqueue_many(tasks.add.using(idempotency_key="k"), [(1, 2)])
    assert not Job.objects.exists()


def test_empty_calls_insert_nothing():
    assert django_jobs.enqueue_many(tasks.add, []) == []
