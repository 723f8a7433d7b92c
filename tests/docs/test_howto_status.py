"""The status how-to's example project works as the page says: its files are the page's."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

from django.db import connection

from .pages import DOCS, page_blocks

PAGE = "howto/status-and-progress.md"
PROJECT = Path(__file__).resolve().parent / "status"


def test_every_file_and_marker_the_status_how_to_includes_exists():
    included = [block for block in page_blocks(PAGE) if block.include_path]
    assert {Path(block.include_path).name for block in included} >= {
        "models.py",
        "jobs.py",
        "views.py",
        "urls.py",
        "permissions.py",
        "export.html",
    }
    for block in included:
        source = (DOCS / "howto" / block.include_path).resolve()
        assert source.is_file() and source.is_relative_to(PROJECT), source
        marker = block.option("start-after")
        assert marker is None or marker in source.read_text(), (marker, source)


def test_the_status_example_refuses_strangers_and_reports_progress_to_its_owner(
    tmp_path, django_db_blocker
):
    """Run it on the suite's database engine; on PostgreSQL in a database made for the run."""
    project = tmp_path / "status"
    shutil.copytree(PROJECT, project, ignore=shutil.ignore_patterns("__pycache__", "*.sqlite3"))
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    if connection.vendor == "sqlite":
        _check(project, env)
        return
    database = f"status_{uuid.uuid4().hex[:8]}"
    settings = connection.settings_dict
    for variable, key in (("PGHOST", "HOST"), ("PGPORT", "PORT"), ("PGUSER", "USER")):
        if settings[key]:
            env[variable] = str(settings[key])
    if settings["PASSWORD"]:
        env["PGPASSWORD"] = settings["PASSWORD"]
    env["STATUS_DATABASE_NAME"] = database
    env["DJANGO_SETTINGS_MODULE"] = "mysite.settings_postgresql"
    with django_db_blocker.unblock(), connection._nodb_cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{database}"')
    try:
        _check(project, env)
    finally:
        with django_db_blocker.unblock(), connection._nodb_cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def _check(project: Path, env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "check.py"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
