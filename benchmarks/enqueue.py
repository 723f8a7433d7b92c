"""Measure enqueueing against PostgreSQL's own single-client commit rate, in one run.

Usage (PostgreSQL only; the database is created if missing and migrated, and its job table and
the ``bench_insert`` table are emptied, so do not point it at jobs you want to keep)::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mydb .venv/bin/python benchmarks/enqueue.py
    .venv/bin/python benchmarks/enqueue.py --rounds 5 --seconds 10
    .venv/bin/python benchmarks/enqueue.py --no-schema        # without the job-table copies
    .venv/bin/python benchmarks/enqueue.py --profile per-transaction   # cProfile, no figures

Each round measures, in turn and against the same database (pgbench is ``pgbench -n -c 1 -T
<seconds>``, one client, the default simple protocol and the server's own durability):

- pgbench running ``INSERT INTO bench_insert (v) VALUES (1)``, a one-row INSERT into a small
  table, one transaction each: what one client can commit, the figure the others are a % of;
  then the same INSERT in ``BEGIN``/``COMMIT`` (the three round trips of ``atomic()`` around an
  enqueue), and with ``BEGIN`` sent in the INSERT's message (two round trips);
- pgbench inserting the row enqueue writes into copies of the job table (``job_row.py``): the
  table as it stands (its columns, every index, the NOTIFY trigger), in ``BEGIN``/``COMMIT``
  and alone; then without the trigger, with a row-level trigger instead, without each index the
  row has an entry in, without the partial indexes it has none in, with the primary key only,
  and a narrow row: what each part of the schema costs a commit;
- enqueue per transaction: ``with transaction.atomic(): task.enqueue()``, ``--count`` times;
- enqueue in one transaction: 10,000 ``task.enqueue()`` calls inside one ``atomic()`` block;
- ``enqueue_many`` in chunks of 1,000: 20 calls of 1,000 jobs each, each its own transaction.

The tables are emptied before each measurement. The figures printed are the medians over the
rounds, each as a % of the one-row pgbench rate, with the median load average at the end of
the measurement. On a busy machine every figure moves; compare the rows of one run, not runs
with each other.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
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
TRANSACTION_SQL = f"BEGIN;\n{INSERT_SQL}COMMIT;\n"
#: BEGIN and the INSERT in one message (pgbench's ``\;`` joins them), then COMMIT: two round trips.
JOINED_SQL = f"BEGIN \\; {INSERT_SQL}COMMIT;\n"
BASELINE = "pgbench one-row INSERT, 1 client"
PER_TRANSACTION = "enqueue, one per transaction"

sys.path.insert(0, str(ROOT))

from benchmarks import job_row  # noqa: E402 (needs ROOT on the path)


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
        cursor.execute("TRUNCATE django_jobs_job, bench_insert RESTART IDENTITY")
        cursor.execute("ANALYZE django_jobs_job")
        cursor.execute("ANALYZE bench_insert")


def pgbench_tps(seconds: int, script_text: str = INSERT_SQL, mode: str = "simple") -> float:
    """Return pgbench's transactions per second running ``script_text``, one client, in
    query mode ``mode`` (``-M``: simple, extended or prepared)."""
    from django.db import connection

    db = connection.settings_dict
    env = {**os.environ, "PGPASSWORD": db["PASSWORD"] or ""}
    with tempfile.NamedTemporaryFile("w", suffix=".sql") as script:
        script.write(script_text)
        script.flush()
        command = ["pgbench", "-n", "-M", mode, "-c", "1", "-T", str(seconds), "-f", script.name,
                   "-h", db["HOST"] or "127.0.0.1", "-p", str(db["PORT"] or 5432),
                   "-U", db["USER"] or "postgres", db["NAME"]]  # fmt: skip
        out = subprocess.run(command, capture_output=True, text=True, check=True, env=env).stdout
    found = re.search(r"tps = ([\d.]+)", out)
    if found is None:
        sys.exit(f"Could not read pgbench's output:\n{out}")
    return float(found.group(1))


def copy_tps(variant: job_row.Variant, seconds: int) -> float:
    """Return pgbench's rate inserting the job row into ``variant``'s copy of the job table."""
    from django.db import connection

    with connection.cursor() as cursor:
        variant.build(cursor)
    return pgbench_tps(seconds, variant.script(), "prepared" if variant.prepared else "simple")


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
    """Print where ``count`` enqueues spend their time, then the 25 costliest functions.

    First the unprofiled wall and CPU time per call (CPU: this process's, so the server's share
    is the rest), then cProfile's own time summed by where the code lives: psycopg waiting on
    the server (its ``wait``: the round trips), the rest of psycopg, Django, django-jobs, and
    everything else (json, the standard library, the profiler's loop).
    """
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
    run()  # warm up: imports, caches, the connection, the prepared statement
    reset()
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{count:,} enqueues, {what}, load average {os.getloadavg()[0]:.1f}:")
    per_call, cpu_per_call = wall / count * 1e6, cpu / count * 1e6
    print(f"  unprofiled: {per_call:.0f} us per call, {cpu_per_call:.0f} us of CPU here")
    reset()
    profiler = cProfile.Profile()
    profiler.runcall(run)
    stats = pstats.Stats(profiler)
    total = stats.total_tt
    print(f"  profiled: {total / count * 1e6:.0f} us per call; own time by where the code lives:")
    buckets: dict[str, float] = {}
    for (filename, _, function), row in stats.stats.items():  # type: ignore[attr-defined]
        buckets[_bucket(filename, function)] = buckets.get(_bucket(filename, function), 0) + row[2]
    for name, seconds in sorted(buckets.items(), key=lambda item: -item[1]):
        print(f"    {name:<36} {seconds / count * 1e6:>6.1f} us {seconds / total:>6.1%}")
    stats.sort_stats("tottime").print_stats(25)


def _bucket(filename: str, function: str) -> str:
    if "/psycopg/" in filename:
        return "psycopg, waiting on the server" if function == "wait" else "psycopg, the rest"
    if "/django_jobs/" in filename:
        return "django-jobs"
    if "/django/" in filename:
        return "Django"
    return "other (json, stdlib, this loop)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10, help="pgbench's -T")
    parser.add_argument("--count", type=int, default=2_000, help="enqueues per transaction row")
    parser.add_argument(
        "--no-schema", action="store_true", help="leave out the job-table copies (job_row.py)"
    )
    parser.add_argument("--profile", choices=["one-transaction", "per-transaction"])
    parser.add_argument("--profile-count", type=int, default=20_000)
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
        profile(options.profile, task, options.profile_count)
        reset()
        return
    seconds = options.seconds
    measures: list[tuple[str, Callable[[], float]]] = [
        (BASELINE, lambda: pgbench_tps(seconds)),
        ("  the same in BEGIN/INSERT/COMMIT", lambda: pgbench_tps(seconds, TRANSACTION_SQL)),
        ("  the same, BEGIN sent with the INSERT", lambda: pgbench_tps(seconds, JOINED_SQL)),
    ]
    if not options.no_schema:
        with connection.cursor() as cursor:
            copies = job_row.variants(cursor)
        measures += [(v.label, functools.partial(copy_tps, v, seconds)) for v in copies]
    measures += [
        (PER_TRANSACTION, lambda: per_transaction(task, options.count)),
        ("enqueue, 10,000 in one transaction", lambda: one_transaction(task, 10_000)),
        ("enqueue_many, chunks of 1,000", lambda: many_in_chunks(task, 20_000)),
    ]
    name = connection.settings_dict["NAME"]
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; database {name}")
    per_transaction(task, 200)  # warm up
    figures: dict[str, list[float]] = {}
    loads: dict[str, list[float]] = {}
    for number in range(options.rounds):
        for label, measure in measures:
            reset()
            figures.setdefault(label, []).append(measure())
            loads.setdefault(label, []).append(os.getloadavg()[0])
        print(f"round {number + 1} done, load average {os.getloadavg()[0]:.1f}", flush=True)
    reset()
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {job_row.TABLE}")
    baseline = statistics.median(figures[BASELINE])
    print(f"\nmedians of {options.rounds} rounds (load average now {os.getloadavg()[0]:.1f}):")
    print(f"  {'':<52} {'per s':>8} {'% pgbench':>9} {'load':>5}")
    for label, values in figures.items():
        rate = statistics.median(values)
        load = statistics.median(loads[label])
        print(f"  {label:<52} {rate:>8,.0f} {rate / baseline:>9.0%} {load:>5.1f}")


if __name__ == "__main__":
    main()
