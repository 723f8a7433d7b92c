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
from typing import Any

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


def pooled(alias: str = DEFAULT_DB_ALIAS) -> bool:
    """Return whether ``alias`` takes its connections from Django's pool (``OPTIONS["pool"]``,
    PostgreSQL with psycopg 3)."""
    return bool(connections[alias].settings_dict.get("OPTIONS", {}).get("pool"))


def give_back_pooled() -> None:
    """Give this thread's connection back to Django's pool, if it came from one and no
    transaction is open; the thread's next query borrows one again (a ``getconn``, no new
    session). Without a pool, or with no connection, nothing happens."""
    if connection.connection is not None and not connection.in_atomic_block and pooled():
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


#: libpq's PQTRANS_ACTIVE: a command is in progress on the connection (psycopg and psycopg2).
TRANSACTION_STATUS_ACTIVE = 1

#: How long a cancel request may take to be delivered (seconds).
CANCEL_TIMEOUT_SECONDS = 5.0


def statement_canceller(wrapper: BaseDatabaseWrapper) -> Callable[[], bool]:
    """Return a function that cancels the statement ``wrapper``'s connection (a thread's, e.g.
    ``thread_connection()`` called in that thread) runs at the time of the call.

    Nothing connects here: a thread whose job never used the database has nothing to cancel,
    and the function returns False. The function may be called from any thread; it returns
    whether a statement was in progress and a cancel request was sent. The request carries the
    connection's own cancel key over a new socket (libpq's cancel, psycopg's ``cancel_safe``),
    so only this client's statement is cancelled: PostgreSQL matches the key to its backend, and
    PgBouncer (1.18 and later) to the server connection that runs this client's transaction at
    that moment, dropping the request when the client is between transactions.
    ``pg_cancel_backend(pid)`` is not safe behind a pooler: the pid a client is told at login is
    the pooler's made-up key, and the backend a transaction ran on serves other clients'
    transactions next.
    """

    def cancel() -> bool:
        raw = wrapper.connection
        if raw is None or wrapper.vendor != "postgresql":
            return False
        return _cancel(raw)

    return cancel


def thread_connection(alias: str = DEFAULT_DB_ALIAS) -> BaseDatabaseWrapper:
    """Return this thread's connection wrapper for ``alias`` (not connecting it)."""
    return connections[alias]


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


def _cancel(raw: Any) -> bool:
    # Client-side state, no query: cancel only while a command is in flight on this connection.
    if raw.closed or raw.info.transaction_status != TRANSACTION_STATUS_ACTIVE:
        return False
    cancel_safe = getattr(raw, "cancel_safe", None)  # psycopg >= 3.2: bounded, interruptible
    if cancel_safe is not None:
        cancel_safe(timeout=CANCEL_TIMEOUT_SECONDS)
    else:
        raw.cancel()
    return True
