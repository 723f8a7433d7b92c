"""Is autovacuum on, and tuned for the job table?

The job table is rewritten many times per job; with the server's defaults autovacuum waits for
20 % of a table to be dead before it starts (``autovacuum_vacuum_scale_factor``), which on a big
job table is hundreds of thousands of dead rows. The deploying-workers how-to sets absolute
thresholds for the job table in a migration; this check reads the table's ``reloptions`` and
the server's ``autovacuum`` and ``track_counts`` settings.
"""

from __future__ import annotations

from .context import Context
from .findings import Finding, ok, problem, warning

NAME = "autovacuum"
TITLE = "Autovacuum"
POSTGRES_ONLY = True

#: The reloptions the how-to's migration sets for the job table; one of them is enough here.
TUNED = ("autovacuum_vacuum_scale_factor", "autovacuum_vacuum_threshold")
HOWTO = "the 'Deploying workers' how-to, 'Keep the job table healthy in PostgreSQL'"


def reloptions(context: Context) -> dict[str, dict[str, str]]:
    """Return {table: {option: value}} for the job tables (empty dicts for server defaults)."""
    from .indexes import job_models

    tables = [str(model._meta.db_table) for model in job_models()]
    with context.wrapper().cursor() as cursor:
        cursor.execute(
            "SELECT relname, reloptions FROM pg_class WHERE oid = ANY(%s::regclass[])", [tables]
        )
        rows = cursor.fetchall()
    return {
        table: dict(option.split("=", 1) for option in options or []) for table, options in rows
    }


def check(context: Context) -> list[Finding]:
    """Problem: autovacuum off on the server or on a job table. Warning: the job table on the
    server's default thresholds."""
    from ..models import Job

    findings = []
    for setting in ("autovacuum", "track_counts"):
        if context.setting(setting) == "off":
            findings.append(
                problem(
                    NAME,
                    f"{setting} is off on the server",
                    "Nothing vacuums the job tables: dead rows pile up with every job and the "
                    "claim query slows down"
                    + (" (autovacuum needs track_counts)." if setting == "track_counts" else "."),
                    f"Turn {setting} on in postgresql.conf (or ALTER SYSTEM SET {setting} = on; "
                    "SELECT pg_reload_conf();), or run VACUUM on the job tables from cron.",
                )
            )
    options = reloptions(context)
    for table, table_options in sorted(options.items()):
        if table_options.get("autovacuum_enabled", "true").lower() in ("false", "off", "0"):
            findings.append(
                problem(
                    NAME,
                    f"Autovacuum disabled on {table}",
                    f"reloptions: {table_options}",
                    f"ALTER TABLE {table} RESET (autovacuum_enabled);",
                )
            )
    hot = str(Job._meta.db_table)
    if hot in options and not any(name in options[hot] for name in TUNED):
        findings.append(
            warning(
                NAME,
                f"{hot} uses the server's autovacuum thresholds",
                ", ".join(f"{name} {context.setting(name)}" for name in TUNED)
                + ": a big job table collects many dead rows before it is vacuumed.",
                f"Set absolute thresholds for it in a migration, as in {HOWTO}.",
            )
        )
    if not findings:
        findings.append(ok(NAME, TITLE, f"On; {hot}: {options.get(hot)}"))
    return findings
