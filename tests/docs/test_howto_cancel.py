"""The cancelling how-to's code blocks, run as the page shows them (tests/docs/cancel/)."""

from __future__ import annotations

import io
import runpy
import shlex
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from django_jobs.models import Job, JobStatus
from django_jobs.worker import Worker
from tests.conftest import wait_for

from .cancel import jobs
from .pages import DOCS, page_blocks

PAGE = "howto/cancelling-jobs.md"
EXAMPLES = Path(__file__).resolve().parent / "cancel"
#: The shell block a test here runs, by its first line (see test_code_blocks.RUN_BY_TESTS).
CANCEL = "python manage.py jobs cancel 4813 4814"
COMMANDS = {CANCEL}


def test_every_file_the_page_includes_is_an_example_here():
    included = {block.include_path for block in page_blocks(PAGE) if block.include_path}
    assert {(DOCS / "howto" / path).resolve() for path in included} == {
        EXAMPLES / "jobs.py",
        EXAMPLES / "from_code.py",
    }


@pytest.fixture
def worker(transactional_db: None) -> Iterator[Worker]:
    running = Worker(concurrency=2, poll_interval_seconds=0.05)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    yield running
    running.request_stop()
    thread.join(60)


def started(job_id: int) -> None:
    wait_for(
        lambda: Job.objects.filter(id=job_id, started_at__isnull=False).exists(),
        timeout=60,
        what=f"job {job_id} to start",
    )


def ends(job_id: int, status: str) -> Job:
    wait_for(lambda: Job.objects.get(id=job_id).status == status, timeout=60, what=status)
    return Job.objects.get(id=job_id)


def test_both_example_tasks_stop_when_asked_and_end_cancelled(worker):
    from django_jobs import engine

    export = jobs.export_orders.enqueue(list(range(10_000)))
    index = jobs.rebuild_search_index.enqueue(1_000_000)
    started(export.id)
    started(index.id)
    report = engine.cancel([export.id, index.id])
    assert report.requested == sorted([export.id, index.id])
    for job_id in (export.id, index.id):
        ended = ends(job_id, JobStatus.CANCELLED)
        assert ended.errors == [] and ended.attempts == 1
    # The export's file was closed on the way out, with the rows written before the request.
    exported = Path(f"/tmp/export-{export.id}.csv")
    try:
        assert 0 < len(exported.read_text().splitlines()) < 10_000
    finally:
        exported.unlink()


def test_the_example_tasks_finish_when_not_asked(worker):
    export = jobs.export_orders.enqueue([1, 2, 3])
    assert ends(export.id, JobStatus.DONE).result == {"rows": 3}
    Path(f"/tmp/export-{export.id}.csv").unlink()
    index = jobs.rebuild_search_index.enqueue(250)
    assert ends(index.id, JobStatus.DONE).result == 250


@pytest.mark.django_db
def test_cancelling_from_code_prints_what_it_did(capsys, monkeypatch):
    # The page imports its tasks as the project's shop.jobs: the same module here.
    monkeypatch.setitem(sys.modules, "shop", sys.modules["tests.docs.cancel"])
    monkeypatch.setitem(sys.modules, "shop.jobs", jobs)
    runpy.run_path(str(EXAMPLES / "from_code.py"))
    [job] = Job.objects.all()
    # No worker ran here: the job was still queued, so it was cancelled at once.
    assert capsys.readouterr().out == (
        f"cancelled at once: [{job.id}], asked to stop: []\ncancelled\n"
    )


@pytest.mark.django_db
def test_the_command_cancels_the_queued_job_and_asks_the_running_one():
    [block] = [b for b in page_blocks(PAGE) if b.body.startswith(CANCEL)]
    queued = Job.objects.create(id=4813, task_path="shop.jobs.export_orders")
    running = Job.objects.create(
        id=4814, task_path="shop.jobs.export_orders", status=JobStatus.RUNNING,
        started_at=timezone.now(), attempts=1, worker_id="w1",
    )  # fmt: skip
    out = io.StringIO()
    call_command(*shlex.split(block.body)[2:], stdout=out)
    assert out.getvalue().splitlines() == [
        "job 4813: cancelled",
        "job 4814: asked to stop: it is running; it ends cancelled when its task stops",
        "1 cancelled at once (queued), 1 asked to stop (running)",
    ]
    assert Job.objects.get(id=queued.id).status == JobStatus.CANCELLED
    asked = Job.objects.get(id=running.id)
    assert asked.status == JobStatus.RUNNING and asked.cancel_requested_at is not None
