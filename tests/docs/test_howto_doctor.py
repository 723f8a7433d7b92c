"""The doctor how-to's commands, run as the page shows them, and the reference's JSON example.

Each ``manage.py jobs doctor`` line of docs/howto/operating/doctor.md is parsed by the real
command's parser and run on the test database; the development server has autovacuum off, so
exit status 1 (a problem found) is as good as 0 here: what is checked is that the options the
page shows exist and that the command prints what the page says.
"""

from __future__ import annotations

import io
import json
import shlex

import pytest
from django.core.management import call_command, load_command_class

from django_jobs.doctor import Finding, Level

from .pages import page_blocks

PAGE = "howto/operating/doctor.md"
PLAIN = "python manage.py jobs doctor"
PLANNED = (
    "python manage.py jobs doctor --hosts 3 --processes 2 --concurrency 10 --schedulers 1 "
    "--other-connections 40"
)
CI = "python manage.py jobs doctor --json --skip connections"
#: Shell blocks a test here runs, by their first line (see test_code_blocks.RUN_BY_TESTS).
COMMANDS = {PLAIN, PLANNED, CI}


def run(line: str) -> tuple[int, str]:
    argv = shlex.split(line)
    assert argv[:4] == ["python", "manage.py", "jobs", "doctor"], argv
    out = io.StringIO()
    try:
        call_command(*argv[2:], stdout=out, stderr=io.StringIO())
    except SystemExit as exit_:
        return int(exit_.code or 0), out.getvalue()
    return 0, out.getvalue()


def test_the_page_shows_exactly_these_commands():
    shown = {b.body.strip() for b in page_blocks(PAGE) if b.body.startswith("python manage.py")}
    assert shown == COMMANDS


def test_the_planned_deployment_options_are_the_commands_own():
    command = load_command_class("django_jobs", "jobs")
    options = vars(command.create_parser("manage.py", "jobs").parse_args(shlex.split(PLANNED)[3:]))
    assert (options["hosts"], options["processes"], options["concurrency"]) == (3, 2, 10)
    assert (options["schedulers"], options["other_connections"]) == (1, 40)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("line", [PLAIN, PLANNED])
def test_the_command_prints_a_table_and_a_count(line):
    code, out = run(line)
    assert code in (0, 1), out
    assert "django-jobs doctor" in out and " problem" in out and " warning" in out


@pytest.mark.django_db(transaction=True)
def test_the_ci_command_prints_json_without_the_connection_budget():
    code, out = run(CI)
    document = json.loads(out)
    assert code == (1 if document["problems"] else 0)
    assert "connections" not in {finding["check"] for finding in document["findings"]}


def test_the_references_json_example_has_the_commands_shape():
    # The doctor's is the one JSON example of the page with a "findings" key.
    examples = [json.loads(b.body) for b in page_blocks("reference/jobs-command.md")
                if b.info == "json"]  # fmt: skip
    [example] = [e for e in examples if isinstance(e, dict) and "findings" in e]
    fields = set(Finding("c", Level.OK, "t").as_dict())
    assert set(example) == {"findings", "problems", "warnings"}
    assert all(set(finding) == fields for finding in example["findings"])
