"""What the engine's statements need from the database: its alias, its vendor, prepared values.

Vendor differences live here and in the few statements that branch on ``postgresql()``; the rest
of django-jobs never asks which database it runs on for a write.
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
import weakref
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
from django.db import connections, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import DateTimeField, Func
from django.utils import timezone

from .. import listen_connection
from ..conf import jobs_settings
from ..models import Job, JobStatus


def alias() -> str:
    """Return the database alias the job tables live on (the router's choice for ``Job``)."""
    return router.db_for_write(Job)


def wrapper() -> BaseDatabaseWrapper:
    """Return this thread's connection wrapper for the job tables."""
    return connections[alias()]


def postgresql() -> bool:
    """Return whether the job tables live on PostgreSQL."""
    return wrapper().vendor == "postgresql"


def clock() -> Any:
    """Return "now" for a guarded UPDATE: PostgreSQL's ``clock_timestamp()``, else Python's time.

    Read when each row is (re)checked, so of two statements racing for a row the second judges
    it after the first's change, not by an earlier instant of its own: a guard such as
    ``run_at > now`` then lets exactly one of them through.
    """
    if postgresql():
        return Func(template="clock_timestamp()", output_field=DateTimeField())
    return timezone.now()


def table() -> str:
    """Return the quoted name of the job table."""
    return wrapper().ops.quote_name(str(Job._meta.db_table))


def prep(name: str, value: object) -> object:
    """Return ``value`` as the database adapter wants it for ``Job`` field ``name``."""
    field: Any = Job._meta.get_field(name)
    return field.get_db_prep_save(value, wrapper())


def placeholders(values: Sequence[object]) -> str:
    """Return ``%s, %s, ...`` for ``values``."""
    return ", ".join(["%s"] * len(values))


def held(job_id: int, lease_token: uuid.UUID | None, **guard: Any) -> Any:
    """Return the queryset of job ``job_id`` if it still runs under ``lease_token``: the fence
    of every ORM write after a claim (``guard`` adds lookups, e.g. an expired lease)."""
    return Job.objects.filter(id=job_id, status=JobStatus.RUNNING, lease_token=lease_token, **guard)


def fenced_where(jobs: Iterable[Job]) -> tuple[str, list[object]]:
    """Return a WHERE fragment and its parameters matching exactly the held leases of ``jobs``.

    ``id = ANY(ids) AND lease_token = ANY(tokens) AND status = 'running'`` (IN lists outside
    PostgreSQL): tokens are new per claim and never reused, so the pair of lists matches the
    given (id, token) pairs and no other row (a job claimed again since carries a token not in
    the list). On PostgreSQL each list is one array parameter, whatever the batch size.
    """
    jobs = list(jobs)
    ids = [job.id for job in jobs]
    tokens = list({prep("lease_token", job.lease_token) for job in jobs})
    if postgresql():
        where = "id = ANY(%s::bigint[]) AND lease_token = ANY(%s::uuid[]) AND status = %s"
        return where, [ids, tokens, "running"]
    where = (
        f"id IN ({placeholders(ids)}) AND lease_token IN ({placeholders(tokens)}) AND status = %s"
    )
    return where, [*ids, *tokens, "running"]


def relaxed_commit() -> str:
    """Return a WHERE term that commits this autocommit statement with ``synchronous_commit=off``,
    or ``"TRUE"`` where that does not apply (SQLite, inside a caller's transaction, the setting
    ``ASYNC_COMMIT`` off).

    For worker writes whose loss in a database crash cannot lose a job: claims, starts and
    completions. The commit returns without waiting for the WAL flush (PostgreSQL writes it
    within 3 x ``wal_writer_delay``, 600 ms by default). A crash of the server in that window
    rolls back the newest such writes, and since WAL is replayed in order it rolls back nothing
    older that depends on them: a rolled-back claim or start puts the job back in the queue,
    its attempt not charged; a rolled-back completion leaves it running until rescue runs it
    again. A clean shutdown or restart loses nothing, and neither does a crash of the worker:
    the commit is in the server's memory already. ``set_config(..., true)`` is local to the
    statement's own transaction: no session state is left behind, so it is safe behind
    PgBouncer in transaction mode.
    """
    connection = wrapper()
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return "TRUE"
    if not jobs_settings.ASYNC_COMMIT:
        return "TRUE"
    return "(SELECT set_config('synchronous_commit', 'off', true)) IS NOT NULL"


def execute_returning(
    sql: str, params: Sequence[Any], *, prepare: bool | int = False
) -> list[tuple[Any, ...]]:
    """Run one statement with a RETURNING clause in autocommit (or the caller's transaction).

    On PostgreSQL the parameters travel bound on the server side (psycopg's default cursor, not
    the client-side quoting of Django's): a batch's id and token arrays are sent as two values
    instead of being spelled out in the SQL text, which costs the worker most of a batch's time
    otherwise. With ``prepare`` (the worker's claims, starts and completions, run thousands of
    times) the statement is prepared on the connection and planned once instead of at every
    call, which saves PostgreSQL about a millisecond per claim; except on a connection that
    reaches PostgreSQL through a pooler (PgBouncer in transaction mode hands each transaction
    another server connection, where the prepared statement does not exist), found out once per
    connection. Database errors come out as Django's, as from ``cursor.execute``. Where
    Django logs queries (``DEBUG``, ``assertNumQueries``) the statement is logged as its own
    cursors' are.
    """
    connection = wrapper()
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()
    connection.ensure_connection()
    connection.validate_thread_sharing()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        # The project's execute wrappers (query logging, tracing) still see the statement.
        if prepare is not True and prepare is not False:
            prepare = _runs(connection.connection, sql) >= prepare
        execute: Any = functools.partial(
            _server_bound_execute, prepare=prepare and not _pooled(connection.connection)
        )
        if connection.queries_logged:  # DEBUG, assertNumQueries, CaptureQueriesContext
            execute = functools.partial(_logged_execute, execute)
        for wrap in reversed(connection.execute_wrappers):
            execute = functools.partial(wrap, execute)
        execute(sql, params, False, {"connection": connection, "cursor": cursor})
        return cursor.fetchall()


def _server_bound_execute(
    sql: str, params: Any, many: bool, context: dict[str, Any], *, prepare: bool
) -> None:
    context["cursor"].execute(sql, params, prepare=prepare)


#: psycopg connection -> whether a pooler stands between it and PostgreSQL.
_POOLED: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()


#: psycopg connection -> {statement: times run}, for ``execute_returning(prepare=N)``.
_RUNS: weakref.WeakKeyDictionary[Any, dict[str, int]] = weakref.WeakKeyDictionary()


def _runs(raw: Any, sql: str) -> int:
    counts = _RUNS.get(raw)
    if counts is None:
        counts = _RUNS[raw] = {}
    count = counts[sql] = counts.get(sql, 0) + 1
    return count


#: A prepare threshold no query reaches: only statements run with ``prepare=True`` are prepared.
_EXPLICIT_ONLY = 2**31 - 1


def _pooled(raw: Any) -> bool:
    pooled = _POOLED.get(raw)
    if pooled is None:
        pooled = _POOLED[raw] = listen_connection.behind_pooler(raw)
        if not pooled and raw.prepare_threshold is None:
            # Django turns psycopg's preparing off (prepare_threshold=None), which also refuses
            # an explicit prepare=True. Django's own queries bind on the client and are never
            # prepared either way; this lets the worker's few statements be.
            raw.prepare_threshold = _EXPLICIT_ONLY
    return pooled


def _logged_execute(
    execute: Any, sql: str, params: Any, many: bool, context: dict[str, Any]
) -> None:
    # As Django's CursorDebugWrapper: into connection.queries_log, and the django.db.backends log.
    connection = context["connection"]
    start = time.monotonic()
    try:
        execute(sql, params, many, context)
    finally:
        duration = time.monotonic() - start
        try:
            text = connection.ops.compose_sql(sql, params)
        except Exception:  # a value only the server-side binding can send
            text = sql
        connection.queries_log.append({"sql": text, "time": f"{duration:.3f}"})
        logging.getLogger("django.db.backends").debug(
            "(%.3f) %s; args=%s; alias=%s",
            duration,
            text,
            params,
            connection.alias,
            extra={"duration": duration, "sql": text, "params": params, "alias": connection.alias},
        )
