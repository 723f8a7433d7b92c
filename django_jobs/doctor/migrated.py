"""Are django_jobs' migrations applied, and do its tables exist?

Read through Django's own ``MigrationExecutor`` (the plan ``migrate`` would run) and the table
check ``runworker`` makes before it starts (``db.missing_tables``).
"""

from __future__ import annotations

from django.db.migrations.executor import MigrationExecutor

from .. import db
from .context import Context
from .findings import Finding, ok, problem, warning

NAME = "migrations"
TITLE = "Migrations applied"
POSTGRES_ONLY = False
APP = "django_jobs"


def check(context: Context) -> list[Finding]:
    """Problem: migrations ``migrate`` would still apply, or job tables missing. Warning:
    migrations recorded as applied that this code does not have."""
    from ..models import DeadJob, Job, ScheduleRun

    executor = MigrationExecutor(context.wrapper())
    loader = executor.loader
    # Every ancestor of the app's leaves, not migrate's plan: that plan is empty once the leaf
    # is recorded as applied, even when a migration before it is not.
    applied = loader.applied_migrations or {}
    needed = {
        node for leaf in loader.graph.leaf_nodes(APP) for node in loader.graph.forwards_plan(leaf)
    }
    pending = sorted(f"{app}.{name}" for app, name in needed if (app, name) not in applied)
    on_disk = sorted(name for app, name in loader.disk_migrations if app == APP)
    unknown = sorted(
        name for app, name in loader.applied_migrations if app == APP and name not in on_disk
    )
    findings = []
    if pending:
        findings.append(
            problem(
                NAME,
                f"{len(pending)} migrations not applied",
                f"Not applied: {', '.join(pending)}.",
                "Run `python manage.py migrate` (deploy steps: migrate before starting "
                "workers of the new code).",
            )
        )
    missing = db.missing_tables([Job, DeadJob, ScheduleRun], alias=context.wrapper().alias)
    if missing:
        findings.append(
            problem(
                NAME,
                f"Tables missing: {', '.join(missing)}",
                "The migrations are recorded as applied but the tables do not exist (a "
                "`migrate --fake`, a restored or hand-edited database?).",
                "Find out how first. If every django_jobs table is gone, `python manage.py "
                "migrate django_jobs zero --fake` then `python manage.py migrate django_jobs` "
                "recreates them; otherwise create the missing ones from what `python manage.py "
                "sqlmigrate django_jobs 0001_initial` prints.",
            )
        )
    if unknown:
        findings.append(
            warning(
                NAME,
                f"{len(unknown)} applied migrations unknown to this code",
                f"Recorded in django_migrations but not in this version: {', '.join(unknown)}.",
                "The database was migrated by another (newer?) version of django-jobs: run "
                "that version here, or migrate back with it before downgrading.",
            )
        )
    if not findings:
        latest = on_disk[-1] if on_disk else "none"
        findings.append(ok(NAME, TITLE, f"{len(on_disk)} django_jobs migrations, latest {latest}"))
    return findings
