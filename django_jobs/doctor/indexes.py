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


def _pg_validity(context: Context, table: str) -> tuple[dict[str, bool], dict[str, bool]]:
    """Return ({index name: valid and ready}, {check constraint name: validated}) for ``table``."""
    with context.wrapper().cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, i.indisvalid AND i.indisready FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = %s::regclass",
            [table],
        )
        indexes = dict(cursor.fetchall())
        cursor.execute(
            "SELECT conname, convalidated FROM pg_constraint WHERE conrelid = %s::regclass "
            "AND contype = 'c'",
            [table],
        )
        constraints = dict(cursor.fetchall())
    return indexes, constraints


def _present(context: Context, table: str) -> dict[str, Any]:
    wrapper = context.wrapper()
    with wrapper.cursor() as cursor:
        return wrapper.introspection.get_constraints(cursor, table)


def _missing(context: Context, model: type[models.Model], item: Expected) -> Finding:
    return problem(
        NAME,
        f"Missing: {item.name} on {model._meta.db_table}",
        f"{type(item).__name__} declared by {model.__name__}.Meta is not in the database "
        "(dropped by hand, or a migration that failed halfway?).",
        f"Create it again: {create_sql(context, model, item)}",
    )


def _invalid(table: str, item: Expected) -> Finding:
    if isinstance(item, models.CheckConstraint):
        why = "It was added NOT VALID and never validated: rows written before may break it."
        action = f"Validate it: ALTER TABLE {table} VALIDATE CONSTRAINT {item.name};"
    else:
        why = (
            "PostgreSQL keeps it up to date on every write but no query uses it: a CREATE INDEX "
            "CONCURRENTLY or REINDEX CONCURRENTLY that failed."
        )
        action = (
            f"Rebuild it: REINDEX INDEX CONCURRENTLY {item.name}; (if that fails, its error "
            "says why, e.g. duplicate rows for a unique index: fix that and run it again)."
        )
    return problem(NAME, f"Invalid: {item.name} on {table}", why, action)


def _extra_invalid(table: str, name: str) -> Finding:
    return warning(
        NAME,
        f"Invalid extra index: {name} on {table}",
        "An invalid index django-jobs does not declare (a leftover of a failed REINDEX "
        "CONCURRENTLY is named *_ccnew): it slows every write to the table.",
        f"Drop it: DROP INDEX CONCURRENTLY {name};",
    )


def _check_table(context: Context, model: type[models.Model]) -> tuple[list[Finding], int]:
    table = str(model._meta.db_table)
    present = _present(context, table)
    indexes, constraints = _pg_validity(context, table) if context.postgresql else ({}, {})
    valid = {**indexes, **constraints}
    wanted = expected(model)
    findings = []
    for item in wanted:
        if item.name not in present:
            findings.append(_missing(context, model, item))
        elif not valid.get(str(item.name), True):
            findings.append(_invalid(table, item))
    declared = {item.name for item in wanted}
    findings += [
        _extra_invalid(table, name)
        for name, ok_ in indexes.items()
        if not ok_ and name not in declared
    ]
    return findings, len(wanted)


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
