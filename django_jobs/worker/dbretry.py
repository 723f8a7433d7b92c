"""Retry a database call through connection loss, with capped exponential backoff."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable

from django.db import InterfaceError, OperationalError, connection

from ..backoff import exponential

logger = logging.getLogger(__name__)

#: Errors that mean "the connection or the server is gone", not "this statement is wrong".
TRANSIENT_ERRORS = (OperationalError, InterfaceError)


def retrying[T](
    call: Callable[[], T],
    *,
    deadline: float,
    what: str,
    stop: threading.Event | None = None,
    max_delay_seconds: float = 5.0,
) -> T:
    """Return ``call()``, retrying it after transient database errors until ``deadline``.

    ``deadline`` is a ``time.monotonic()`` value; past it (or once ``stop`` is set) the last
    error is raised. Before each retry the thread's broken connection is closed so the next
    attempt reconnects. ``call`` must be safe to repeat: a fenced UPDATE or a whole transaction.
    """
    attempt = 0
    while True:
        try:
            return call()
        except TRANSIENT_ERRORS as exc:
            attempt += 1
            connection.close()
            delay = exponential(attempt, base_seconds=0.05, max_seconds=max_delay_seconds)
            if time.monotonic() + delay > deadline or (stop is not None and stop.is_set()):
                raise
            logger.warning(
                "Database unavailable while %s (%s); retrying in %.2fs", what, exc, delay
            )
            time.sleep(delay)


def outage_delay(failures: int, who: str, exc: Exception) -> float:
    """Drop this thread's connection and return the wait before retry ``failures`` (seconds).

    For loops that poll the database (the worker's claims, the scheduler's passes): 0.1 s
    doubling up to 10 s, logged once per failure with ``who`` ("Worker w1") and the error.
    """
    close_quietly()
    delay = exponential(failures, base_seconds=0.1, max_seconds=10.0)
    logger.warning("%s cannot reach the database (%s); retrying in %.1fs", who, exc, delay)
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
