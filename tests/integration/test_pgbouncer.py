"""django-jobs through a real PgBouncer in transaction pooling mode (``tests/pgbouncer.py``).

In-process: enqueue in ``atomic()``, the listener's choice between LISTEN and polling, the checks
of ``LISTEN_DATABASE_URL``, and a worker draining jobs with every connection pooled. The
``manage.py`` processes are in ``tests/acceptance/test_pgbouncer_processes.py``.
"""

from __future__ import annotations

import threading
from pathlib import Path

import psycopg
import pytest
from django.core import checks
from django.db import connection, transaction
from django.test import override_settings

from django_jobs.checks import check_listen_database, check_settings
from django_jobs.models import DeadJob, Job, JobStatus
from django_jobs.worker import Worker
from django_jobs.worker.listen import Listener
from tests import tasks
from tests.conftest import wait_for
from tests.pgbouncer import PgBouncer, default_through, free_port, skip_or_fail_without_pgbouncer

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def jobs_settings(**values: object) -> override_settings:
    from django.conf import settings

    return override_settings(DJANGO_JOBS={**settings.DJANGO_JOBS, **values})


def server_pids(count: int) -> set[int]:
    """Return the backend pids that ``count`` one-statement transactions ran on."""
    pids = set()
    for _ in range(count):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pids.add(cursor.fetchone()[0])
    return pids


def test_transactions_really_go_through_the_pool(default_through_pgbouncer: PgBouncer):
    # The ground the other tests stand on: one client connection, several server connections,
    # and a login pid that is PgBouncer's, not PostgreSQL's.
    name = connection.settings_dict["NAME"]
    server_pids(1)  # the pool exists once a client used it; min_pool_size then fills it
    wait_for(lambda: default_through_pgbouncer.pools(name).get("sv_idle", 0) > 2,
             what="PgBouncer to open idle server connections")  # fmt: skip
    pids = server_pids(20)
    assert len(pids) > 1, "round-robin pooling spreads transactions over server connections"
    assert connection.connection.info.backend_pid not in pids


def test_enqueue_in_atomic_through_pgbouncer_commits_with_the_transaction(
    default_through_pgbouncer: PgBouncer,
):
    # Far more statements than psycopg's prepare threshold (5): Django's default client-side
    # binding prepares nothing, so no "prepared statement does not exist" on another server.
    for i in range(20):
        with transaction.atomic():
            job = tasks.add.enqueue(i, 1)
            assert Job.objects.filter(id=job.id).exists()
    with pytest.raises(RuntimeError), transaction.atomic():
        rolled_back = tasks.add.enqueue(100, 1)
        raise RuntimeError("roll back")
    assert Job.objects.filter(task_path="tests.tasks.add").count() == 20
    assert not Job.objects.filter(id=rolled_back.id).exists()


def test_worker_through_pgbouncer_runs_retries_and_dead_letters(
    default_through_pgbouncer: PgBouncer,
):
    done = [tasks.record.enqueue(f"r{i}").id for i in range(40)]
    retried = [tasks.fails_until.enqueue(f"f{i}", 2).id for i in range(5)]
    dead = [tasks.always_fails.enqueue(f"d{i}").id for i in range(3)]
    assert Worker(concurrency=8, burst=True).run() == 0
    assert Job.objects.filter(id__in=done + retried, status=JobStatus.DONE).count() == 45
    assert set(Job.objects.filter(id__in=retried).values_list("attempts", flat=True)) == {2}
    assert set(DeadJob.objects.filter(job_id__in=dead).values_list("attempts", flat=True)) == {3}
    pool = default_through_pgbouncer.pools(connection.settings_dict["NAME"])
    assert pool["servers"] <= default_through_pgbouncer.pool_size, pool


#: What one server session holds that the next client's transaction would inherit.
SESSION_STATE = """
SELECT pg_backend_pid(),
       (SELECT count(*) FROM pg_prepared_statements),
       (SELECT count(*) FROM pg_cursors),
       (SELECT count(*) FROM pg_listening_channels()),
       (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()),
       (SELECT count(*) FROM pg_class WHERE relnamespace = pg_my_temp_schema()),
       current_setting('statement_timeout'),
       current_setting('lock_timeout'),
       current_setting('idle_in_transaction_session_timeout'),
       current_setting('search_path')
"""


def server_sessions(bouncer: PgBouncer, dbname: str) -> dict[int, tuple[object, ...]]:
    """Return the state of every server connection of ``bouncer``'s pool, by backend pid.

    Round-robin pooling hands one client's successive transactions to each server in turn, so
    enough of them visit the whole pool.
    """
    sessions: dict[int, tuple[object, ...]] = {}
    with psycopg.connect(bouncer.url(dbname), autocommit=True, prepare_threshold=None) as conn:
        for _ in range(20 * bouncer.pool_size):
            pid, *state = conn.execute(SESSION_STATE).fetchone() or ()
            sessions[pid] = tuple(state)
            if len(sessions) == bouncer.pool_size:
                break
    return sessions


def test_a_worker_through_pgbouncer_leaves_no_session_state_behind(tmp_path: Path):
    # A PgBouncer of its own, so that no other test's leftovers are on its server connections.
    # PgBouncer fills a pool to min_pool_size while a client is connected: one stays connected.
    skip_or_fail_without_pgbouncer()
    name = connection.settings_dict["NAME"]
    with PgBouncer(tmp_path) as bouncer, psycopg.connect(bouncer.url(name), autocommit=True):
        wait_for(lambda: bouncer.pools(name).get("sv_idle", 0) == bouncer.pool_size,
                 what="PgBouncer to fill its pool")  # fmt: skip
        clean = server_sessions(bouncer, name)
        with default_through(bouncer):
            for i in range(30):
                with transaction.atomic():
                    tasks.add.enqueue(i, 1)
            [tasks.fails_until.enqueue(f"f{i}", 2) for i in range(5)]
            [tasks.always_fails.enqueue("d") for _ in range(2)]
            assert Worker(concurrency=8, burst=True).run() == 0
        after = server_sessions(bouncer, name)
    assert len(clean) == bouncer.pool_size and after.keys() == clean.keys()
    assert len(set(clean.values())) == 1 and next(iter(clean.values()))[:5] == (0,) * 5, clean
    # Each session's own advisory locks and temporary tables: pg_locks is server-wide, and a
    # test on another xdist worker may hold a transaction-level lock at this instant.
    assert after == clean, "a server connection kept state from django-jobs"


def test_listener_behind_pgbouncer_without_listen_url_does_not_listen(
    default_through_pgbouncer: PgBouncer,
):
    listener = Listener(lambda: None)
    listener.start()
    try:
        wait_for(listener.pooled.is_set, what="the listener to notice the pooler")
        assert not listener.listening.is_set()
    finally:
        listener.stop()
    assert not listener._thread or not listener._thread.is_alive()


def test_listener_on_a_direct_listen_url_wakes_a_worker_behind_pgbouncer(
    default_through_pgbouncer: PgBouncer,
):
    woken = threading.Event()
    bouncer = default_through_pgbouncer
    with jobs_settings(LISTEN_DATABASE_URL=bouncer.direct_url(connection.settings_dict["NAME"])):
        listener = Listener(woken.set)
        listener.start()
        try:
            wait_for(listener.listening.is_set, what="LISTEN on the direct URL")
            with transaction.atomic():  # enqueued through PgBouncer, notified at its commit
                tasks.add.enqueue(1, 2)
                assert not woken.wait(0.3), "no notification before commit"
            assert woken.wait(10), "the NOTIFY sent through PgBouncer reached the direct LISTEN"
            assert not listener.pooled.is_set()
        finally:
            listener.stop()


def test_listener_without_pooler_listens_as_before():
    listener = Listener(lambda: None)
    listener.start()
    try:
        wait_for(listener.listening.is_set, what="LISTEN on the default database")
        assert not listener.pooled.is_set()
    finally:
        listener.stop()


def ids(messages: list[checks.CheckMessage]) -> list[str]:
    return [message.id or "" for message in messages]


@pytest.mark.parametrize(
    ("value", "expected"),
    [(42, "django_jobs.E050"), ("  ", "django_jobs.E050"), ("host", "django_jobs.E051")],
)
def test_a_malformed_listen_url_is_a_settings_error(value: object, expected: str):
    with jobs_settings(LISTEN_DATABASE_URL=value):
        assert expected in ids(check_settings())


def test_a_direct_listen_url_passes_the_database_check(default_through_pgbouncer: PgBouncer):
    direct = default_through_pgbouncer.direct_url(connection.settings_dict["NAME"])
    with jobs_settings(LISTEN_DATABASE_URL=direct):
        assert ids(check_settings()) == []
        assert check_listen_database(databases=["default"]) == []


def test_the_database_check_runs_only_for_the_default_database():
    closed = f"postgres://postgres@127.0.0.1:{free_port()}/{connection.settings_dict['NAME']}"
    with jobs_settings(LISTEN_DATABASE_URL=closed):
        assert check_listen_database(databases=None) == []
        assert ids(check_listen_database(databases=["default"])) == ["django_jobs.E053"]


def test_a_listen_url_naming_another_database_is_a_warning():
    # NOTIFY is delivered within one database: a LISTEN on "postgres" never hears the jobs'.
    # A warning only, since a test run's default database is the test database.
    with jobs_settings(LISTEN_DATABASE_URL="postgres://postgres@127.0.0.1:5432/postgres"):
        assert ids(check_listen_database(databases=["default"])) == ["django_jobs.W050"]


def test_a_listen_url_through_pgbouncer_in_transaction_mode_is_refused(pgbouncer: PgBouncer):
    with jobs_settings(LISTEN_DATABASE_URL=pgbouncer.url(connection.settings_dict["NAME"])):
        messages = check_listen_database(databases=["default"])
    assert ids(messages) == ["django_jobs.E054"], messages
    assert "transaction mode" in messages[0].msg


def test_django_server_side_binding_works_behind_pgbouncer(default_through_pgbouncer: PgBouncer):
    # Django sets prepare_threshold=None: server-side binding sends unnamed statements only.
    options = connection.settings_dict["OPTIONS"]
    connection.close()
    options["server_side_binding"] = True
    try:
        for i in range(20):
            with transaction.atomic():
                tasks.add.enqueue(i, 1)
        assert Job.objects.filter(task_path="tests.tasks.add").count() == 20
    finally:
        connection.close()
        del options["server_side_binding"]


def test_psycopg_prepared_statements_break_behind_pgbouncer_1_18(pgbouncer: PgBouncer):
    # Why the how-to says to leave prepare_threshold out of OPTIONS: psycopg's own default
    # prepares a statement on its fifth run, on one server connection, and runs it later on
    # another.
    url = pgbouncer.url(connection.settings_dict["NAME"])
    if pgbouncer.version() >= (1, 21):
        pytest.skip("PgBouncer 1.21+ can track prepared statements (max_prepared_statements)")
    with psycopg.connect(url, autocommit=True) as conn, pytest.raises(psycopg.Error):
        for i in range(50):
            conn.execute("SELECT %s::int + 1", [i])
