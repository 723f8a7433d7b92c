"""``manage.py demo`` as its users run it: a real process on a fresh SQLite file.

The demo always gets its own temporary SQLite database, so these tests are the same whichever
database the rest of the suite runs on.
"""

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT


@pytest.fixture
def demo_env(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "testproject.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "EMAIL_FILE_PATH": str(tmp_path / "mail"),
        "PYTHONPATH": str(ROOT),
    }
    env.pop("SQLITE_TEST_NAME", None)
    return env


def manage(env, *args, timeout=180):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_demo_runs_every_job_to_its_expected_end(demo_env, tmp_path):
    assert manage(demo_env, "migrate", "--verbosity", "0").returncode == 0

    demo = manage(demo_env, "demo")

    assert demo.returncode == 0, demo.stdout + demo.stderr
    lines = demo.stdout.splitlines()
    table = {re.split(r"\s{2,}", line)[1]: line for line in lines if line[:1].isdigit()}
    assert set(table) == {
        "export: all customers",
        "export: all orders",
        "export: orders, last 30 days",
        "export: orders, 90 to 60 days ago",
        "welcome email",
        "flaky job",
        "always-failing job",
    }
    assert " done " in table["export: all orders"]
    assert " done " in table["welcome email"]
    assert " done " in table["flaky job"] and " 3/5 " in table["flaky job"]
    assert "failed (dead job)" in table["always-failing job"]
    assert "Every job ended as expected." in demo.stdout
    # Each page, JSON status and CSV file is the first visitor's; a second gets 404 for each.
    assert "A second visitor got 404 for all 18 status pages, JSON statuses and CSV files" in (
        demo.stdout
    )
    assert "python manage.py runworker" in demo.stdout
    with open(tmp_path / "media" / "exports" / "customers-1.csv", newline="") as f:
        assert len(list(csv.reader(f))) == 1 + 200
    [email] = (tmp_path / "mail").glob("*.log")
    assert "Welcome to the reports demo" in email.read_text()


def test_demo_fails_loudly_when_jobs_outlive_its_deadline(demo_env):
    assert manage(demo_env, "migrate", "--verbosity", "0").returncode == 0

    demo = manage(demo_env, "demo", "--timeout", "0")

    # The first burst leaves the flaky and failing jobs waiting on a retry.
    assert demo.returncode == 1
    assert "were still queued or running after 0s" in demo.stderr


def test_demo_refuses_an_unmigrated_database(demo_env):
    demo = manage(demo_env, "demo")

    assert demo.returncode == 1
    assert "run manage.py migrate first" in demo.stderr
    assert not Path(demo_env["MEDIA_ROOT"]).exists()
