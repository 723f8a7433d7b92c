"""Measure ``manage.py jobs`` stats, health, list and show over a million jobs, with their plans.

Usage (PostgreSQL; the same seed as ``benchmarks/dashboard.py``: 1,000,000 done jobs over 30
days, 100,000 queued, 200 running, 20,000 dead; made once, in about a minute)::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/django_jobs_bench \\
        .venv/bin/python benchmarks/jobs_command.py [--rounds 10] [--reseed]

Each subcommand runs in this process through ``call_command`` (so Django's start-up, about a
second, is not counted); prints the median and worst time of each, then ``EXPLAIN ANALYZE`` of
every query one run made. Not a test: the figures depend on the machine.
"""

from __future__ import annotations

import argparse
import io
import sys

from dashboard import ROOT, ensure_database, report, seed, timed

COMMANDS = [
    ["stats", "--json"],
    ["health", "--max-ready-age", "600", "--max-dead-last-hour", "100"],
    ["list"],
    ["list", "--status", "queued", "--queue", "mail"],
    ["list", "--status", "dead", "--since", "3600"],
    ["list", "--task", "no.such.task", "--since", "3600"],
    ["show", "10000001"],
]


def run(args: list[str]) -> None:
    from django.core.management import call_command

    try:
        call_command("jobs", *args, stdout=io.StringIO(), stderr=io.StringIO())
    except SystemExit as exit:
        assert exit.code in (0, 1), (args, exit.code)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--reseed", action="store_true")
    options = parser.parse_args()

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if connection.vendor != "postgresql":
        sys.exit("This benchmark needs PostgreSQL: set DATABASE_URL=postgres://...")
    ensure_database()
    call_command("migrate", verbosity=0)
    seed(force=options.reseed)
    for args in COMMANDS:
        report(f"jobs {' '.join(args)}", timed(lambda args=args: run(args), options.rounds))
    for args in COMMANDS:
        with CaptureQueriesContext(connection) as queries:
            run(args)
        print(f"\n== jobs {' '.join(args)}: {len(queries)} queries")
        for query in queries.captured_queries:
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, COSTS OFF) " + query["sql"])
                plan = [row[0] for row in cursor.fetchall()]
            print(f"-- {query['sql'][:160]}")
            print("\n".join(f"   {line}" for line in plan))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
