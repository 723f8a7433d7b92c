"""The workflows how-to's code blocks (tests/docs/workflows/), run by a real in-process worker."""

from __future__ import annotations

from pathlib import Path

import pytest

from django_jobs.models import Job, JobStatus
from django_jobs.worker import Worker

from .pages import DOCS, page_blocks
from .workflows import progress, send_invoice, start_report

PAGE = "howto/workflows.md"
EXAMPLES = Path(__file__).resolve().parent / "workflows"

pytestmark = pytest.mark.django_db(transaction=True)


def test_every_file_the_workflows_how_to_includes_is_an_example_here():
    included = {block.include_path for block in page_blocks(PAGE) if block.include_path}
    assert {(DOCS / "howto" / path).resolve() for path in included} == {
        EXAMPLES / "reports.py",
        EXAMPLES / "start_report.py",
        EXAMPLES / "send_invoice.py",
        EXAMPLES / "progress.py",
    }


def test_the_group_runs_its_summary_once_with_every_count():
    workflow_id = start_report.start_daily_report(["north", "south", "east"])
    assert progress.report_progress(workflow_id) == "0/4 done, running"
    assert Worker(burst=True).run() == 0
    summary = Job.objects.get(workflow_id=workflow_id, workflow_position=3)
    assert summary.status == JobStatus.DONE
    assert summary.result == "ops@example.com: 140 orders in 3 regions"
    assert progress.report_progress(workflow_id) == "4/4 done, done"


def test_the_chain_renders_then_emails_the_invoice():
    workflow_id = send_invoice.send_invoice(42, "ann@example.com")
    assert Worker(burst=True).run() == 0
    steps = list(Job.objects.filter(workflow_id=workflow_id).order_by("workflow_position"))
    assert [s.queue for s in steps] == ["default", "pdf", "default"]
    assert steps[-1].result == "sent invoice-42.pdf to ann@example.com"
    assert progress.report_progress(workflow_id) == "3/3 done, done"
