"""``manage.py jobs doctor``: each check finds the problem planted for it in the test database.

Every test plants one thing (a migration unrecorded, an index dropped or left invalid, dead rows,
an expired lease, a listener on the wrong channel, a skewed clock, a small max_connections,
autovacuum off) and restores it: inside the test's transaction where PostgreSQL's DDL allows,
by hand otherwise. Autovacuum is off on the development server and on in production, so the
server's setting is always given to the check, never read, where a test depends on it.
"""

from __future__ import annotations

import io
import json
import socket
import time
from collections.abc import Iterator
from datetime import timedelta
from types import ModuleType

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from django_jobs.cli import Output
from django_jobs.cli import doctor as doctor_cli
from django_jobs.doctor import (
    CHECKS,
    Context,
    Finding,
    Level,
    Plan,
    bloat,
    notify,
    run_checks,
    runner,
)
from django_jobs.models import Job, JobStatus
from django_jobs.worker import listen
from tests.conftest import wait_for

#: What production has and this server has not (see the module docstring).
AUTOVACUUM_ON = {"autovacuum": "on", "track_counts": "on"}
TUNED = "autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000"


def found(check: str, context: Context | None = None) -> list[Finding]:
    """Run the one check named ``check``."""
    return run_checks(context or Context(), only=[check])


def levels(findings: list[Finding]) -> list[str]:
    return [str(f.level) for f in findings]


def execute(sql: str, params: list[object] | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def vacuum_job_tables() -> None:
    # Rows rolled back by earlier tests are dead rows too: start from a vacuumed table.
    for table in ("django_jobs_job", "django_jobs_deadjob", "django_jobs_schedulerun"):
        execute(f"VACUUM {table}")
        # A VACUUM that finds no dead row skips the indexes and leaves their entry counts as
        # they were (0 after a TRUNCATE); a plain ANALYZE counts every index's entries afresh.
        execute(f"ANALYZE {table}")
    execute("SELECT pg_stat_force_next_flush()")


# Every finding says what to do -------------------------------------------------------------------


def test_every_check_has_a_name_a_title_and_says_whether_it_needs_postgresql():
    assert len({module.NAME for module in CHECKS}) == len(CHECKS)
    for module in CHECKS:
        assert module.TITLE and isinstance(module.POSTGRES_ONLY, bool) and module.__doc__


@pytest.mark.django_db
def test_a_check_that_raises_becomes_a_problem_finding_and_the_rest_still_run():
    broken = ModuleType("broken")
    broken.NAME, broken.TITLE, broken.POSTGRES_ONLY = "broken", "Broken", False

    def check(context: Context) -> list[Finding]:
        raise RuntimeError("boom")

    broken.check = check
    [finding] = runner.run_check(broken, Context())
    assert finding.level is Level.PROBLEM and "RuntimeError: boom" in finding.detail
    assert finding.action


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_healthy_database_gives_exit_0_and_only_ok_findings():
    vacuum_job_tables()
    execute(f"ALTER TABLE django_jobs_job SET ({TUNED})")
    try:
        findings = run_checks(Context(settings=AUTOVACUUM_ON))
        out = io.StringIO()
        code = doctor_cli.report(findings, Output(out, io.StringIO(), as_json=False, color=False))
    finally:
        execute(
            "ALTER TABLE django_jobs_job RESET (autovacuum_vacuum_scale_factor, "
            "autovacuum_vacuum_threshold)"
        )
    assert code == 0, out.getvalue()
    assert [f.check for f in findings] == [module.NAME for module in CHECKS]
    # The server is shared: other sessions' connections may make the budget a warning.
    unhealthy = [f for f in findings if f.level is not Level.OK and f.check != "connections"]
    assert not unhealthy, unhealthy
    assert "0 problems" in out.getvalue()


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_command_prints_json_and_exits_1_on_a_problem():
    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("jobs", "doctor", "--json", "--only", "connections",
                     "--max-connections", "5", stdout=out)  # fmt: skip
    assert exit_.value.code == 1
    document = json.loads(out.getvalue())
    assert document["problems"] == 1
    [finding] = document["findings"]
    assert finding["check"] == "connections" and finding["level"] == "problem"
    assert finding["action"]


@pytest.mark.django_db
def test_the_command_exits_0_when_nothing_is_a_problem():
    out = io.StringIO()
    call_command("jobs", "doctor", "--only", "migrations", "--only", "leases", stdout=out)
    assert "Migrations applied" in out.getvalue() and "0 problems" in out.getvalue()


@pytest.mark.django_db
def test_an_unknown_database_alias_is_a_usage_error_before_any_check():
    err = io.StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("jobs", "doctor", "--database", "nope", stdout=io.StringIO(), stderr=err)
    assert exit_.value.code == 2 and "'nope': not in DATABASES" in err.getvalue()


@pytest.mark.skipif("connection.vendor == 'postgresql'")
@pytest.mark.django_db
def test_postgresql_only_checks_are_skipped_on_other_databases():
    findings = run_checks(Context())
    skipped = {f.check for f in findings if f.level is Level.SKIPPED}
    assert skipped == {m.NAME for m in CHECKS if m.POSTGRES_ONLY}
    assert all("PostgreSQL only" in f.detail for f in findings if f.level is Level.SKIPPED)
    assert not [f for f in findings if f.level is Level.PROBLEM]


# 1. migrations ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_unapplied_migration_is_a_problem():
    recorder = MigrationRecorder(connection)
    recorder.record_unapplied("django_jobs", "0003_notify_trigger")  # rolled back after the test
    [finding] = found("migrations")
    assert finding.level is Level.PROBLEM
    assert "django_jobs.0003_notify_trigger" in finding.detail and "migrate" in finding.action


@pytest.mark.django_db
def test_an_applied_migration_this_code_lacks_is_a_warning():
    MigrationRecorder(connection).record_applied("django_jobs", "0099_from_the_future")
    [finding] = found("migrations")
    assert finding.level is Level.WARNING and "0099_from_the_future" in finding.detail


@pytest.mark.django_db
def test_a_missing_table_is_a_problem():
    execute("DROP TABLE django_jobs_schedulerun")  # rolled back with the test's transaction
    [finding] = found("migrations")
    assert finding.level is Level.PROBLEM and "django_jobs_schedulerun" in finding.title


# 2. indexes ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_dropped_index_is_a_problem_whose_sql_recreates_it():
    execute("DROP INDEX django_jobs_job_queue_idx")
    [finding] = found("indexes")
    assert finding.level is Level.PROBLEM and "django_jobs_job_queue_idx" in finding.title
    sql = finding.action.split(": ", 1)[1]
    # Run as the finding says, less CONCURRENTLY, which cannot run in the test's transaction.
    execute(sql.replace(" CONCURRENTLY", "").rstrip(";"))
    assert levels(found("indexes")) == ["ok"]


@pytest.mark.django_db
def test_a_dropped_partial_unique_index_is_found_too():
    execute("DROP INDEX django_jobs_job_live_idempotency_key")
    [finding] = found("indexes")
    assert "django_jobs_job_live_idempotency_key" in finding.title
    assert "WHERE" in finding.action and "UNIQUE" in finding.action


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_index_left_invalid_by_a_failed_concurrent_build_is_a_problem():
    execute("DROP INDEX django_jobs_job_queue_idx")
    try:
        Job.objects.create(task_path="t", queue="q")
        Job.objects.create(task_path="t", queue="q")
        # A unique build over duplicate rows fails, and CONCURRENTLY leaves the index behind.
        with pytest.raises(Exception, match="could not create unique index"):
            execute(
                "CREATE UNIQUE INDEX CONCURRENTLY django_jobs_job_queue_idx "
                "ON django_jobs_job (queue, status)"
            )
        [finding] = found("indexes")
        assert finding.level is Level.PROBLEM and finding.title.startswith("Invalid:")
        assert "REINDEX INDEX CONCURRENTLY django_jobs_job_queue_idx" in finding.action
    finally:
        execute("DROP INDEX IF EXISTS django_jobs_job_queue_idx")
        execute("CREATE INDEX django_jobs_job_queue_idx ON django_jobs_job (queue, status)")
    assert levels(found("indexes")) == ["ok"]


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_check_constraint_added_not_valid_is_a_problem():
    execute("ALTER TABLE django_jobs_job DROP CONSTRAINT django_jobs_job_priority_range")
    execute(
        "ALTER TABLE django_jobs_job ADD CONSTRAINT django_jobs_job_priority_range "
        "CHECK (priority >= -100 AND priority <= 100) NOT VALID"
    )
    [finding] = found("indexes")
    assert finding.title == "Invalid: django_jobs_job_priority_range on django_jobs_job"
    assert "VALIDATE CONSTRAINT django_jobs_job_priority_range" in finding.action


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_invalid_index_django_jobs_does_not_declare_is_a_warning():
    Job.objects.create(task_path="t", queue="q")
    Job.objects.create(task_path="t", queue="q")
    try:
        with pytest.raises(Exception, match="could not create unique index"):
            execute("CREATE UNIQUE INDEX CONCURRENTLY leftover_ccnew ON django_jobs_job (queue)")
        [finding] = found("indexes")
        assert finding.level is Level.WARNING
        assert finding.action == "Drop it: DROP INDEX CONCURRENTLY leftover_ccnew;"
    finally:
        execute("DROP INDEX IF EXISTS leftover_ccnew")


# 3. bloat -----------------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_dead_rows_left_by_update_and_delete_loops_are_a_problem():
    vacuum_job_tables()
    wait_for(lambda: levels(found("bloat")) == ["ok"], what="a vacuumed job table")
    Job.objects.bulk_create(Job(task_path="t") for _ in range(4_000))
    for queue in ("a", "b", "c"):  # queue is indexed: no HOT update, every old version stays dead
        Job.objects.update(queue=queue)
    Job.objects.filter(id__in=Job.objects.order_by("id")[:1_000].values("id")).delete()
    execute("SELECT pg_stat_force_next_flush()")
    # The statistics reach the server's shared memory when this session next goes idle.
    [finding] = wait_for(
        lambda: [f for f in found("bloat") if f.level is Level.PROBLEM],
        what="the dead rows to be counted",
        describe=lambda: found("bloat"),
    )
    assert finding.title == "django_jobs_job is mostly dead rows"
    assert "13,000 dead and 3,000 live rows" in finding.detail
    assert "VACUUM" in finding.action
    vacuum_job_tables()
    wait_for(lambda: levels(found("bloat")) == ["ok"], what="the vacuum to be counted")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_index_left_big_by_a_drained_backlog_is_a_warning(monkeypatch):
    monkeypatch.setattr(bloat, "INDEX_MIN_WASTE_BYTES", 256 * 1024)  # the default is 8 MiB
    Job.objects.bulk_create(Job(task_path="t") for _ in range(20_000))  # a backlog, queued
    vacuum_job_tables()
    assert not [f for f in found("bloat") if "Index" in f.title]
    Job.objects.update(status=JobStatus.DONE, finished_at=timezone.now())  # drained
    vacuum_job_tables()  # the ready index's entries are gone, its pages are not
    # Both partial indexes of queued rows (the ready one and the queue-led one) were left big.
    [finding] = [f for f in found("bloat") if f.title.startswith("Index django_jobs_job_ready_idx")]
    assert finding.level is Level.WARNING
    assert finding.title == "Index django_jobs_job_ready_idx is bloated"
    assert "for 0 entries" in finding.detail
    assert "REINDEX INDEX CONCURRENTLY django_jobs_job_ready_idx" in finding.action
    execute("REINDEX INDEX django_jobs_job_ready_idx")  # what the finding says, less CONCURRENTLY
    assert not [f for f in found("bloat") if f.title.startswith("Index django_jobs_job_ready_idx")]


def test_the_bloat_thresholds():
    assert bloat.level(bloat.WARNING_DEAD_ROWS - 1, 0) == "ok"
    assert bloat.level(bloat.WARNING_DEAD_ROWS, 0) == "warning"
    assert bloat.level(2_000, 8_000) == "warning"  # 20 %
    assert bloat.level(2_000, 8_001) == "ok"
    assert bloat.level(10_000, 10_000) == "problem"  # 50 %
    assert bloat.level(10_000, 10_001) == "warning"


# 4. expired leases -------------------------------------------------------------------------------


def running_job(expired_seconds_ago: float, worker_id: str = "gone-1") -> Job:
    now = timezone.now()
    return Job.objects.create(
        task_path="t",
        status=JobStatus.RUNNING,
        attempts=1,
        started_at=now - timedelta(seconds=expired_seconds_ago + 60),
        worker_id=worker_id,
        lease_expires_at=now - timedelta(seconds=expired_seconds_ago),
    )


@pytest.mark.django_db
def test_a_lease_expired_long_ago_is_a_problem_naming_its_worker():
    running_job(3600, worker_id="host-1234-abcdef")
    running_job(-3600)  # a live lease: some worker is heartbeating
    [finding] = found("leases")
    assert finding.level is Level.PROBLEM and finding.title.startswith("1 running jobs expired")
    assert "host-1234-abcdef" in finding.detail and "1 other running jobs" in finding.detail
    assert "runworker" in finding.action


@pytest.mark.django_db
def test_a_lease_that_just_expired_is_a_warning():
    running_job(0.1)
    [finding] = found("leases")
    assert finding.level is Level.WARNING


@pytest.mark.django_db
def test_no_expired_lease_is_ok():
    running_job(-3600)
    assert levels(found("leases")) == ["ok"]


# 5. LISTEN/NOTIFY ---------------------------------------------------------------------------------


def test_the_trigger_the_check_looks_for_is_the_one_the_migration_creates():
    import importlib

    migration = importlib.import_module("django_jobs.migrations.0003_notify_trigger")
    assert f"CREATE TRIGGER {notify.TRIGGER}" in migration.CREATE
    assert f"pg_notify('{listen.CHANNEL}'" in migration.CREATE


@pytest.mark.postgres
@pytest.mark.django_db
def test_notify_reaches_the_workers_channel():
    [finding] = found("notify")
    assert finding.level is Level.OK and "arrived" in finding.detail


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_notification_that_never_arrives_is_a_problem():
    context = Context(listen_channel="django_jobs_elsewhere", notify_timeout_seconds=0.5)
    [finding] = found("notify", context)
    assert finding.level is Level.PROBLEM and finding.title == "NOTIFY not delivered"
    assert "polling" in finding.detail and finding.action


@pytest.mark.postgres
@pytest.mark.django_db
@pytest.mark.parametrize("planted", ["missing", "disabled"])
def test_a_missing_or_disabled_trigger_is_a_problem(planted):
    if planted == "missing":
        execute(f"DROP TRIGGER {notify.TRIGGER} ON django_jobs_job")  # rolled back after
    else:
        execute(f"ALTER TABLE django_jobs_job DISABLE TRIGGER {notify.TRIGGER}")
    [finding] = found("notify")
    assert finding.level is Level.PROBLEM and finding.title.endswith(planted)
    if planted == "missing":  # the repair the finding gives: the migration's CREATE statements
        import importlib

        execute(importlib.import_module("django_jobs.migrations.0003_notify_trigger").CREATE)
    else:
        execute(finding.action.split(": ", 1)[1].split(";")[0])
    assert levels(found("notify")) == ["ok"]


# 6. clock skew ------------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_host_clock_far_from_the_database_is_a_problem():
    [finding] = found("clock", Context(clock=lambda: time.time() + 30))
    assert finding.level is Level.PROBLEM and "30.0" in finding.detail and "ahead" in finding.detail
    assert "NTP" in finding.action


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_few_seconds_of_skew_under_a_long_lease_is_a_warning(settings):
    settings.DJANGO_JOBS = {**settings.DJANGO_JOBS, "LEASE_SECONDS": 60.0}
    [finding] = found("clock", Context(clock=lambda: time.time() - 5))
    assert finding.level is Level.WARNING and "behind" in finding.detail


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_same_clock_is_ok():
    assert levels(found("clock")) == ["ok"]


# 7. connection budget -----------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_plan_beyond_max_connections_is_a_problem():
    plan = Plan(hosts=2, processes=3, concurrency=10)  # 2 x 3 x 14 = 84
    [finding] = found("connections", Context(plan=plan, max_connections=50))
    assert finding.level is Level.PROBLEM
    assert finding.title == "Plan needs 84 connections, server allows 47"


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_plan_that_fits_only_an_idle_server_is_a_warning():
    with connection.cursor() as cursor:
        cursor.execute("SHOW superuser_reserved_connections")
        reserved = int(cursor.fetchone()[0])
    # Exactly the plan's 14 fit; this test's own connection is in use.
    [finding] = found("connections", Context(max_connections=14 + reserved))
    assert finding.level is Level.WARNING and "free now" in finding.title


# 8. autovacuum ------------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db
def test_autovacuum_disabled_on_the_job_table_is_a_problem():
    execute("ALTER TABLE django_jobs_job SET (autovacuum_enabled = false)")  # rolled back
    findings = found("autovacuum", Context(settings=AUTOVACUUM_ON))
    [disabled] = [f for f in findings if f.level is Level.PROBLEM]
    assert disabled.title == "Autovacuum disabled on django_jobs_job"
    assert "RESET (autovacuum_enabled)" in disabled.action


@pytest.mark.postgres
@pytest.mark.django_db
def test_autovacuum_off_on_the_server_is_a_problem():
    execute(f"ALTER TABLE django_jobs_job SET ({TUNED})")
    [finding] = found("autovacuum", Context(settings={**AUTOVACUUM_ON, "autovacuum": "off"}))
    assert finding.level is Level.PROBLEM and finding.title == "autovacuum is off on the server"


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_job_table_on_the_servers_thresholds_is_a_warning_and_tuned_is_ok():
    [finding] = found("autovacuum", Context(settings=AUTOVACUUM_ON))
    assert finding.level is Level.WARNING and "migration" in finding.action
    execute(f"ALTER TABLE django_jobs_job SET ({TUNED})")
    assert levels(found("autovacuum", Context(settings=AUTOVACUUM_ON))) == ["ok"]


# The database unreachable -------------------------------------------------------------------------


@pytest.fixture
def unreachable_alias() -> Iterator[str]:
    """A ``DATABASES`` alias like the test database's, on a port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again before anything connects: refused
    connections.settings["unreachable"] = {
        **connection.settings_dict,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "NAME": "nothing_here" if connection.vendor == "postgresql" else "/nonexistent/dir/db",
    }
    # A wrapper made here, its alias then taken out of the settings again: the test case's guard
    # lets such dynamically created connections through, and no other test ever sees the alias.
    wrapper = connections.create_connection("unreachable")
    del connections.settings["unreachable"]
    connections["unreachable"] = wrapper
    try:
        yield "unreachable"
    finally:
        wrapper.close()
        del connections["unreachable"]


@pytest.mark.django_db
def test_an_unreachable_database_is_one_problem_and_nothing_else_runs(unreachable_alias):
    findings = run_checks(Context(alias=unreachable_alias))
    assert [(f.check, f.level) for f in findings] == [("database", Level.PROBLEM)]
    assert "OperationalError" in findings[0].detail and "DATABASES" in findings[0].action


def test_the_planned_worker_defaults_are_runworkers_own():
    from django.core.management import load_command_class

    def defaults(command: str, *args: str) -> dict[str, object]:
        parser = load_command_class("django_jobs", command).create_parser("manage.py", command)
        return vars(parser.parse_args(list(args)))

    runworker, doctor = defaults("runworker"), defaults("jobs", "doctor")
    assert (doctor["processes"], doctor["concurrency"]) == (
        runworker["processes"],
        runworker["concurrency"],
    )
    assert doctor["with_scheduler"] == runworker["with_scheduler"]
