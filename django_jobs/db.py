"""Database plumbing shared by the worker and the scheduler: reconnects, connection hygiene.

Nothing here knows about jobs. ``with_reconnect`` repeats a call through connection loss;
``outage_delay`` paces loops that poll the database while it is away; the rest keeps a thread's
connection usable between jobs whatever task code did to it.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from django.db import (
    DEFAULT_DB_ALIAS,
    InterfaceError,
    OperationalError,
    connection,
    connections,
    router,
)
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model
from django.utils import timezone

from .backoff import exponential

logger = logging.getLogger(__name__)

#: Errors that mean "the connection or the server is gone", not "this statement is wrong".
TRANSIENT_ERRORS = (OperationalError, InterfaceError)


def with_reconnect[T](
    call: Callable[[], T],
    *,
    what: str,
    give_up: Callable[[], bool] = lambda: False,
    max_delay_seconds: float = 1.0,
) -> T:
    """Return ``call()``, repeating it after transient database errors until it succeeds.

    Before each new try the thread's broken connection is closed, so the next one reconnects;
    tries are spaced 0.05 s doubling up to ``max_delay_seconds``. Once ``give_up()`` returns
    True the last error is raised instead. Errors that are not transient are raised at once.
    ``call`` must be safe to repeat: a fenced UPDATE, or a whole transaction.
    """
    attempt = 0
    while True:
        try:
            return call()
        except TRANSIENT_ERRORS as exc:
            attempt += 1
            close_quietly()
            if give_up():
                raise
            delay = exponential(attempt, base_seconds=0.05, max_seconds=max_delay_seconds)
            if attempt == 1 or attempt % 20 == 0:
                logger.warning("Database unavailable while %s (%s); trying again", what, exc)
            time.sleep(delay)


def before(deadline: float) -> Callable[[], bool]:
    """Return a ``give_up`` for ``with_reconnect``: true once ``time.monotonic()`` passes it."""
    return lambda: time.monotonic() >= deadline


def outage_delay(failures: int, who: str, exc: BaseException) -> float:
    """Drop this thread's connection and return the wait before try ``failures`` (seconds).

    For loops that poll the database (the worker's claims, the scheduler's passes): 0.1 s
    doubling up to 10 s, logged once per failure with ``who`` ("Worker w1") and the error.
    """
    close_quietly()
    delay = exponential(failures, base_seconds=0.1, max_seconds=10.0)
    logger.warning("%s cannot reach the database (%s); trying again in %.1fs", who, exc, delay)
    return delay


def drop_unusable_connection() -> None:
    """Close this thread's connection if a ``SELECT 1`` shows it dead, so the next query reconnects.

    One round trip; the worker calls it only after database trouble, a pause, or a task that met a
    database error, not per job. A connection found healthy has its error flag cleared.
    """
    if connection.connection is None:
        return
    if connection.is_usable():
        connection.errors_occurred = False
    else:
        close_quietly()


def close_quietly() -> None:
    """Close this thread's connection, ignoring errors from a connection already broken."""
    with contextlib.suppress(*TRANSIENT_ERRORS):
        connection.close()


def open_transaction(alias: str = DEFAULT_DB_ALIAS) -> str | None:
    """Return how this thread's connection was left mid-transaction, or None if it is clean.

    Clean means: no ``atomic()`` block open and autocommit on. Reads only Django's own state
    (no query), so it costs nothing per job.
    """
    wrapper = connections[alias]
    if wrapper.in_atomic_block:
        return "inside an atomic() block that was never exited"
    if wrapper.connection is not None and not wrapper.autocommit:
        return "with autocommit turned off"
    return None


def discard_connection(alias: str = DEFAULT_DB_ALIAS) -> None:
    """Throw this thread's connection away, rolling back whatever it left uncommitted.

    Closing the socket makes PostgreSQL roll the open transaction back and release its locks.
    Django's wrapper keeps transaction state of its own (atomic blocks, savepoints) that
    ``close()`` deliberately preserves inside a transaction, so the wrapper is dropped too: the
    next query in this thread builds a fresh one.
    """
    wrapper = connections[alias]
    if wrapper.connection is not None:
        with contextlib.suppress(Exception):
            wrapper.connection.close()
    wrapper.connection = None
    del connections[alias]


def missing_tables(models: list[type[Model]], alias: str | None = None) -> list[str]:
    """Return the tables of ``models`` that do not exist in their database (unmigrated), or in
    database ``alias`` when given.

    Raises the transient errors when the database cannot be reached: not knowing is not missing.
    """
    wrapper = connections[alias or router.db_for_write(models[0])]
    with wrapper.cursor() as cursor:
        existing = set(wrapper.introspection.table_names(cursor))
    return [m._meta.db_table for m in models if m._meta.db_table not in existing]


def backend_pid(alias: str = DEFAULT_DB_ALIAS) -> int | None:
    """Return the PostgreSQL backend pid of this thread's connection, connecting if need be; None
    when the database is not PostgreSQL or cannot be reached."""
    wrapper = connections[alias]
    if wrapper.vendor != "postgresql":
        return None
    try:
        wrapper.ensure_connection()
        return int(wrapper.connection.info.backend_pid)
    except Exception:  # unreachable or broken: nothing to report
        return None


def thread_connection(alias: str = DEFAULT_DB_ALIAS) -> BaseDatabaseWrapper:
    """Return this thread's connection wrapper for ``alias`` (not connecting it)."""
    return connections[alias]


def open_backend_pid(wrapper: BaseDatabaseWrapper) -> int | None:
    """Return the backend pid of ``wrapper``'s open PostgreSQL connection without any I/O; None
    when it is not open or not PostgreSQL.

    Safe to call from another thread than the wrapper's (it only reads the pid libpq noted at
    connect time): the worker's main thread asks it of a slot whose job ran past its timeout.
    """
    raw = wrapper.connection
    if raw is None or wrapper.vendor != "postgresql":
        return None
    try:
        return int(raw.info.backend_pid) or None
    except Exception:  # closed meanwhile
        return None


def cancel_backend(pid: int) -> bool:
    """Cancel the statement PostgreSQL backend ``pid`` is running (``pg_cancel_backend``).

    For a task stuck on a lock past its timeout: the statement fails with ``QueryCanceled``
    and the task's thread gets control back. Runs on this thread's connection; returns whether
    a statement was in progress and was signalled. PostgreSQL only.
    """
    with connection.cursor() as cursor:
        # Only a statement in progress: an idle backend has nothing to cancel.
        cursor.execute(
            "SELECT pg_cancel_backend(pid) FROM pg_stat_activity "
            "WHERE pid = %s AND state = 'active'",
            [pid],
        )
        row = cursor.fetchone()
    return bool(row and row[0])


def database_now(alias: str = DEFAULT_DB_ALIAS) -> datetime:
    """Return the database server's current time (aware, UTC): ``clock_timestamp()`` on
    PostgreSQL (``now()`` stands still inside a transaction), the host's clock on SQLite, which
    runs in this process. One round trip on PostgreSQL."""
    wrapper = connections[alias]
    if wrapper.vendor != "postgresql":
        return timezone.now()
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT clock_timestamp()")
        (now,) = cursor.fetchone()
    return now.astimezone(UTC)
