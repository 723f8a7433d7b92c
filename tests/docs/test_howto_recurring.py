"""The recurring-jobs how-to's example project works as the page says: its files are the page's."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from .pages import included_sources, page_blocks
from .projects import project_copy, run_python, start_then_stop

PAGE = "howto/recurring-jobs.md"
PROJECT = Path(__file__).resolve().parent / "recurring"
CHECK = "$ python manage.py check"
# The page's commands that test_long_running_commands_start_and_stop_on_sigterm runs.
COMMANDS = ("python manage.py runscheduler", "python manage.py runworker --with-scheduler")


def test_every_file_and_marker_the_recurring_how_to_includes_exists():
    sources = included_sources(PAGE)
    assert all(source.is_relative_to(PROJECT) for source in sources), sources
    assert {source.name for source in sources} == {
        "jobs.py",
        "settings.py",
        "reports.py",
        "maintenance.py",
    }


def test_the_schedules_pass_the_checks_run_from_the_ledger_and_are_pruned(
    tmp_path, django_db_blocker
):
    shown = next(block.body for block in page_blocks(PAGE) if block.body.startswith(CHECK))
    e104 = next(line for line in shown.splitlines() if "E104" in line).removesuffix("...")
    with project_copy(PROJECT, tmp_path / "recurring", django_db_blocker) as env:
        done = run_python(tmp_path / "recurring", env, "check.py")
    assert done.returncode == 0, done.stderr
    assert any(line.startswith(e104) for line in done.stdout.splitlines()), (done.stdout, e104)


def test_long_running_commands_start_and_stop_on_sigterm(tmp_path, django_db_blocker):
    shown = {block.body for block in page_blocks(PAGE) if block.info == "bash"}
    assert shown == set(COMMANDS)
    workdir = tmp_path / "recurring"
    with project_copy(PROJECT, workdir, django_db_blocker) as env:
        migrated = run_python(workdir, env, "manage.py", "migrate", "-v", "0")
        assert migrated.returncode == 0, migrated.stderr
        for command in COMMANDS:
            argv = [sys.executable, *shlex.split(command)[1:]]
            assert start_then_stop(argv, workdir, env, "Scheduler") == 0, command
