"""How much of each job table is dead row versions, and of each index empty space.

Tables: PostgreSQL's own statistics (``pg_stat_user_tables.n_dead_tup`` against ``n_live_tup``),
which the server keeps without reading the tables: cheap enough for a busy production database. A
job table is updated on every claim, heartbeat and completion, so dead versions pile up fast when
vacuum falls behind (autovacuum off or untuned, a long transaction holding back the xmin
horizon), and the claim query slows down with them.

Indexes: each B-tree index's size against the floor ``btree.estimated_bytes`` gives for its entry
count (``pg_class.reltuples``, kept by VACUUM and ANALYZE) and key width (``pg_stats``, else the
column types). Vacuum empties index pages but never gives them back: after a backlog of a million
jobs drained, the partial index of ready jobs the claim walks keeps its million-entry size.
"""

from __future__ import annotations

from .btree import estimated_bytes
from .context import Context
from .findings import Finding, ok, problem, warning

NAME = "bloat"
TITLE = "Table and index bloat"
POSTGRES_ONLY = True

#: A warning from this many dead rows, when they are also this share of the table's rows...
WARNING_DEAD_ROWS = 1_000
WARNING_DEAD_SHARE = 0.2
#: ... a problem from this many, at this share (more dead rows than live ones).
PROBLEM_DEAD_ROWS = 10_000
PROBLEM_DEAD_SHARE = 0.5

#: An index is reported once it is this many times its estimated size, and at least this many
#: bytes larger (small indexes are left alone: a few empty pages cost nothing).
INDEX_RATIO = 3.0
INDEX_MIN_WASTE_BYTES = 8 * 2**20

INDEXES = """
SELECT c.relname, t.relname, pg_relation_size(i.indexrelid), c.reltuples,
    (SELECT coalesce(sum(CASE WHEN a.attlen > 0 THEN a.attlen
                              ELSE coalesce(s.avg_width, 16) END), 0)
     FROM pg_attribute a
     LEFT JOIN pg_stats s
         ON s.schemaname = n.nspname AND s.tablename = t.relname AND s.attname = a.attname
     WHERE a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey))
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
JOIN pg_am am ON am.oid = c.relam
WHERE i.indrelid = ANY(%s::regclass[]) AND am.amname = 'btree'
ORDER BY c.relname
"""

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


def _size(size: float) -> str:
    """Return ``size`` bytes for people.

    >>> _size(16_384), _size(12_197_888)
    ('16 KiB', '11.6 MiB')
    """
    return f"{size / 2**20:.1f} MiB" if size >= 2**20 else f"{size / 2**10:.0f} KiB"


def index_findings(context: Context, tables: list[str]) -> list[Finding]:
    """One warning per B-tree index of ``tables`` past ``INDEX_RATIO`` and
    ``INDEX_MIN_WASTE_BYTES``; indexes never vacuumed nor analyzed (no entry count) are skipped."""
    with context.wrapper().cursor() as cursor:
        cursor.execute(INDEXES, [tables])
        rows = cursor.fetchall()
    findings = []
    for index, table, size, tuples, width in rows:
        if tuples < 0:
            continue
        floor = estimated_bytes(tuples, int(width))
        if size >= INDEX_RATIO * floor and size - floor >= INDEX_MIN_WASTE_BYTES:
            findings.append(
                warning(
                    NAME,
                    f"Index {index} is bloated",
                    f"{_size(size)} for {tuples:,.0f} entries, about {size / floor:.0f} times the "
                    f"{_size(floor)} they need (an estimate).",
                    f"Rebuild it without blocking writes: REINDEX INDEX CONCURRENTLY {index}; "
                    f"(on {table}).",
                )
            )
    return findings


def check(context: Context) -> list[Finding]:
    """One finding per job table or index over a threshold; one ok finding when none is."""
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
    findings += index_findings(context, tables)
    if not findings:
        findings.append(ok(NAME, TITLE, "; ".join(summary) + "; no index bloated"))
    return findings
