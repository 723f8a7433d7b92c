"""``claim``: the one place that takes queued jobs for a worker."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connections, router, transaction
from django.utils import timezone

from ..models import Job, JobStatus

# Stands for "now" when the claim query is compiled once and cached; replaced on each call.
_NOW = datetime(2000, 1, 1, tzinfo=UTC)


def claim(
    *,
    worker_id: str,
    limit: int,
    lease_seconds: float,
    queues: Sequence[str] | None = None,
) -> list[Job]:
    """Claim up to ``limit`` ready jobs for ``worker_id``; return them marked running.

    Ready means queued with ``run_at <= now``, in ``queues`` (all if None), taken in priority
    (highest first), then run_at, then id order. Each claim counts an attempt, starts a lease of
    ``lease_seconds`` and gives the batch a new ``lease_token`` that every later write about these
    jobs must present. One statement, in autocommit or in the caller's transaction.
    """
    now = timezone.now()
    alias = router.db_for_write(Job)
    connection = connections[alias]
    sql, select_params, now_at = _claim_sql(alias, limit, tuple(queues) if queues else None)
    ready_before = Job._meta.get_field("run_at").get_db_prep_value(now, connection)
    params = [
        JobStatus.RUNNING,
        worker_id,
        _prep("lease_token", uuid.uuid4(), connection),
        _prep("lease_expires_at", now + timedelta(seconds=lease_seconds), connection),
        _prep("started_at", now, connection),
        *(ready_before if i in now_at else p for i, p in enumerate(select_params)),
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    convert = _row_converter(alias)
    jobs = [convert(row) for row in rows]
    jobs.sort(key=lambda job: (-job.priority, job.run_at, job.id))
    return jobs


@functools.lru_cache(maxsize=64)
def _claim_sql(
    alias: str, limit: int, queues: tuple[str, ...] | None
) -> tuple[str, list[Any], frozenset[int]]:
    """Return the claim statement, its parameters after the SET clause, and where "now" goes."""
    connection = connections[alias]
    # The candidates come from the ORM's SELECT ... FOR UPDATE SKIP LOCKED: concurrent workers
    # each lock different rows without waiting on one another (the pattern of Oban's and
    # GoodJob's fetch queries), and the locks last only for this one statement. Wrapping it in
    # UPDATE ... RETURNING takes the batch in a single round trip instead of four.
    candidates = (
        Job.objects.using(alias)
        .ready(_NOW)
        .in_queues(queues)
        .order_by("-priority", "run_at", "id")
        .select_for_update(skip_locked=True)
        .values("id")[:limit]
    )
    # Django refuses to compile FOR UPDATE outside a transaction. The statement is atomic on its
    # own, so compile inside a block that runs no query (psycopg then sends no BEGIN or COMMIT)
    # and execute in autocommit: one round trip per claim.
    with transaction.atomic(using=alias, savepoint=False):
        select_sql, select_params = candidates.query.sql_with_params()
    params = list(select_params)
    sentinel = Job._meta.get_field("run_at").get_db_prep_value(_NOW, connection)
    now_at = frozenset(i for i, p in enumerate(params) if p == sentinel)
    # ARRAY(subquery) is evaluated exactly once (an InitPlan), then rows are fetched by primary
    # key whatever the table statistics say. A plain IN (subquery) may be re-run by the planner,
    # skipping locked rows each time and claiming more than ``limit``, or be driven through the
    # ready index as a nested loop over the whole backlog when statistics are stale.
    # The status guard is what keeps claims exclusive where FOR UPDATE is compiled away (SQLite,
    # whose single UPDATE statement is atomic anyway). PostgreSQL needs none: FOR UPDATE
    # re-checked each row's latest version and holds its lock to the end of the statement, and
    # a guard would steer the planner back to the ready index.
    if connection.vendor == "postgresql":
        where = f"id = ANY(ARRAY({select_sql}))"
    else:
        where = f"id IN ({select_sql}) AND status = %s"
        params.append(JobStatus.QUEUED)
    columns = ", ".join(connection.ops.quote_name(str(f.column)) for f in Job._meta.concrete_fields)
    sql = (
        f"UPDATE {connection.ops.quote_name(str(Job._meta.db_table))} SET status = %s, "
        "attempts = attempts + 1, worker_id = %s, lease_token = %s, lease_expires_at = %s, "
        f"started_at = %s WHERE {where} RETURNING {columns}"
    )
    return sql, params, now_at


def _prep(name: str, value: object, connection: Any) -> object:
    field: Any = Job._meta.get_field(name)
    return field.get_db_prep_save(value, connection)


@functools.lru_cache(maxsize=8)
def _row_converter(alias: str) -> Callable[[tuple[Any, ...]], Job]:
    """Return a function that turns a RETURNING row into a ``Job``, as the ORM would."""
    connection = connections[alias]
    fields = Job._meta.concrete_fields
    attnames = [f.attname for f in fields]
    plan = []
    for field in fields:
        column = field.get_col(Job._meta.db_table)
        converters = [
            *connection.ops.get_db_converters(column),
            *field.get_db_converters(connection),
        ]
        plan.append((column, converters))

    def convert(row: tuple[Any, ...]) -> Job:
        values = []
        for (column, converters), value in zip(plan, row, strict=True):
            for converter in converters:
                value = converter(value, column, connection)
            values.append(value)
        return Job.from_db(alias, attnames, values)

    return convert
