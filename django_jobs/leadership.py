"""Leadership of a role (``"pruner"``) among workers, held as a lease on one database row.

``acquire(role, worker_id, lease_seconds)`` is one guarded upsert: it inserts the role's row, or
takes it over where its lease has run out, or renews it where ``worker_id`` already holds it, and
does nothing where another worker's lease is still running. The database decides, row-locked
and by its own clock, so of any number of workers asking at the same instant exactly one holds
the role, and hosts whose clocks disagree still agree on when a lease ends. The holder renews
well before the end (every ``HEARTBEAT_SECONDS``); on a graceful stop it ``release``s the role
so the next worker need not wait; a worker that dies holds it at most one lease longer.

Plain statements in autocommit, no advisory lock and no session state, so it works through
PgBouncer in transaction mode, and needs no process of its own. (Leader election by a lease on a
row is how Oban's ``Peers.Postgres`` and River's ``river_leader`` table elect their leader.)

Leadership is a way to spread work, not a safety mechanism: a holder that stalls past its lease
(a long GC pause, a frozen VM) can overlap one moment with the next holder, so whatever a leader
does must be harmless when done twice, as pruning is. The rows here are not job state, and this
module is the only one that writes them.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connections, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import DateTimeField, Func
from django.utils import timezone

from .models import Leader

#: The role whose holder prunes finished jobs (``django_jobs.worker.pruner``).
PRUNER = "pruner"


@dataclasses.dataclass(frozen=True, slots=True)
class Term:
    """A held leadership: since when (this holder's term began) and until when (aware UTC)."""

    elected_at: datetime
    expires_at: datetime


def _wrapper() -> BaseDatabaseWrapper:
    return connections[router.db_for_write(Leader)]


def _check(role: str, worker_id: str, lease_seconds: float | None = None) -> None:
    if not isinstance(role, str) or not 0 < len(role) <= 64:
        raise ValueError(f"role must be a str of 1 to 64 characters, got {role!r:.80}")
    if not isinstance(worker_id, str) or not 0 < len(worker_id) <= 128:
        raise ValueError(f"worker_id must be a str of 1 to 128 characters, got {worker_id!r:.80}")
    if lease_seconds is not None and not 0 < lease_seconds <= 86_400:
        raise ValueError(f"lease_seconds must be > 0 and at most a day, got {lease_seconds!r}")


def acquire(role: str, worker_id: str, *, lease_seconds: float) -> Term | None:
    """Take or renew ``role`` for ``worker_id`` for ``lease_seconds``; return the term, or None.

    ``None`` means another worker holds the role and its lease has not run out. Idempotent for
    the holder (each call extends the lease from now). One statement in the caller's
    transaction or autocommit; run it in autocommit, or the row stays locked until commit.
    Raises ``ValueError`` for a bad argument, before any SQL; database errors as they come.
    """
    _check(role, worker_id, lease_seconds)
    wrapper = _wrapper()
    table = wrapper.ops.quote_name(str(Leader._meta.db_table))
    if wrapper.vendor == "postgresql":
        # clock_timestamp(), not now(): in a rival's re-check after it waited on this row, "now"
        # is when it looks, after the winner's change. ON CONFLICT re-evaluates the WHERE on the
        # newest version of the row under its lock, so two askers cannot both see it expired.
        now, expiry = "clock_timestamp()", "clock_timestamp() + make_interval(secs => %s)"
        params: list[Any] = [role, worker_id, lease_seconds]
        later: list[Any] = []
    else:
        # SQLite serialises writers; the host's clock is the only clock there is.
        current = timezone.now()
        now = expiry = "%s"
        field = Leader._meta.get_field("expires_at")
        stamp = field.get_db_prep_value(current, wrapper)
        until = field.get_db_prep_value(current + timedelta(seconds=lease_seconds), wrapper)
        params, later = [role, worker_id, stamp, until], [stamp, stamp]
    sql = (
        f"INSERT INTO {table} (name, worker_id, elected_at, expires_at) "
        f"VALUES (%s, %s, {now}, {expiry}) "
        "ON CONFLICT (name) DO UPDATE SET "
        "worker_id = excluded.worker_id, expires_at = excluded.expires_at, "
        f"elected_at = CASE WHEN {table}.worker_id = excluded.worker_id "
        f"AND {table}.expires_at >= {now} THEN {table}.elected_at ELSE excluded.elected_at END "
        f"WHERE {table}.expires_at < {now} OR {table}.worker_id = excluded.worker_id "
        "RETURNING elected_at, expires_at"
    )
    with wrapper.cursor() as cursor:
        cursor.execute(sql, [*params, *later])
        row = cursor.fetchone()
    if row is None:
        return None
    return Term(elected_at=_aware(row[0], wrapper), expires_at=_aware(row[1], wrapper))


def release(role: str, worker_id: str) -> bool:
    """End ``worker_id``'s lease of ``role`` now, so another worker may take it at once.

    Returns whether ``worker_id`` held the role (a no-op otherwise: a lease already taken over is
    not touched). One guarded UPDATE; raises ``ValueError`` for a bad argument before any SQL.
    """
    _check(role, worker_id)
    wrapper = _wrapper()
    rows = Leader.objects.using(wrapper.alias).filter(name=role, worker_id=worker_id)
    return bool(rows.update(expires_at=_clock(wrapper)))


def holder(role: str) -> Leader | None:
    """Return the row of ``role`` if its lease is still running (by the database's clock)."""
    wrapper = _wrapper()
    return (
        Leader.objects.using(wrapper.alias)
        .filter(name=role, expires_at__gte=_clock(wrapper))
        .first()
    )


def _clock(wrapper: BaseDatabaseWrapper) -> Any:
    if wrapper.vendor == "postgresql":
        return Func(template="clock_timestamp()", output_field=DateTimeField())
    return timezone.now()


def _aware(value: object, wrapper: BaseDatabaseWrapper) -> datetime:
    # PostgreSQL returns aware datetimes; SQLite returns the stored text.
    if isinstance(value, datetime):
        return value if timezone.is_aware(value) else value.replace(tzinfo=UTC)
    converted = datetime.fromisoformat(str(value))
    return converted if timezone.is_aware(converted) else converted.replace(tzinfo=UTC)
