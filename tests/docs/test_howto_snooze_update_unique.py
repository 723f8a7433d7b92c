"""The code blocks of the snooze, change-queued-jobs and unique how-tos (tests/docs/flow/), run on
the database."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
from django.utils import timezone

from django_jobs import engine
from django_jobs.models import Job, JobStatus
from django_jobs.worker import Worker

from .flow import exports, jobs
from .pages import DOCS, page_blocks

PAGES = ("howto/snoozing-jobs.md", "howto/changing-queued-jobs.md", "howto/unique-jobs.md")
EXAMPLES = Path(__file__).resolve().parent / "flow"


def test_every_file_the_page_includes_is_an_example_here():
    included = {
        block.include_path for page in PAGES for block in page_blocks(page) if block.include_path
    }
    assert {(DOCS / "howto" / path).resolve() for path in included} == {
        EXAMPLES / "jobs.py",
        EXAMPLES / "shell.py",
    }


@pytest.mark.django_db(transaction=True)
def test_the_export_job_snoozes_until_the_export_is_ready_then_publishes():
    job = jobs.publish_export.enqueue(7)
    Worker(burst=True).run()
    job.refresh_from_db()
    assert (job.status, job.attempts, job.snoozes) == (JobStatus.QUEUED, 0, 1)
    assert job.run_at > timezone.now() + timezone.timedelta(seconds=25)
    exports.READY.add(7)
    try:
        engine.run_now([job.id])
        Worker(burst=True).run()
    finally:
        exports.READY.discard(7)
    job.refresh_from_db()
    assert (job.status, job.attempts, job.result) == (
        JobStatus.DONE, 1, "published 7 after 1 snoozes",
    )  # fmt: skip


@pytest.mark.django_db
def test_the_unique_and_debounced_tasks_do_what_the_page_says():
    first = jobs.sync_account.enqueue(3)
    Job.objects.filter(id=first.id).update(status=JobStatus.DONE, finished_at=timezone.now())
    assert jobs.sync_account.enqueue(3).id == first.id
    saved = [jobs.reindex.enqueue([n]).id for n in range(3)]
    assert len(set(saved)) == 1
    assert Job.objects.get(id=saved[0]).args == [[2]]


@pytest.mark.django_db
def test_the_shell_example_moves_the_newsletters(capsys):
    newsletters = [Job.objects.create(task_path="shop.jobs.send_newsletter") for _ in range(2)]
    Job.objects.filter(id=newsletters[1].id).update(status=JobStatus.RUNNING)
    runpy.run_path(str(EXAMPLES / "shell.py"))
    assert capsys.readouterr().out == "1 newsletter job(s) moved\n"
    moved = Job.objects.get(id=newsletters[0].id)
    assert (moved.priority, moved.queue, moved.run_at.hour) == (-10, "bulk", 2)
    assert Job.objects.get(id=newsletters[1].id).queue == "default"
