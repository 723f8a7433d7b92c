"""The django.tasks how-to's example project works as the page says: its files are the page's."""

from __future__ import annotations

import shlex
import sys
import tomllib
from pathlib import Path

from .pages import included_sources, page_blocks
from .projects import project_copy, run_python, start_then_stop

PAGE = "howto/django-tasks.md"
PROJECT = Path(__file__).resolve().parent / "tasks_backend"
PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
MIGRATE = "python manage.py migrate"
RUNWORKERS = (
    "python manage.py runworker --concurrency 4",
    'python manage.py runworker --queue mail       # only the "mail" queue',
)
INSTALLS = ("pip install django-durable-jobs", 'pip install "django-durable-jobs[tasks]"')
# The first lines of the page's blocks that the tests below run, or check (the installs: make
# package installs the built wheel; here they must name this distribution and its extra).
COMMANDS = (MIGRATE, RUNWORKERS[0], *INSTALLS)


def test_every_file_and_marker_the_django_tasks_how_to_includes_exists():
    sources = included_sources(PAGE)
    assert all(source.is_relative_to(PROJECT) for source in sources), sources
    assert {source.name for source in sources} == {
        "settings.py",
        "tasks.py",
        "orders.py",
        "results.py",
        "aliases.py",
        "patient.py",
        "from_tasks_db.py",
        "reindex.py",
    }


def test_the_pages_commands_are_the_ones_run_here():
    shown = {block.body for block in page_blocks(PAGE) if block.info == "bash"}
    assert shown == {MIGRATE, "\n".join(RUNWORKERS), *INSTALLS}


def test_the_install_commands_name_this_distribution_and_its_tasks_extra():
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    plain, with_extra = (shlex.split(command)[-1] for command in INSTALLS)
    assert plain == project["name"] and with_extra == f"{project['name']}[tasks]"
    assert any(
        requirement.startswith("django-tasks")
        for requirement in project["optional-dependencies"]["tasks"]
    )


def test_tasks_enqueue_in_the_callers_transaction_and_run_on_the_workers(
    tmp_path, django_db_blocker
):
    workdir = tmp_path / "tasks_backend"
    with project_copy(PROJECT, workdir, django_db_blocker) as env:
        migrated = run_python(workdir, env, *shlex.split(MIGRATE)[1:])
        assert migrated.returncode == 0, migrated.stderr
        done = run_python(workdir, env, "check.py")
        assert done.returncode == 0, done.stderr
        for command in RUNWORKERS:
            argv = [sys.executable, *shlex.split(command, comments=True)[1:]]
            assert start_then_stop(argv, workdir, env, "Worker") == 0, command
