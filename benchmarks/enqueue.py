"""Measure enqueueing against PostgreSQL's own single-client commit rate, in one run.

Usage (PostgreSQL only; the database is created if missing and migrated, and its job table and
the ``bench_insert`` table are emptied, so do not point it at jobs you want to keep)::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mydb .venv/bin/python benchmarks/enqueue.py
    .venv/bin/python benchmarks/enqueue.py --rounds 5 --seconds 10
    .venv/bin/python benchmarks/enqueue.py --profile one-transaction   # cProfile, no figures

Each round measures, in turn and against the same database:

- pgbench: ``pgbench -n -c 1 -T <seconds>`` running ``INSERT INTO bench_insert (v) VALUES (1)``,
  a one-row INSERT into a small table, one transaction each: what one client can commit;
- pgbench again, on the row enqueue writes, as ``BEGIN; INSERT INTO django_jobs_job ...;
  COMMIT``: the same three round trips as ``atomic()`` around an enqueue, with the job table's
  indexes and its NOTIFY trigger, and no Python: the floor of enqueue per transaction;
- enqueue per transaction: ``with transaction.atomic(): task.enqueue()``, 2,000 times;
- enqueue in one transaction: 10,000 ``task.enqueue()`` calls inside one ``atomic()`` block;
- ``enqueue_many`` in chunks of 1,000: 20 calls of 1,000 jobs each, each its own transaction.

The job table is truncated before each measurement. The figures printed are the medians over
the rounds, with the ratio of enqueue per transaction to the pgbench rate. On a busy machine
every figure moves; compare the rows of one run, not runs with each other.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/django_jobs_enqueue_bench"
INSERT_SQL = "INSERT INTO bench_insert (v) VALUES (1);\n"
#: The row enqueue writes, as plain SQL: what the server alone needs for one job.
JOB_SQL = (
    "INSERT INTO django_jobs_job (task_path, args, kwargs, queue, priority, run_at, status, "
    "attempts, max_attempts, enqueued_at, worker_id, errors, progress_message) VALUES "
    "('benchmarks.enqueue_tasks.noop', '[1]', '{\"b\":\"x\"}', 'default', 0, now(), 'queued', "
    "0, 20, now(), '', '[]', '') RETURNING id;\n"
)
JOB_TRANSACTION_SQL = f"BEGIN;\n{JOB_SQL}COMMIT;\n"

sys.path.insert(0, str(ROOT))


def configure() -> None:
    """Set up Django with django-jobs on ``DATABASE_URL``; persistent connection."""
    import django
    import environ
    from django.conf import settings

    database = environ.Env.db_url_config(os.environ.get("DATABASE_URL", DEFAULT_URL))
    database["CONN_MAX_AGE"] = None
    settings.configure(
        SECRET_KEY="django-jobs-benchmarks",
        USE_TZ=True,
        TIME_ZONE="UTC",
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        DATABASES={"default": database},
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "django_jobs"],
    )
    django.setup()


def ensure_database() -> None:
    """Create the benchmark database if it does not exist yet."""
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    with psycopg.connect(
        host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"],
        password=db["PASSWORD"] or None, dbname="postgres", autocommit=True,
    ) as conn:  # fmt: skip
        exists = "SELECT 1 FROM pg_database WHERE datname = %s"
        if not conn.execute(exists, [db["NAME"]]).fetchone():
            conn.execute(f'CREATE DATABASE "{db["NAME"]}"')


def reset() -> None:
    """Empty the job table and pgbench's table, then analyze both."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE django_jobs_job, bench_insert")
        cursor.execute("ANALYZE django_jobs_job")
        cursor.execute("ANALYZE bench_insert")


def pgbench_tps(seconds: int, script_text: str = INSERT_SQL) -> float:
    """Return pgbench's transactions per second running ``script_text``, one client."""
    from django.db import connection

    db = connection.settings_dict
    env = {**os.environ, "PGPASSWORD": db["PASSWORD"] or ""}
    with tempfile.NamedTemporaryFile("w", suffix=".sql") as script:
        script.write(script_text)
        script.flush()
        command = ["pgbench", "-n", "-c", "1", "-T", str(seconds), "-f", script.name,
                   "-h", db["HOST"] or "127.0.0.1", "-p", str(db["PORT"] or 5432),
                   "-U", db["USER"] or "postgres", db["NAME"]]  # fmt: skip
        out = subprocess.run(command, capture_output=True, text=True, check=True, env=env).stdout
    found = re.search(r"tps = ([\d.]+)", out)
    if found is None:
        sys.exit(f"Could not read pgbench's output:\n{out}")
    return float(found.group(1))


def per_transaction(task, count: int) -> float:
    """Return jobs/s for ``count`` enqueues, one committed transaction each."""
    from django.db import transaction

    start = time.perf_counter()
    for _ in range(count):
        with transaction.atomic():
            task.enqueue(1, b="x")
    return count / (time.perf_counter() - start)


def one_transaction(task, count: int) -> float:
    """Return jobs/s for ``count`` enqueues inside one transaction (commit included)."""
    from django.db import transaction

    start = time.perf_counter()
    with transaction.atomic():
        for _ in range(count):
            task.enqueue(1, b="x")
    return count / (time.perf_counter() - start)


def many_in_chunks(task, count: int, chunk: int = 1_000) -> float:
    """Return jobs/s for ``enqueue_many`` of ``count`` jobs in committed calls of ``chunk``."""
    import django_jobs

    calls = [(i, {"n": i}) for i in range(chunk)]
    start = time.perf_counter()
    for _ in range(count // chunk):
        django_jobs.enqueue_many(task, calls)
    return count // chunk * chunk / (time.perf_counter() - start)


def profile(what: str, task, count: int) -> None:
    """Print the 25 costliest functions (cumulative) of ``count`` enqueues."""
    from django.db import transaction

    def one_tx() -> None:
        with transaction.atomic():
            for _ in range(count):
                task.enqueue(1, b="x")

    def per_tx() -> None:
        for _ in range(count):
            with transaction.atomic():
                task.enqueue(1, b="x")

    run: Callable[[], None] = one_tx if what == "one-transaction" else per_tx
    run()  # warm up: imports, caches, the connection
    reset()
    profiler = cProfile.Profile()
    profiler.runcall(run)
    stats = pstats.Stats(profiler)
    print(f"{count} enqueues, {what}: {stats.total_tt / count * 1e6:.0f} us per call (profiled)")
    stats.sort_stats("tottime").print_stats(25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10, help="pgbench's -T")
    parser.add_argument("--profile", choices=["one-transaction", "per-transaction"])
    options = parser.parse_args()
    if shutil.which("pgbench") is None:
        sys.exit("pgbench is not on PATH (it comes with PostgreSQL's client tools).")
    configure()
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor != "postgresql":
        sys.exit("This benchmark needs PostgreSQL: set DATABASE_URL=postgres://...")
    ensure_database()
    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_insert (id bigserial PRIMARY KEY, v int)")
    from benchmarks.enqueue_tasks import noop as task

    if options.profile:
        profile(options.profile, task, 5_000)
        reset()
        return
    figures: dict[str, list[float]] = {}
    measures: list[tuple[str, Callable[[], float]]] = [
        ("pgbench one-row INSERT, 1 client", lambda: pgbench_tps(options.seconds)),
        (
            "pgbench job row, BEGIN/INSERT/COMMIT",
            lambda: pgbench_tps(options.seconds, JOB_TRANSACTION_SQL),
        ),
        ("enqueue, one per transaction", lambda: per_transaction(task, 2_000)),
        ("enqueue, 10,000 in one transaction", lambda: one_transaction(task, 10_000)),
        ("enqueue_many, chunks of 1,000", lambda: many_in_chunks(task, 20_000)),
    ]
    load = os.getloadavg()[0]
    name = connection.settings_dict["NAME"]
    print(f"{os.cpu_count()} cores, load average {load:.1f}; database {name}")
    per_transaction(task, 200)  # warm up
    for number in range(options.rounds):
        for name, measure in measures:
            reset()
            figures.setdefault(name, []).append(measure())
        print(f"round {number + 1}: " + ", ".join(f"{v[-1]:,.0f}" for v in figures.values()))
    reset()
    print(f"\nmedians of {options.rounds} rounds (load average now {os.getloadavg()[0]:.1f}):")
    for name, values in figures.items():
        print(f"  {name:<40} {statistics.median(values):>10,.0f} /s")
    ratio = statistics.median(figures["enqueue, one per transaction"]) / statistics.median(
        figures["pgbench one-row INSERT, 1 client"]
    )
    print(f"  {'enqueue per transaction / pgbench':<40} {ratio:>10.0%}")
    floor = statistics.median(figures["enqueue, one per transaction"]) / statistics.median(
        figures["pgbench job row, BEGIN/INSERT/COMMIT"]
    )
    print(f"  {'... / pgbench job row transaction':<40} {floor:>10.0%}")


if __name__ == "__main__":
    main()
