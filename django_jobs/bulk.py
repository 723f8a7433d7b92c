"""``insert_jobs``: many jobs that differ only in their arguments, in one INSERT statement."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from django.db import connections, router

if TYPE_CHECKING:
    from .models import Job


def insert_jobs(template: Job, calls: list[tuple[str, str]]) -> list[int]:
    """INSERT one row per ``(args_json, kwargs_json)`` with ``template``'s other fields; return ids.

    On PostgreSQL the constant fields are bound once and the arguments travel as two ``jsonb[]``
    arrays expanded by ``unnest``: one statement and no per-row model preparation, about twice
    as fast as ``bulk_create``. Elsewhere it falls back to ``bulk_create``. Needs a transaction
    only if the caller wants several batches to commit together.
    """
    from .models import Job

    if not calls:
        return []
    alias = router.db_for_write(Job)
    connection = connections[alias]
    if connection.vendor != "postgresql":
        jobs = []
        for args_json, kwargs_json in calls:
            job = Job(**{f.attname: getattr(template, f.attname) for f in _fields()})
            job.args, job.kwargs = json.loads(args_json), json.loads(kwargs_json)
            jobs.append(job)
        Job.objects.using(alias).bulk_create(jobs)
        return [job.id for job in jobs]
    constants = [f for f in _fields() if f.attname not in ("args", "kwargs")]
    names = [connection.ops.quote_name(f.column) for f in constants]
    params = [f.get_db_prep_save(getattr(template, f.attname), connection) for f in constants]
    sql = (
        f"INSERT INTO {connection.ops.quote_name(Job._meta.db_table)} "
        f"(args, kwargs, {', '.join(names)}) "
        f"SELECT c.args, c.kwargs, {', '.join(['%s'] * len(params))} "
        "FROM unnest(%s::jsonb[], %s::jsonb[]) AS c(args, kwargs) RETURNING id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, [a for a, _ in calls], [k for _, k in calls]])
        return [row[0] for row in cursor.fetchall()]


def _fields() -> list[Any]:
    from .models import Job

    return [f for f in Job._meta.concrete_fields if not f.primary_key]
