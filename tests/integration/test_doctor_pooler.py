"""The doctor's pooler check against a real PgBouncer (tests/pgbouncer.py) in transaction and
session mode, and what transaction pooling does to the LISTEN/NOTIFY check."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from django.db import connection

from django_jobs.doctor import Context, Level, run_checks
from tests.conftest import ROOT, subprocess_env
from tests.pgbouncer import PgBouncer, skip_or_fail_without_pgbouncer

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def _params(bouncer: PgBouncer) -> dict:
    """Connection keyword arguments for the test database through ``bouncer``."""
    return {**connection.get_connection_params(), "host": "127.0.0.1", "port": bouncer.port}


@pytest.fixture
def session_pgbouncer(tmp_path_factory):
    skip_or_fail_without_pgbouncer()
    settings = connection.settings_dict
    folder = tmp_path_factory.mktemp("pgbouncer-session")
    folder.chmod(0o755)  # PgBouncer runs as postgres under root and must read its files
    with PgBouncer(
        folder, user=settings["USER"] or "postgres", settings={"pool_mode": "session"}
    ) as bouncer:
        yield bouncer


def test_a_transaction_mode_pgbouncer_is_detected_and_loses_notifications(pgbouncer):
    context = Context(connection_params=_params(pgbouncer), notify_timeout_seconds=1.0)
    [pooler] = run_checks(context, only=["pooler"])
    assert pooler.level is Level.WARNING, pgbouncer.output()
    assert pooler.title == "Behind a transaction-mode pooler"
    assert "session-mode pool" in pooler.action
    notify = run_checks(context, only=["notify"])
    assert [f.title for f in notify if f.level is Level.PROBLEM] == ["NOTIFY not delivered"]


def test_a_session_mode_pgbouncer_is_not_taken_for_one(session_pgbouncer):
    context = Context(connection_params=_params(session_pgbouncer))
    assert [f.level for f in run_checks(context, only=["pooler", "notify"])] == [
        Level.OK,
        Level.OK,
    ]


def test_postgresql_itself_is_not_taken_for_a_pooler():
    [finding] = run_checks(Context(), only=["pooler"])
    assert finding.level is Level.OK


def test_the_command_run_through_pgbouncer_warns_and_exits_1(pgbouncer):
    env = subprocess_env(DATABASE_URL=pgbouncer.url(connection.settings_dict["NAME"]))
    done = subprocess.run(
        [sys.executable, "-m", "django", "jobs", "doctor", "--json", "--notify-timeout", "1",
         "--only", "database", "--only", "notify", "--only", "pooler"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    levels = {f["check"]: f["level"] for f in json.loads(done.stdout)["findings"]}
    assert levels == {"database": "ok", "notify": "problem", "pooler": "warning"}
