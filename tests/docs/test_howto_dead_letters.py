"""The dead-letter how-to's code blocks (tests/docs/dead_letters/), run on the test database."""

from __future__ import annotations

import itertools
import logging
import runpy
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from django_jobs.models import DeadJob, Job
from django_jobs.signals import job_dead_lettered
from django_jobs.worker import Worker
from tests import tasks

from .dead_letters import myapp
from .dead_letters.myapp import apps, jobs
from .pages import DOCS, page_blocks

PAGE = "howto/dead-letters.md"
EXAMPLES = Path(__file__).resolve().parent / "dead_letters"
_job_ids = itertools.count(910_000)


def make_dead(**fields) -> DeadJob:
    values = {
        "job_id": next(_job_ids),
        "task_path": "shop.jobs.sync_inventory",
        "queue": "default",
        "max_attempts": 3,
        "attempts": 3,
        "exception_class": "builtins.KeyError",
        "message": "'sku-17'",
        "enqueued_at": timezone.now(),
        **fields,
    }
    return DeadJob.objects.create(**values)


def test_every_file_the_dead_letter_how_to_includes_is_an_example_here():
    included = {block.include_path for block in page_blocks(PAGE) if block.include_path}
    assert {(DOCS / "howto" / path).resolve() for path in included} == {
        EXAMPLES / "myapp" / "apps.py",
        EXAMPLES / "myapp" / "jobs.py",
        EXAMPLES / "replay_after_fix.py",
    }


@pytest.mark.django_db(transaction=True)
def test_the_alert_receiver_logs_each_dead_job_in_the_worker(caplog):
    apps.MyAppConfig("myapp", myapp).ready()
    try:
        job = tasks.permanent_failure.enqueue()
        with caplog.at_level(logging.ERROR, logger=apps.__name__):
            assert Worker(burst=True).run() == 0
    finally:
        assert job_dead_lettered.disconnect(dispatch_uid="myapp.alert_dead_job")
    alerts = [record.getMessage() for record in caplog.records if record.name == apps.__name__]
    assert alerts == [
        f"Job {job.id} (tests.tasks.permanent_failure) is dead: this input can never work"
    ]


@pytest.mark.django_db
def test_replay_after_a_fix_enqueues_the_dead_jobs_of_that_bug_once():
    dead = [make_dead(), make_dead()]
    other = make_dead(exception_class="builtins.ValueError")
    replayed = make_dead(replayed_at=timezone.now())

    names = runpy.run_path(str(EXAMPLES / "replay_after_fix.py"))

    assert sorted(job.task_path for job in names["new_jobs"]) == ["shop.jobs.sync_inventory"] * 2
    for row in dead:
        row.refresh_from_db()
        assert row.replayed_by == "deploy-2024-06-01"
        assert Job.objects.get(pk=row.replayed_job_id).status == "queued"
    other.refresh_from_db()
    assert other.replayed_at is None and replayed.replayed_job_id is None
    assert runpy.run_path(str(EXAMPLES / "replay_after_fix.py"))["new_jobs"] == []


@pytest.mark.django_db(transaction=True)
def test_the_prune_job_deletes_dead_jobs_older_than_its_days():
    old = make_dead(failed_at=timezone.now() - timedelta(days=91))
    recent = make_dead(failed_at=timezone.now() - timedelta(days=89))
    week_old = make_dead(failed_at=timezone.now() - timedelta(days=8))

    job = jobs.prune_dead_jobs.enqueue()
    assert Worker(burst=True).run() == 0
    assert Job.objects.get(pk=job.pk).status == "done"
    assert set(DeadJob.objects.values_list("pk", flat=True)) == {recent.pk, week_old.pk}

    jobs.prune_dead_jobs.enqueue(days=7)
    assert Worker(burst=True).run() == 0
    assert not DeadJob.objects.filter(pk__in=[old.pk, recent.pk, week_old.pk]).exists()
