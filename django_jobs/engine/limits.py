"""``claim_limited``: the claim of jobs under a limit, exact across every worker and host.

Two kinds of limit, both counted in PostgreSQL at claim time, never in a worker's memory:

- a **concurrency key**: at most ``concurrency_limit`` running jobs (claimed, started or not)
  share a ``concurrency_key``. The limit is stored on each row at enqueue, so the claim knows
  it without reading code or settings.
- **queue limits** (``DJANGO_JOBS["QUEUES"] = {"mail": {"concurrency": 2, "rate_limit":
  "10/s"}}``): at most ``concurrency`` running jobs in the queue, and at most ``rate_count``
  starts in any ``rate_period_seconds`` (a sliding window kept in ``RateWindow``).

The plain claim (``engine.claim``) skips these jobs with two filters (``JobQuerySet.unlimited``)
and stays one statement. Here, in one transaction, a worker (1) picks the keys with ready jobs
that are not at their limit and takes a transaction-level advisory lock on each key and each
limited queue it serves, skipping those another worker holds (``pg_try_advisory_xact_lock``:
no waiting, and safe behind PgBouncer in transaction mode, unlike session locks); (2) counts,
in a later statement and so a fresh snapshot that sees every claim committed before the lock
was granted, the running jobs of the locked keys and queues and the queues' recent starts;
(3) fetches, per key and per queue, only as many ready jobs as that one may still start (a
LATERAL subquery each, SKIP LOCKED), so a saturated key never hides another key's jobs; (4)
claims and starts the chosen jobs, taking keys and queues in turn, and records the starts in
the rate windows. The locks end with the transaction. Rescue, completion and failure free a
slot by leaving ``running``; nothing else needs to be told.

After Procrastinate's ``lock`` (one running job per lock; here any limit) and Oban Pro's
partitioned and rate-limited queues (here counted in SQL rather than by a producer process).
Exact on PostgreSQL; elsewhere (SQLite, one writer at a time, for tests and demos) there are no
advisory locks and two workers may both see the last free slot.
"""

from __future__ import annotations

import dataclasses
import itertools
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from .. import db, validation
from ..models import Job, JobStatus, PausedQueue, RateWindow
from . import sql
from .claim import jobs_from_rows
from .queues import queue_limits
from .rates import recent_starts, record_starts, wait_seconds

#: Advisory lock namespaces (the first of the two int4 keys): concurrency keys, limited queues.
KEY_LOCKS, QUEUE_LOCKS = 0x6A6B, 0x6A71
#: Keys locked per claim beyond the free slots: another worker may hold some of the first ones.
SPARE_KEYS = 4


@dataclasses.dataclass(frozen=True, slots=True)
class LimitedClaim:
    """What ``claim_limited`` took: ``jobs`` (claimed and started), and ``wait_seconds``, the
    time until a rate-limited queue whose window is full may start a job again (None: no such
    queue), for a worker with nothing else to do to sleep on."""

    jobs: list[Job]
    wait_seconds: float | None = None


def claim_limited(
    *,
    worker_id: str,
    limit: int,
    lease_seconds: float,
    queues: Sequence[str] | None = None,
) -> LimitedClaim:
    """Claim and start up to ``limit`` ready jobs that carry a concurrency key or sit in a
    limited queue, never past a limit; return them and when to look again.

    ``queues`` as for ``claim`` (None: all). Every job returned is started (an attempt charged,
    ``started_at`` stamped with the database's clock), as ``claim(start_first=...)`` does: a
    limited job is never held in a prefetch buffer, where it would take a slot without running.
    Keys and queues are taken in turn, oldest waiting first, so one busy key or queue does not
    starve the others. Runs in its own transaction: four statements for keys alone, up to nine
    with rate-limited queues, none of them waiting on another worker's locks. Raises
    ``ValueError`` for ``limit < 1``, database errors as they come.
    """
    if limit < 1:
        raise ValueError(f"claim_limited needs limit >= 1, got {limit}")
    serving = _serving(queue_limits(), queues)
    ready_before = timezone.now()
    with transaction.atomic(using=sql.alias()):
        if sql.postgresql():
            # These statements are small, but their recursive plan's estimated cost can pass
            # jit_above_cost on a table whose statistics lag (17 ms of JIT compilation seen
            # for a claim that reads one index page). Local to this transaction.
            _fetch("SELECT set_config('jit', 'off', true)", [])
        keys = _lock_keys(limit, queues, ready_before)
        locked = {q: serving[q] for q in _lock_queues(list(serving))}
        if not keys and not locked:
            return LimitedClaim([])
        # Read after the locks were granted: a start recorded by the worker that held a queue's
        # lock before us is earlier than ours, so each window's times only grow.
        rated = any(lim.rate_count is not None for lim in locked.values())
        # clock_timestamp(): this transaction began before the locks were granted.
        now = db.database_now(sql.alias()) if rated else ready_before
        key_room, queue_room, windows = _room(keys, locked, now)
        candidates = _candidates(key_room, queue_room, queues, ready_before)
        chosen = _choose(candidates, limit, key_room, queue_room)
        jobs = _start(chosen, worker_id, lease_seconds, now)
        record_starts(jobs, windows, serving, now)
    return LimitedClaim(jobs, wait_seconds(serving, windows, now))


def _serving(
    limits: Mapping[str, validation.QueueLimits], queues: Sequence[str] | None
) -> dict[str, validation.QueueLimits]:
    return {q: lim for q, lim in limits.items() if not queues or q in queues}


def _filters(queues: Sequence[str] | None) -> tuple[str, list[Any]]:
    paused = sql.wrapper().ops.quote_name(str(PausedQueue._meta.db_table))
    where = f"queue NOT IN (SELECT queue FROM {paused})"
    if queues:
        return f"{where} AND queue IN ({sql.placeholders(queues)})", list(queues)
    return where, []


def _try_lock(space: int) -> str:
    # hashtext collisions only make two keys share a lock: a worker skips one of them once.
    if sql.postgresql():
        return f"pg_try_advisory_xact_lock({space}, hashtext(g.name))"
    return "TRUE"


def _lock_keys(limit: int, queues: Sequence[str] | None, now: datetime) -> dict[str, int]:
    """Return {key: limit} for the keys with ready jobs below their limit, now locked.

    A key's limit is that of its next job. The running count here is a first cut from this
    statement's snapshot (so that saturated keys do not crowd out the others); ``_room`` counts
    again under the lock.
    """
    table = sql.table()
    where, params = _filters(queues)
    ready = [JobStatus.QUEUED, sql.prep("run_at", now), *params]
    heads = _heads_sql(table, where) if sql.postgresql() else _heads_grouped_sql(table, where)
    rows = _fetch(
        f"WITH RECURSIVE {heads} "
        "SELECT g.name, g.cap FROM (SELECT h.name, h.cap FROM head h "
        f"WHERE (SELECT count(*) FROM {table} r WHERE r.status = %s "
        "AND r.concurrency_key = h.name) < h.cap "
        f"ORDER BY h.top DESC, h.oldest, h.name LIMIT %s) g WHERE {_try_lock(KEY_LOCKS)}",
        [*ready, *(ready if sql.postgresql() else []), JobStatus.RUNNING, 2 * limit + SPARE_KEYS],
    )  # fmt: skip
    return {name: cap for name, cap in rows}


def _heads_sql(table: str, where: str) -> str:
    # The next job of each key, one index probe per key (a skip scan of kready, whose order
    # puts each key's next job first): the cost follows the number of keys, not of jobs.
    head = (
        f"SELECT concurrency_key AS name, concurrency_limit AS cap, priority AS top, "
        f"run_at AS oldest FROM {table} WHERE status = %s AND concurrency_key IS NOT NULL "
        f"AND run_at <= %s AND {where} {{after}}"
        "ORDER BY concurrency_key, priority DESC, run_at, id LIMIT 1"
    )
    return (
        f"head AS (({head.format(after='')}) UNION ALL SELECT n.* FROM head h CROSS JOIN "
        f"LATERAL ({head.format(after='AND concurrency_key > h.name ')}) n)"
    )


def _heads_grouped_sql(table: str, where: str) -> str:
    # Without LATERAL (SQLite): one pass over the ready keyed jobs.
    return (
        f"head AS (SELECT concurrency_key AS name, min(concurrency_limit) AS cap, "
        f"max(priority) AS top, min(run_at) AS oldest FROM {table} WHERE status = %s "
        f"AND concurrency_key IS NOT NULL AND run_at <= %s AND {where} GROUP BY concurrency_key)"
    )


def _lock_queues(queues: list[str]) -> list[str]:
    if not queues:
        return []
    if not sql.postgresql():
        return queues
    rows = _fetch(
        f"SELECT g.name FROM unnest(%s::text[]) AS g(name) WHERE {_try_lock(QUEUE_LOCKS)}",
        [queues],
    )
    return [name for (name,) in rows]


def _room(
    keys: dict[str, int], queues: dict[str, validation.QueueLimits], now: datetime
) -> tuple[dict[str, int], dict[str, int], list[RateWindow]]:
    """Return the free slots of each locked key and queue, and the queues' rate windows.

    Runs after the locks were granted, in statements of their own: READ COMMITTED gives each a
    new snapshot, which holds every claim committed by the worker that held a lock before us.
    """
    running: dict[tuple[str, str], int] = {}
    table = sql.table()
    if keys:
        rows = _fetch(
            f"SELECT concurrency_key, count(*) FROM {table} WHERE status = %s AND "
            f"concurrency_key IN ({sql.placeholders(list(keys))}) GROUP BY concurrency_key",
            [JobStatus.RUNNING, *keys],
        )
        running.update((("key", k), n) for k, n in rows)
    counted = [q for q, lim in queues.items() if lim.concurrency is not None]
    if counted:
        rows = _fetch(
            f"SELECT queue, count(*) FROM {table} WHERE status = %s AND "
            f"queue IN ({sql.placeholders(counted)}) GROUP BY queue",
            [JobStatus.RUNNING, *counted],
        )
        running.update((("queue", q), n) for q, n in rows)
    key_room = {k: cap - running.get(("key", k), 0) for k, cap in keys.items()}
    rated = [q for q, lim in queues.items() if lim.rate_count is not None]
    windows = {w.queue: w for w in RateWindow.objects.filter(queue__in=rated)} if rated else {}
    queue_room = {}
    for queue, lim in queues.items():
        free = [lim.concurrency - running.get(("queue", queue), 0)] if lim.concurrency else []
        if lim.rate_count is not None and lim.rate_period_seconds is not None:
            window = windows.setdefault(queue, RateWindow(queue=queue))
            recent = recent_starts(window, lim.rate_period_seconds, now)
            free.append(lim.rate_count - len(recent))
        queue_room[queue] = min(free)
    return (
        {k: n for k, n in key_room.items() if n > 0},
        {q: n for q, n in queue_room.items() if n > 0},
        list(windows.values()),
    )


def _candidates(
    key_room: dict[str, int],
    queue_room: dict[str, int],
    queues: Sequence[str] | None,
    now: datetime,
) -> list[tuple[int, str, str | None]]:
    """Return (id, queue, key) of ready jobs, per key and per queue no more than it may start,
    each group in claim order, locked (SKIP LOCKED) until the transaction ends."""
    if not key_room and not queue_room:
        return []
    if not sql.postgresql():
        return _candidates_one_by_one(key_room, queue_room, queues, now)
    table = sql.table()
    where, params = _filters(queues)
    ready = sql.prep("run_at", now)
    order = "ORDER BY priority DESC, run_at, id LIMIT g.n FOR UPDATE SKIP LOCKED"
    parts, values = [], []
    for column, room, extra in (
        ("concurrency_key", key_room, ""),
        ("queue", queue_room, "AND concurrency_key IS NULL "),
    ):
        if not room:
            continue
        groups, counts = list(room), list(room.values())
        parts.append(
            f"SELECT c.id, c.queue, c.concurrency_key, g.n FROM {_groups(groups, counts)} "
            f"CROSS JOIN LATERAL (SELECT id, queue, concurrency_key FROM {table} "
            f"WHERE status = %s AND {column} = g.name {extra}AND run_at <= %s AND {where} "
            f"{order}) c"
        )
        values += [*_group_params(groups, counts), JobStatus.QUEUED, ready, *params]
    rows = _fetch(" UNION ALL ".join(parts), values)
    return [(job_id, queue, key) for job_id, queue, key, _ in rows]


def _groups(names: list[str], counts: list[int]) -> str:
    return "unnest(%s::text[], %s::int[]) AS g(name, n)"


def _group_params(names: list[str], counts: list[int]) -> list[Any]:
    return [names, counts]


def _candidates_one_by_one(
    key_room: dict[str, int],
    queue_room: dict[str, int],
    queues: Sequence[str] | None,
    now: datetime,
) -> list[tuple[int, str, str | None]]:
    # Without LATERAL (SQLite): one query per key and per queue.
    ready = (
        Job.objects.ready(now).in_queues(queues).unpaused().order_by("-priority", "run_at", "id")
    )
    rows: list[tuple[int, str, str | None]] = []
    for key, n in key_room.items():
        rows += ready.filter(concurrency_key=key).values_list("id", "queue", "concurrency_key")[:n]
    for queue, n in queue_room.items():
        plain = ready.filter(queue=queue, concurrency_key__isnull=True)
        rows += plain.values_list("id", "queue", "concurrency_key")[:n]
    return rows


def _choose(
    candidates: list[tuple[int, str, str | None]],
    limit: int,
    key_room: dict[str, int],
    queue_room: dict[str, int],
) -> list[int]:
    """Return up to ``limit`` ids, one group (key or queue) at a time in turn, in no group past
    its room: a keyed job in a limited queue needs room in both."""
    by_group: dict[tuple[str, str], list[tuple[int, str, str | None]]] = {}
    for row in candidates:
        group = ("key", row[2]) if row[2] is not None else ("queue", row[1])
        by_group.setdefault(group, []).append(row)
    keys, rooms = dict(key_room), dict(queue_room)
    limited = set(queue_limits())
    chosen: list[int] = []
    for row in _round_robin(list(by_group.values())):
        job_id, queue, key = row
        if len(chosen) >= limit:
            break
        if key is not None and keys.get(key, 0) <= 0:
            continue
        if queue in limited and rooms.get(queue, 0) <= 0:
            continue
        if key is not None:
            keys[key] -= 1
        if queue in limited:
            rooms[queue] -= 1
        chosen.append(job_id)
    return chosen


def _round_robin(groups: list[list[Any]]) -> list[Any]:
    """Interleave ``groups``: the first of each, then the second of each, and so on.

    >>> _round_robin([[1, 2, 3], ["a"], [10, 20]])
    [1, 'a', 10, 2, 20, 3]
    """
    rounds = itertools.zip_longest(*groups, fillvalue=_GAP)
    return [item for round_ in rounds for item in round_ if item is not _GAP]


_GAP = object()


def _start(ids: list[int], worker_id: str, lease_seconds: float, now: datetime) -> list[Job]:
    if not ids:
        return []
    connection = sql.wrapper()
    columns = ", ".join(
        f"{sql.table()}.{connection.ops.quote_name(str(f.column))}"
        for f in Job._meta.concrete_fields
    )
    id_params: list[Any]
    if sql.postgresql():
        where, id_params = "id = ANY(%s::bigint[])", [ids]
    else:
        where, id_params = f"id IN ({sql.placeholders(ids)})", [*ids]
    rows = sql.execute_returning(
        f"UPDATE {sql.table()} SET status = %s, worker_id = %s, lease_token = %s, "
        "lease_expires_at = %s, attempts = attempts + 1, started_at = %s "
        f"WHERE {where} AND status = %s RETURNING {columns}",
        [
            JobStatus.RUNNING,
            worker_id,
            sql.prep("lease_token", uuid.uuid4()),
            sql.prep("lease_expires_at", timezone.now() + timedelta(seconds=lease_seconds)),
            sql.prep("started_at", now),
            *id_params,
            JobStatus.QUEUED,
        ],
    )
    jobs = jobs_from_rows(rows, sql.alias())
    jobs.sort(key=lambda job: (-job.priority, job.run_at, job.id))
    return jobs


def _fetch(statement: str, params: list[Any]) -> list[tuple[Any, ...]]:
    return sql.execute_returning(statement, params)
