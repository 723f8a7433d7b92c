"""``claim`` takes ready jobs for a worker; ``start`` charges an attempt as each begins.

The two are apart on purpose: a worker claims ahead of its free slots (prefetch) so that claims
come in batches, but a job that waits in that buffer has not started. If the process dies then,
rescue gives such a job back without counting an attempt; only a job that began is charged.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connections, transaction
from django.db.models import JSONField
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init
from django.utils import timezone

from ..models import Job, JobStatus
from . import sql
from .queues import limited_queues

# Stands for "now" when the claim query is compiled once and cached; replaced on each call.
_NOW = datetime(2000, 1, 1, tzinfo=UTC)


def claim(
    *,
    worker_id: str,
    limit: int,
    lease_seconds: float,
    queues: Sequence[str] | None = None,
    start_first: int = 0,
    start_ahead: int = 0,
) -> list[Job]:
    """Claim up to ``limit`` ready jobs for ``worker_id``; return them marked running.

    Ready means queued with ``run_at <= now``, in ``queues`` (all if None) and not in a paused
    queue (``PausedQueue``, read by this same statement), free of limits (no
    ``concurrency_key``, not in a queue with limits: ``claim_limited`` takes those), in priority
    (highest first), then run_at, then id order. Each claimed row gets a lease of
    ``lease_seconds`` and the batch a new ``lease_token`` that every later write about these
    jobs must present. The first ``start_first`` jobs in that order are also started, as ``start()``
    would do (an attempt charged, ``started_at`` stamped), in the same statement: a worker
    passes the number of its idle slots. The ``start_ahead`` jobs after those are started too,
    except a job on its last attempt (``attempts + 1 >= max_attempts``): a worker passes the
    room of its runway (``worker/runway.py``), jobs started ahead of a free slot, which a crash
    would charge an attempt they never used, so never the last one. PostgreSQL only; elsewhere
    ``start_ahead`` is ignored. The others have ``started_at`` NULL and ``attempts`` unchanged
    until ``start``. In autocommit the statement commits without waiting for the WAL
    flush (``sql.relaxed_commit``: only a crash of the database server can undo it, and then the
    jobs are back in the queue, their attempt not charged).
    One statement, in autocommit or in the caller's transaction; the returned list has the
    started jobs first.
    """
    if start_first < 0 or start_ahead < 0 or limit < 1:
        raise ValueError(
            "claim needs limit >= 1, start_first >= 0 and start_ahead >= 0, "
            f"got {limit}, {start_first} and {start_ahead}"
        )
    start_first = min(start_first, limit)
    now = timezone.now()
    alias = sql.alias()
    fused = (start_first > 0 or start_ahead > 0) and sql.postgresql()
    relaxed = sql.relaxed_commit()
    queue_names = tuple(queues) if queues else None
    compiled = _claim_sql(alias, queue_names, fused, relaxed, limited_queues())
    statement = compiled.statement
    select_params = compiled.bind(sql.prep("run_at", now), limit)
    token, expires_at = uuid.uuid4(), now + timedelta(seconds=lease_seconds)
    params = [
        JobStatus.RUNNING,
        worker_id,
        sql.prep("lease_token", token),
        sql.prep("lease_expires_at", expires_at),
    ]
    if fused:
        # The candidates' CTE comes first in the statement, then the SET clause.
        started_at = sql.prep("started_at", now)
        ahead = min(limit, start_first + start_ahead)
        params = [*select_params, *params, start_first, ahead, start_first, ahead, started_at]
    else:
        params = [*params, *select_params]
    rows = sql.execute_returning(statement, params, prepare=True)
    # What the claim itself wrote is not sent back: fewer columns cost both sides less.
    sent = (JobStatus.RUNNING.value, worker_id, token, expires_at)
    jobs = jobs_from_rows(rows, alias, dict(zip(_SET_BY_CLAIM, sent, strict=True)))
    jobs.sort(key=lambda job: (-job.priority, job.run_at, job.id))
    if start_first and not fused:
        # No single-statement form here (SQLite): start the first jobs with a second one.
        first = start(jobs[:start_first], now=now)
        jobs = [*first, *jobs[start_first:]]
    return jobs


def start(jobs: Sequence[Job], *, now: datetime | None = None) -> list[Job]:
    """Charge one attempt to each claimed job of ``jobs`` and stamp its ``started_at``.

    Fenced by each job's lease and guarded by ``started_at IS NULL``, so an attempt is charged
    once per claim however often this is called. Returns the jobs whose lease is still held,
    updated in memory (``attempts``, ``started_at``); the others were rescued meanwhile and
    must not run. One statement; in autocommit it commits without waiting for the WAL flush, as
    ``claim`` does.
    """
    if not jobs:
        return []
    now = now or timezone.now()
    where, params = sql.fenced_where(jobs)
    rows = sql.execute_returning(
        f"UPDATE {sql.table()} SET attempts = attempts + 1, started_at = %s "
        f"WHERE {where} AND started_at IS NULL AND {sql.relaxed_commit()} RETURNING id, attempts",
        [sql.prep("started_at", now), *params],
        prepare=True,
    )
    attempts = dict(rows)
    started = []
    for job in jobs:
        if job.id in attempts:
            job.attempts, job.started_at = attempts[job.id], now
            started.append(job)
    return started


# Whether a fused claim starts the candidate numbered ``n``: the first ones always, those
# started ahead of a free slot unless on their last attempt. Two parameters.
_STARTED = "candidate.n <= %s OR (candidate.n <= %s AND attempts + 1 < max_attempts)"


# Compiled in place of the claim's LIMIT, then made a parameter: one statement text (and one
# prepared statement, planned once per connection) for every batch size.
_LIMIT = 987_654_321


@dataclasses.dataclass(frozen=True)
class ClaimSQL:
    """A compiled claim: its ``statement`` and the parameters of its candidates' SELECT, with
    the places where "now" (``now_at``) and the batch size (``limit_at``) go."""

    statement: str
    params: list[Any]
    now_at: frozenset[int]
    limit_at: int

    def bind(self, now: Any, limit: int) -> list[Any]:
        """The SELECT's parameters for a claim at ``now`` (as the database takes it) of at
        most ``limit`` jobs."""
        bound = [now if i in self.now_at else p for i, p in enumerate(self.params)]
        bound[self.limit_at] = limit
        return bound


@functools.lru_cache(maxsize=64)
def _claim_sql(
    alias: str,
    queues: tuple[str, ...] | None,
    fused: bool,
    relaxed: str,
    limited: tuple[str, ...] = (),
) -> ClaimSQL:
    """Return the claim statement, its parameters after the SET clause, and where "now" and
    the batch size go."""
    connection = connections[alias]
    # The candidates come from the ORM's SELECT ... FOR UPDATE SKIP LOCKED: concurrent workers
    # each lock different rows without waiting on one another (the pattern of Oban's and
    # GoodJob's fetch queries), and the locks last only for this one statement. Wrapping it in
    # UPDATE ... RETURNING takes the batch in a single round trip instead of four.
    candidates = (
        Job.objects.using(alias)
        .ready(_NOW)
        .in_queues(queues)
        .unpaused()
        .unlimited(limited)
        .order_by("-priority", "run_at", "id")
        .select_for_update(skip_locked=True)
        .values("id")[:_LIMIT]
    )
    # Django refuses to compile FOR UPDATE outside a transaction. The statement is atomic on its
    # own, so compile inside a block that runs no query (psycopg then sends no BEGIN or COMMIT)
    # and execute in autocommit: one round trip per claim.
    with transaction.atomic(using=alias, savepoint=False):
        select_sql, select_params = candidates.query.sql_with_params()
    params = list(select_params)
    sentinel = Job._meta.get_field("run_at").get_db_prep_value(_NOW, connection)
    now_at = frozenset(i for i, p in enumerate(params) if p == sentinel)
    # The LIMIT follows every parameter of the WHERE clause (FOR UPDATE has none).
    literal = f" LIMIT {_LIMIT}"
    if select_sql.count(literal) != 1 or select_sql.count("%s", select_sql.index(literal)):
        raise AssertionError(f"unexpected claim SQL from the ORM: {select_sql}")
    select_sql = select_sql.replace(literal, " LIMIT %s")
    limit_at = len(params)
    params.append(_LIMIT)
    table = connection.ops.quote_name(str(Job._meta.db_table))
    columns = ", ".join(
        f"{table}.{connection.ops.quote_name(str(f.column))}"
        for f in Job._meta.concrete_fields
        if f.attname not in _SET_BY_CLAIM
    )
    claim_set = (
        f"UPDATE {table} SET status = %s, worker_id = %s, lease_token = %s, lease_expires_at = %s"
    )
    if fused:
        # ARRAY(subquery) is evaluated exactly once; WITH ORDINALITY numbers the candidates in
        # claim order, so the first ``start_first`` of them are started by the same UPDATE, and
        # those up to ``start_first + start_ahead`` unless on their last attempt (the SET
        # clause reads the row's old ``attempts``).
        # The MATERIALIZED CTE keeps the subquery from being inlined and re-run, and the rows
        # are then fetched by primary key.
        statement = (
            f"WITH candidate AS MATERIALIZED (SELECT id, n FROM unnest(ARRAY({select_sql})) "
            "WITH ORDINALITY AS c(id, n)) "
            f"{claim_set}, attempts = attempts + ({_STARTED})::int, "
            f"started_at = CASE WHEN {_STARTED} THEN %s::timestamptz END "
            f"FROM candidate WHERE {table}.id = candidate.id AND {relaxed} RETURNING {columns}"
        )
        return ClaimSQL(statement, params, now_at, limit_at)
    # ARRAY(subquery) is evaluated exactly once (an InitPlan), then rows are fetched by primary
    # key whatever the table statistics say. A plain IN (subquery) may be re-run by the planner,
    # skipping locked rows each time and claiming more than ``limit``, or be driven through the
    # ready index as a nested loop over the whole backlog when statistics are stale.
    # The status guard is what keeps claims exclusive where FOR UPDATE is compiled away (SQLite,
    # whose single UPDATE statement is atomic anyway). PostgreSQL needs none: FOR UPDATE
    # re-checked each row's latest version and holds its lock to the end of the statement, and
    # a guard would steer the planner back to the ready index.
    if connection.vendor == "postgresql":
        where = f"id = ANY(ARRAY({select_sql})) AND {relaxed}"
    else:
        where = f"id IN ({select_sql}) AND status = %s"
        params.append(JobStatus.QUEUED)
    statement = f"{claim_set}, started_at = NULL WHERE {where} RETURNING {columns}"
    return ClaimSQL(statement, params, now_at, limit_at)


#: The columns every claimed row holds the claim's own values in: set on the ``Job`` objects
#: from what the claim sent, not returned (``SET`` order).
_SET_BY_CLAIM = ("status", "worker_id", "lease_token", "lease_expires_at")


def jobs_from_rows(
    rows: Sequence[tuple[Any, ...]], alias: str, known: Mapping[str, Any] | None = None
) -> list[Job]:
    """Return ``Job`` instances for ``rows`` from database ``alias``, in the rows' order.

    Each row holds the concrete columns of ``Job`` in field order (as RETURNING gives them),
    except those named in ``known`` ({attname: value}), whose value is the same for every row
    and is set on each job as given (Python values, as the ORM would load them).
    """
    known = known or {}
    return _row_converter(alias, tuple(known))(rows, known)


@functools.lru_cache(maxsize=8)
def _row_converter(
    alias: str, omitted: tuple[str, ...] = ()
) -> Callable[[Sequence[tuple[Any, ...]], Mapping[str, Any]], list[Job]]:
    """Return a function that turns RETURNING rows into ``Job`` objects, as ``Job.from_db`` would.

    The claim converts every row it takes on the worker's main thread, so this does the ORM's
    work with less of its generality: only the columns that have converters go through them
    (a JSON column with the default decoder through ``_load_json``, which skips the parser for
    the empty list and object most rows hold), and while nothing listens to ``pre_init`` or
    ``post_init`` for ``Job`` the instance is built without ``Model.__init__``, by filling its
    ``__dict__`` as ``__init__`` would from a full row (no field of ``Job`` has a descriptor
    that does more on a fresh instance). With a receiver connected it is ``Job.from_db``.
    """
    connection = connections[alias]
    every = tuple(f.attname for f in Job._meta.concrete_fields)
    fields = [f for f in Job._meta.concrete_fields if f.attname not in omitted]
    attnames = tuple(f.attname for f in fields)
    steps: list[tuple[int, Any, list[Callable[..., Any]]]] = []
    json_at: list[int] = []
    for i, field in enumerate(fields):
        column = field.get_col(Job._meta.db_table)
        converters = [
            *connection.ops.get_db_converters(column),
            *field.get_db_converters(connection),
        ]
        if (
            isinstance(field, JSONField)
            and field.decoder is None
            and converters == [field.from_db_value]
        ):
            json_at.append(i)
        elif converters:
            steps.append((i, column, converters))

    def convert(rows: Sequence[tuple[Any, ...]], given: Mapping[str, Any]) -> list[Job]:
        # ``given`` holds a value for each of ``omitted``, the columns the rows leave out.
        plain = not (pre_init.has_listeners(Job) or post_init.has_listeners(Job))
        jobs = []
        for row in rows:
            values = list(row)
            for i in json_at:
                values[i] = _load_json(values[i])
            for i, column, converters in steps:
                value = values[i]
                for converter in converters:
                    value = converter(value, column, connection)
                values[i] = value
            if not plain:
                loaded = dict(zip(attnames, values, strict=True), **given)
                jobs.append(Job.from_db(alias, every, [loaded[name] for name in every]))
                continue
            job = Job.__new__(Job)
            job._state = state = ModelState()
            state.adding, state.db = False, alias
            job.__dict__.update(zip(attnames, values, strict=True))
            if given:
                job.__dict__.update(given)
            jobs.append(job)
        return jobs

    return convert


def _load_json(value: str | None) -> Any:
    # JSONField.from_db_value with the default decoder, faster for the common empty values.
    if value is None:
        return None
    if value == "[]":
        return []
    if value == "{}":
        return {}
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value
