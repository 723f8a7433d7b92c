"""The quickstart page shows the files of a project that runs as the page says it does."""

from __future__ import annotations

import sys
import uuid

from django.db import connection

from . import walkthrough
from .pages import included_sources, page_blocks

PAGE = "tutorial/quickstart.md"

# Commands the page shows that walkthrough.py does not run, and what stands for them.
NOT_WALKED = {
    "python -m pip install django-durable-jobs": "make package installs the built wheel",
    'python -m pip install "django-durable-jobs[binary]"': "the extra is checked by make package",
    "django-admin startproject mysite .": "the project is kept made, in tests/docs/quickstart",
    "python manage.py startapp accounts": "likewise",
    "createdb mysite": "the PostgreSQL run creates a database of its own",
    "python manage.py createsuperuser": "interactive; admin_steps.py logs in as a superuser",
}


def test_every_file_and_marker_the_quickstart_includes_exists():
    assert len(included_sources(PAGE)) >= 8


def test_every_command_of_the_quickstart_is_walked_or_stood_for():
    shown = {
        line.strip()
        for block in page_blocks(PAGE)
        if block.info == "bash"
        for line in block.body.splitlines()
        if line.strip()
    }
    assert shown == set(walkthrough.COMMANDS) | set(NOT_WALKED)


def test_the_quickstart_project_runs_as_the_page_says(tmp_path, monkeypatch, django_db_blocker):
    """Run it on the suite's database engine; on PostgreSQL in a database made for the run."""
    if connection.vendor == "sqlite":
        walkthrough.walk(sys.executable, tmp_path / "mysite")
        return
    database = f"quickstart_{uuid.uuid4().hex[:8]}"
    settings = connection.settings_dict
    for variable, key in (("PGHOST", "HOST"), ("PGPORT", "PORT"), ("PGUSER", "USER")):
        if settings[key]:
            monkeypatch.setenv(variable, str(settings[key]))
    if settings["PASSWORD"]:
        monkeypatch.setenv("PGPASSWORD", settings["PASSWORD"])
    monkeypatch.setenv("QUICKSTART_DATABASE_NAME", database)
    with django_db_blocker.unblock(), connection._nodb_cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{database}"')
    try:
        walkthrough.walk(sys.executable, tmp_path / "mysite", "mysite.settings_postgresql")
    finally:
        with django_db_blocker.unblock(), connection._nodb_cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
