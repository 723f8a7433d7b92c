"""Are the indexes and constraints the job models declare present, and (PostgreSQL) valid?

Expected: every ``Meta.indexes`` and ``Meta.constraints`` entry of ``Job``, ``DeadJob`` and
``ScheduleRun``, by name. Present: Django's introspection (any database). Valid: ``pg_index``
(``indisvalid`` and ``indisready``: a ``CREATE INDEX CONCURRENTLY`` or ``REINDEX CONCURRENTLY``
that failed leaves an index that exists but is not used by queries) and ``pg_constraint``
(``convalidated``: a constraint added ``NOT VALID`` and never validated).
"""

from __future__ import annotations

from typing import Any

from django.db import models

from .context import Context
from .findings import Finding, ok, problem, warning

NAME = "indexes"
TITLE = "Indexes and constraints"
POSTGRES_ONLY = False

Expected = models.Index | models.BaseConstraint


def job_models() -> list[type[models.Model]]:
    from ..models import DeadJob, Job, ScheduleRun

    return [Job, DeadJob, ScheduleRun]


def expected(model: type[models.Model]) -> list[Expected]:
    """Return the named indexes and constraints ``model`` declares in its ``Meta``."""
    return [*model._meta.indexes, *model._meta.constraints]


def create_sql(context: Context, model: type[models.Model], item: Expected) -> str:
    """Return the SQL that creates ``item`` as its migration did (concurrently, on PostgreSQL,
    for an index)."""
    wrapper = context.wrapper()
    wrapper.ensure_connection()  # quoting the partial indexes' conditions needs a live connection
    editor = wrapper.schema_editor(collect_sql=True)
    if isinstance(item, models.Index):
        if context.postgresql:  # PostgreSQL's schema editor alone takes ``concurrently``
            return f"{item.create_sql(model, editor, concurrently=True)};"
        return f"{item.create_sql(model, editor)};"
    return f"{item.create_sql(model, editor)};"


def _pg_validity(context: Context, table: str) -> dict[str, tuple[bool, bool]]:
    """Return {index or constraint name: (valid, ready)} for ``table``."""
    with context.wrapper().cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, i.indisvalid, i.indisready FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = %s::regclass",
            [table],
        )
        found = {name: (valid, ready) for name, valid, ready in cursor.fetchall()}
        cursor.execute(
            "SELECT conname, convalidated FROM pg_constraint WHERE conrelid = %s::regclass "
            "AND contype = 'c'",
            [table],
        )
        found.update({name: (valid, True) for name, valid in cursor.fetchall()})
    return found


def _present(context: Context, table: str) -> dict[str, Any]:
    wrapper = context.wrapper()
    with wrapper.cursor() as cursor:
        return wrapper.introspection.get_constraints(cursor, table)


def _check_table(context: Context, model: type[models.Model]) -> tuple[list[Finding], int]:
    table = str(model._meta.db_table)
    present = _present(context, table)
    validity = _pg_validity(context, table) if context.postgresql else {}
    findings = []
    wanted = expected(model)
    for item in wanted:
        name = str(item.name)
        if name not in present:
            findings.append(
                problem(
                    NAME,
                    f"Missing: {name} on {table}",
                    f"{type(item).__name__} declared by {model.__name__}.Meta is not in the "
                    "database (dropped by hand, or a migration that failed halfway?).",
                    f"Create it again: {create_sql(context, model, item)}",
                )
            )
        elif not all(validity.get(name, (True, True))):
            findings.append(
                problem(
                    NAME,
                    f"Invalid: {name} on {table}",
                    "PostgreSQL marks it invalid (not used by queries, but still updated): a "
                    "CREATE INDEX CONCURRENTLY or REINDEX CONCURRENTLY that failed, or a "
                    "constraint added NOT VALID.",
                    _repair(table, name, item),
                )
            )
    declared = {str(item.name) for item in wanted}
    for name, (valid, ready) in validity.items():
        if name not in declared and not (valid and ready):
            findings.append(
                warning(
                    NAME,
                    f"Invalid extra index: {name} on {table}",
                    "An invalid index django-jobs does not declare (a leftover of a failed "
                    "REINDEX CONCURRENTLY is named *_ccnew): it slows every write to the table.",
                    f"Drop it: DROP INDEX CONCURRENTLY {name};",
                )
            )
    return findings, len(wanted)


def _repair(table: str, name: str, item: Expected) -> str:
    if isinstance(item, models.CheckConstraint):
        return f"Validate it: ALTER TABLE {table} VALIDATE CONSTRAINT {name};"
    return (
        f"Rebuild it: REINDEX INDEX CONCURRENTLY {name}; (if that fails, see the error, fix its "
        "cause, e.g. duplicate rows for a unique index, and run it again)."
    )


def check(context: Context) -> list[Finding]:
    """One problem per missing or invalid declared index or constraint; a warning per invalid
    index django-jobs does not declare. Tables that do not exist are the migrations check's."""
    findings: list[Finding] = []
    counted = 0
    tables = set(context.wrapper().introspection.table_names())
    for model in job_models():
        if model._meta.db_table not in tables:
            continue
        found, count = _check_table(context, model)
        findings += found
        counted += count
    if not findings:
        what = "present and valid" if context.postgresql else "present"
        findings.append(ok(NAME, TITLE, f"{counted} declared indexes and constraints {what}"))
    return findings
