"""How much of each job table is dead row versions that vacuum has not reclaimed yet.

The estimate is PostgreSQL's own statistics (``pg_stat_user_tables.n_dead_tup`` against
``n_live_tup``), which the server keeps up to date without reading the tables: cheap enough to run
against a busy production database. A job table is updated on every claim, heartbeat and
completion, so dead versions pile up fast when vacuum falls behind (autovacuum off or untuned, a
long transaction holding back the xmin horizon), and the claim query slows down with them.
Indexes bloat with their table; this check does not estimate them separately.
"""

from __future__ import annotations

from .context import Context
from .findings import Finding, ok, problem, warning

NAME = "bloat"
TITLE = "Dead rows in the job tables"
POSTGRES_ONLY = True

#: A warning from this many dead rows, when they are also this share of the table's rows...
WARNING_DEAD_ROWS = 1_000
WARNING_DEAD_SHARE = 0.2
#: ... a problem from this many, at this share (more dead rows than live ones).
PROBLEM_DEAD_ROWS = 10_000
PROBLEM_DEAD_SHARE = 0.5

ACTION = (
    "Run `VACUUM (VERBOSE, ANALYZE) {table};` now. If it comes back: check that autovacuum is "
    "on and tuned for the job table (the autovacuum finding), look for long transactions "
    "(pg_stat_activity.xact_start) that keep vacuum from removing rows, and prune finished jobs."
)


def level(dead: int, live: int) -> str:
    """Return "ok", "warning" or "problem" for a table of ``live`` rows and ``dead`` dead ones.

    >>> level(500, 0), level(5_000, 5_000), level(20_000, 10_000), level(50_000, 1_000_000)
    ('ok', 'warning', 'problem', 'ok')
    """
    share = dead / (dead + live) if dead + live else 0.0
    if dead >= PROBLEM_DEAD_ROWS and share >= PROBLEM_DEAD_SHARE:
        return "problem"
    if dead >= WARNING_DEAD_ROWS and share >= WARNING_DEAD_SHARE:
        return "warning"
    return "ok"


def check(context: Context) -> list[Finding]:
    """One finding per job table over a threshold; one ok finding when none is."""
    from .indexes import job_models

    tables = [str(model._meta.db_table) for model in job_models()]
    with context.wrapper().cursor() as cursor:
        cursor.execute(
            "SELECT relname, n_live_tup, n_dead_tup, last_vacuum, last_autovacuum, "
            "pg_size_pretty(pg_total_relation_size(relid)) FROM pg_stat_user_tables "
            "WHERE relid = ANY(%s::regclass[]) ORDER BY relname",
            [tables],
        )
        rows = cursor.fetchall()
    findings: list[Finding] = []
    summary = []
    for table, live, dead, vacuumed_at, autovacuumed_at, size in rows:
        last = max((t for t in (vacuumed_at, autovacuumed_at) if t), default=None)
        figures = (
            f"{dead:,} dead and {live:,} live rows, {size} with indexes; last vacuumed "
            f"{last.isoformat(timespec='seconds') if last else 'never'}"
        )
        summary.append(f"{table}: {dead:,} dead / {live:,} live")
        found = level(dead, live)
        if found == "problem":
            title = f"{table} is mostly dead rows"
            findings.append(problem(NAME, title, figures, ACTION.format(table=table)))
        elif found == "warning":
            title = f"{table} has many dead rows"
            findings.append(warning(NAME, title, figures, ACTION.format(table=table)))
    if not findings:
        findings.append(ok(NAME, TITLE, "; ".join(summary)))
    return findings
