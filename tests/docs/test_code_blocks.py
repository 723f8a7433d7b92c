"""Every code block of the tutorial and how-tos is run by a test, or counted here as not yet.

A block is covered when it includes a file of an example project that a test runs
(``{literalinclude}``; tests/docs/test_quickstart.py, test_howto_*.py check the files and run
them), or, in the quickstart, when it is one of the commands walkthrough.py runs or the output it
checks, or, in a how-to, when RUN_BY_TESTS names it. The rest are counted per page below: a page
with more uncovered blocks than its count fails (put the new code in an example project and
include it), and so does one with fewer (lower its count). Files for systemd and Kubernetes, which
no test here can run, are example files that test_howto_deploying.py checks for what the page says.
"""

from __future__ import annotations

import pytest

from . import test_howto_cancel as cancel
from . import test_howto_deploying as deploying
from . import test_howto_django_tasks as django_tasks
from . import test_howto_doctor as doctor
from . import test_howto_metrics as metrics
from . import test_howto_operating_command as operating_command
from . import test_howto_pause as pause
from . import test_howto_recurring as recurring
from . import test_howto_retention as retention
from .pages import DOCS, page_blocks
from .test_quickstart import NOT_WALKED
from .walkthrough import COMMANDS

UNCOVERED = {
    "tutorial/quickstart.md": 0,
    "howto/admin.md": 0,
    "howto/cancelling-jobs.md": 0,
    "howto/dead-letters.md": 0,
    "howto/deploying-workers.md": 0,
    "howto/django-tasks.md": 0,
    "howto/recurring-jobs.md": 0,
    "howto/concurrency-limits.md": 0,
    "howto/rate-limits.md": 0,
    "howto/status-and-progress.md": 0,
    "howto/snoozing-jobs.md": 0,
    "howto/changing-queued-jobs.md": 0,
    "howto/unique-jobs.md": 0,
    "howto/workflows.md": 0,
    "howto/operating/index.md": 0,
    "howto/operating/doctor.md": 0,
    "howto/operating/retention.md": 0,
    "howto/operating/charts.md": 0,
    "howto/operating/metrics.md": 0,
    "howto/operating/command.md": 0,
    "howto/operating/pause.md": 0,
}
QUICKSTART_OUTPUTS = ("json", "text")
# How-to blocks that a test runs or checks though they include no file, by the block's first line:
# the test finds the block in the page and runs its commands, compares its output or checks what it
# names (the django.tasks installs: the distribution and extra in pyproject.toml).
RUN_BY_TESTS = {
    "howto/cancelling-jobs.md": cancel.COMMANDS,
    "howto/deploying-workers.md": deploying.COMMANDS,
    "howto/django-tasks.md": set(django_tasks.COMMANDS),
    "howto/operating/doctor.md": doctor.COMMANDS,
    "howto/recurring-jobs.md": {*recurring.COMMANDS, recurring.CHECK},
    "howto/operating/retention.md": retention.COMMANDS,
    "howto/operating/metrics.md": metrics.COMMANDS,
    "howto/operating/command.md": set(operating_command.COMMANDS),
    "howto/operating/pause.md": pause.COMMANDS,
}


def uncovered(page: str) -> list[str]:
    """The first lines of the blocks of ``page`` that no test runs."""
    found = []
    for block in page_blocks(page):
        if block.info == "{toctree}":  # a table of contents, not code
            continue
        if block.include_path or block.body.splitlines()[0] in RUN_BY_TESTS.get(page, ()):
            continue
        lines = {line.strip() for line in block.body.splitlines() if line.strip()}
        if page.startswith("tutorial/") and (
            block.info in QUICKSTART_OUTPUTS or lines <= set(COMMANDS) | set(NOT_WALKED)
        ):
            continue
        found.append(block.body.splitlines()[0])
    return found


def test_every_tutorial_and_how_to_page_is_counted():
    pages = {str(path.relative_to(DOCS)) for path in DOCS.glob("tutorial/*.md")}
    pages |= {str(path.relative_to(DOCS)) for path in DOCS.glob("howto/**/*.md")}
    assert pages == set(UNCOVERED)


@pytest.mark.parametrize("page", sorted(UNCOVERED))
def test_no_page_gains_a_code_block_that_no_test_runs(page):
    blocks = uncovered(page)
    assert len(blocks) == UNCOVERED[page], (
        f"{page} has {len(blocks)} code blocks no test runs, counted {UNCOVERED[page]}: {blocks}"
    )
