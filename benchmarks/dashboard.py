"""Measure the admin dashboard's load time with 1,000,000 finished and 100,000 queued jobs.

Usage (PostgreSQL; the database is created if missing and seeded once, in about a minute)::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/django_jobs_bench \\
        .venv/bin/python benchmarks/dashboard.py [--rounds 20] [--reseed]

Seeds, with set-based INSERT ... SELECT generate_series: 1,000,000 done jobs finished over the last
30 days, 100,000 queued jobs in four queues (a tenth of them waiting on a retry, a tenth scheduled
for later), 200 running jobs and 20,000 dead jobs; then VACUUM ANALYZE, as autovacuum would.
Prints the median and worst time of ``dashboard.collect()`` and of a full GET of the admin page
(as a logged-in superuser, through Django's test client), and the SQL each load ran.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/django_jobs_bench")

DONE, QUEUED, RUNNING, DEAD = 1_000_000, 100_000, 200, 20_000

SEED_SQL = [
    "TRUNCATE django_jobs_job, django_jobs_deadjob RESTART IDENTITY",
    # Done jobs: finished evenly over the last 30 days, so about 1,400 in the last hour.
    f"""INSERT INTO django_jobs_job (task_path, args, kwargs, queue, priority, run_at, status,
        attempts, max_attempts, enqueued_at, started_at, finished_at, worker_id, errors, result,
        progress_message)
    SELECT 'bench.tasks.work', '[]', '{{}}', (ARRAY['default','mail','reports','slow'])[1 + g % 4],
        0, t, 'done', 1, 20, t, t, t + interval '1 second', 'bench-worker', '[]', 'null', ''
    FROM (SELECT g, now() - (g * interval '30 days' / {DONE}) AS t
          FROM generate_series(1, {DONE}) AS g) AS s""",
    # Queued: 80% ready (enqueued over the last 10 minutes), 10% waiting on a retry, 10% later.
    f"""INSERT INTO django_jobs_job (task_path, args, kwargs, queue, priority, run_at, status,
        attempts, max_attempts, enqueued_at, worker_id, errors, progress_message)
    SELECT 'bench.tasks.work', '[]', '{{}}',
        (ARRAY['default','default','mail','reports','slow'])[1 + (g / 10) % 5], (g % 3) - 1,
        CASE WHEN g % 10 = 0 THEN now() + interval '1 hour'
             WHEN g % 10 = 1 THEN now() + interval '5 minutes'
             ELSE now() - (g * interval '10 minutes' / {QUEUED}) END,
        'queued', CASE WHEN g % 10 = 1 THEN 2 ELSE 0 END, 20,
        now() - (g * interval '10 minutes' / {QUEUED}), '',
        CASE WHEN g % 10 = 1 THEN '[{{"attempt": 2, "exception_class": "builtins.OSError",
            "message": "flaky", "traceback": "", "failed_at": "2024-01-01T00:00:00+00:00"}}]'
            ELSE '[]' END::jsonb, ''
    FROM generate_series(1, {QUEUED}) AS g""",
    f"""INSERT INTO django_jobs_job (task_path, args, kwargs, queue, priority, run_at, status,
        attempts, max_attempts, enqueued_at, started_at, worker_id, lease_token,
        lease_expires_at, errors, progress_message)
    SELECT 'bench.tasks.work', '[]', '{{}}', (ARRAY['default','mail','reports','slow'])[1 + g % 4],
        0, now(), 'running', 1, 20, now(), now(), 'bench-worker', gen_random_uuid(),
        now() + interval '1 minute', '[]', ''
    FROM generate_series(1, {RUNNING}) AS g""",
    f"""INSERT INTO django_jobs_deadjob (job_id, task_path, args, kwargs, queue, priority,
        max_attempts, attempts, exception_class, message, traceback, errors, worker_id,
        enqueued_at, started_at, failed_at, replayed_by)
    SELECT 10000000 + g, 'bench.tasks.work', '[]', '{{}}',
        (ARRAY['default','mail','reports','slow'])[1 + g % 4], 0, 20, 20, 'builtins.ValueError',
        'bad input', 'Traceback (most recent call last): ...', '[]', 'bench-worker',
        now() - interval '1 day', now() - interval '1 day',
        now() - (g * interval '30 days' / {DEAD}), ''
    FROM generate_series(1, {DEAD}) AS g""",
]


def ensure_database() -> None:
    """Create the benchmark database if it does not exist yet."""
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    with psycopg.connect(
        host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"],
        dbname="postgres", autocommit=True,
    ) as conn:  # fmt: skip
        if not conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]]
        ).fetchone():
            conn.execute(f'CREATE DATABASE "{db["NAME"]}"')


def seed(*, force: bool) -> None:
    """Fill the tables unless they already hold the benchmark's rows."""
    from django.db import connection

    from django_jobs.models import Job, JobStatus

    if not force and Job.objects.filter(status=JobStatus.QUEUED).count() == QUEUED:
        print("Seed: already there (use --reseed to start over)")
        return
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for sql in SEED_SQL:
            cursor.execute(sql)
    connection.close()
    with connection.cursor() as cursor:  # VACUUM cannot run in a transaction block.
        cursor.execute("VACUUM ANALYZE django_jobs_job")
        cursor.execute("VACUUM ANALYZE django_jobs_deadjob")
    print(f"Seed: {DONE:,} done, {QUEUED:,} queued, {RUNNING} running, {DEAD:,} dead "
          f"in {time.perf_counter() - started:.0f}s")  # fmt: skip


def timed(func: object, rounds: int) -> list[float]:
    """Call ``func`` ``rounds`` times (after one warm-up call); return the times in ms."""
    func()  # type: ignore[operator]
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        func()  # type: ignore[operator]
        times.append((time.perf_counter() - started) * 1000)
    return times


def report(name: str, times: list[float]) -> None:
    print(f"{name}: median {statistics.median(times):.1f} ms, worst {max(times):.1f} ms "
          f"over {len(times)} loads")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--reseed", action="store_true")
    options = parser.parse_args()

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment
    from django.urls import reverse

    from django_jobs import dashboard

    if connection.vendor != "postgresql":
        sys.exit("This benchmark needs PostgreSQL: set DATABASE_URL=postgres://...")
    ensure_database()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    seed(force=options.reseed)

    setup_test_environment()
    user, _ = get_user_model().objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    url = reverse("admin:django_jobs_job_dashboard")

    def load_page() -> None:
        response = client.get(url)
        assert response.status_code == 200, response.status_code

    report("dashboard.collect()", timed(dashboard.collect, options.rounds))
    report(f"GET {url}", timed(load_page, options.rounds))
    for extra in ("", "?status__exact=queued"):
        job_list = reverse("admin:django_jobs_job_changelist") + extra

        def load_list(job_list: str = job_list) -> None:
            assert client.get(job_list).status_code == 200

        report(f"GET {job_list} (for comparison)", timed(load_list, options.rounds))
    with CaptureQueriesContext(connection) as queries:
        stats = dashboard.collect()
    print(f"One load ran {len(queries)} queries:")
    for query in queries.captured_queries:
        print(f"  {float(query['time']) * 1000:6.1f} ms  {query['sql'][:150]}")
    for row in stats.queues:
        print(f"  {row}")


if __name__ == "__main__":
    main()
