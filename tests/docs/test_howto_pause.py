"""The pause how-to's code blocks, run as the page shows them (tests/docs/pause/), on the DB."""

from __future__ import annotations

import io
import json
import runpy
import shlex
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command

from django_jobs import engine, paused_queues
from django_jobs.models import Job, PausedQueue

from .pages import DOCS, page_blocks

PAGE = "howto/operating/pause.md"
REFERENCE = "reference/jobs-command.md"
EXAMPLES = Path(__file__).resolve().parent / "pause"
#: The shell block a test here runs, by its first line (see test_code_blocks.RUN_BY_TESTS).
PAUSE = "python manage.py jobs pause mail"
COMMANDS = {PAUSE}


def test_every_file_the_page_includes_is_an_example_here():
    included = {block.include_path for block in page_blocks(PAGE) if block.include_path}
    assert {(DOCS / "howto" / "operating" / path).resolve() for path in included} == {
        EXAMPLES / "from_code.py",
        EXAMPLES / "operators.py",
    }


@pytest.mark.django_db
def test_the_commands_pause_then_resume_the_queue():
    [block] = [b for b in page_blocks(PAGE) if b.body.startswith(PAUSE)]
    mail = Job.objects.create(task_path="shop.jobs.send_receipt", queue="mail")
    pause, resume = block.body.splitlines()
    call_command(*shlex.split(pause)[2:], stdout=io.StringIO())
    assert [q.queue for q in paused_queues()] == ["mail"]
    assert engine.claim(worker_id="w", limit=5, lease_seconds=30) == []
    call_command(*shlex.split(resume)[2:], stdout=io.StringIO())
    assert [job.id for job in engine.claim(worker_id="w", limit=5, lease_seconds=30)] == [mail.id]


@pytest.mark.django_db
def test_pausing_from_code_prints_the_pause_and_resuming_ends_it(capsys):
    runpy.run_path(str(EXAMPLES / "from_code.py"))
    printed = capsys.readouterr().out
    assert printed.startswith("mail paused at ") and printed.endswith(
        " UTC by ops: provider outage\n"
    )
    assert not PausedQueue.objects.exists()


@pytest.mark.django_db
def test_the_operators_group_may_pause_and_nothing_more_is_added():
    operators = Group.objects.create(name="Job operators")
    runpy.run_path(str(EXAMPLES / "operators.py"))
    runpy.run_path(str(EXAMPLES / "operators.py"))  # a second run changes nothing
    user = User.objects.create_user("olga", is_staff=True)
    user.groups.add(operators)
    assert user.has_perm("django_jobs.pause_queue")
    assert list(operators.permissions.values_list("codename", flat=True)) == ["pause_queue"]


@pytest.mark.django_db
def test_the_references_json_example_has_the_keys_and_words_the_command_prints():
    # The pause section's example: a list of rows with a "state" key.
    examples = [json.loads(b.body) for b in page_blocks(REFERENCE) if b.info == "json"]
    [[documented]] = [e for e in examples if isinstance(e, list) and e and "state" in e[0]]
    out = io.StringIO()
    call_command("jobs", "pause", "mail", "--by", "ops", "--json", stdout=out)
    [printed] = json.loads(out.getvalue())
    assert set(printed) == set(documented)
    assert {k: printed[k] for k in ("queue", "state", "paused_by")} == {
        k: documented[k] for k in ("queue", "state", "paused_by")
    }
