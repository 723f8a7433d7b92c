"""The doctor's pooler check against a real PgBouncer (tests/pgbouncer.py) in transaction and
session mode, and what transaction pooling does to the LISTEN/NOTIFY check."""

from __future__ import annotations

import pytest

from django_jobs.doctor import Context, Level, run_checks
from tests.pgbouncer import pgbouncer, start_pgbouncer  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def test_a_transaction_mode_pgbouncer_is_detected_and_loses_notifications(pgbouncer):  # noqa: F811
    context = Context(connection_params=pgbouncer.django_params(), notify_timeout_seconds=1.0)
    [pooler] = run_checks(context, only=["pooler"])
    assert pooler.level is Level.WARNING, pgbouncer.output()
    assert pooler.title == "Behind a transaction-mode pooler"
    assert "session-mode pool" in pooler.action
    notify = run_checks(context, only=["notify"])
    assert [f.title for f in notify if f.level is Level.PROBLEM] == ["NOTIFY not delivered"]


def test_a_session_mode_pgbouncer_is_not_taken_for_one(start_pgbouncer):  # noqa: F811
    bouncer = start_pgbouncer("session")
    context = Context(connection_params=bouncer.django_params())
    assert [f.level for f in run_checks(context, only=["pooler", "notify"])] == [
        Level.OK,
        Level.OK,
    ]


def test_postgresql_itself_is_not_taken_for_a_pooler():
    [finding] = run_checks(Context(), only=["pooler"])
    assert finding.level is Level.OK
