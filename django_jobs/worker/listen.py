"""``Listener``: wake an idle worker the moment a job is enqueued (PostgreSQL LISTEN/NOTIFY).

An AFTER INSERT trigger on the job table sends ``NOTIFY django_jobs, '<queue>'`` once per statement
and queue; PostgreSQL delivers it at commit, never for a rolled-back job. ``resume_queue`` sends
the same notification for the queue it resumes, so workers drain it at once. The listener holds one
extra connection of its own in autocommit mode (``LISTEN_DATABASE_URL``, else the ``default``
database's settings: see ``django_jobs.listen_connection``). Polling stays the fallback for jobs
whose run_at comes later, for missed notifications while reconnecting, and the only way on other
databases and behind a connection pooler without ``LISTEN_DATABASE_URL``.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import threading
from collections.abc import Callable, Sequence
from typing import Any

from django.db import connections

from .. import listen_connection
from ..backoff import exponential
from ..listen_connection import CANCEL_CHANNEL, CHANNEL

logger = logging.getLogger(__name__)


class _Pooled(Exception):
    """The default database is reached through a pooler and no LISTEN_DATABASE_URL is set."""


def supported(alias: str = "default") -> bool:
    """Return whether the database behind ``alias`` can LISTEN (PostgreSQL)."""
    return connections[alias].vendor == "postgresql"


class Listener:
    """Call ``wake()`` whenever a job is enqueued in one of ``queues`` (all when None), and
    ``on_cancel()`` whenever ``engine.cancel`` asks a job of worker ``worker_id`` to stop.

    ``start()`` runs the listening loop in a daemon thread; ``stop()`` ends it at once: the
    thread waits on its connection's socket and on a socket pair that ``stop()`` writes to,
    never on a timeout alone (``timeout_seconds`` bounds each wait and how long ``stop()``
    joins the thread). Connection losses are logged and retried with capped backoff. When the
    ``default`` database turns out to be behind a connection pooler and ``LISTEN_DATABASE_URL``
    is not set, the thread logs a warning and ends, and ``pooled`` is set: the worker polls.
    """

    def __init__(
        self,
        wake: Callable[[], None],
        *,
        queues: Sequence[str] | None = None,
        alias: str = "default",
        timeout_seconds: float = 1.0,
        worker_id: str | None = None,
        on_cancel: Callable[[], None] | None = None,
    ) -> None:
        self.wake = wake
        self.worker_id = worker_id
        self.on_cancel = on_cancel
        self.queues = set(queues) if queues else None
        self.alias = alias
        self.timeout_seconds = timeout_seconds
        self.listening = threading.Event()
        self.pooled = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # stop() writes a byte here to end the thread's wait on its connection.
        self._stop_recv, self._stop_send = socket.socketpair()
        self._stop_recv.setblocking(False)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="django-jobs-listen", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._stop_send.send(b"x")
        if self._thread is not None:
            self._thread.join(self.timeout_seconds * 3)
        if self._thread is None or not self._thread.is_alive():
            self._stop_send.close()
            self._stop_recv.close()

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                self._listen()
                failures = 0
            except _Pooled:
                self.pooled.set()
                logger.warning(
                    "The default database is reached through a connection pooler, where LISTEN "
                    "loses notifications in transaction pooling mode: this worker polls every "
                    "POLL_INTERVAL_SECONDS instead. For instant pickup set "
                    "DJANGO_JOBS['LISTEN_DATABASE_URL'] to a direct connection to PostgreSQL."
                )
                return
            except Exception as exc:  # any loss of the connection: log, back off, reconnect
                self.listening.clear()
                failures += 1
                delay = exponential(failures, base_seconds=0.2, max_seconds=10.0)
                logger.warning("LISTEN connection lost (%s); reconnecting in %.1fs", exc, delay)
                # Jobs enqueued meanwhile are found by polling; wake once to look now.
                self.wake()
                self._stop.wait(delay)

    def _wait(self, conn: Any) -> bool:
        # Whether the connection has something to read, within timeout_seconds; False when
        # stop() was called (or the wait timed out).
        try:
            ready, _, _ = select.select([conn.fileno(), self._stop_recv], [], [],
                                        self.timeout_seconds)  # fmt: skip
        except ValueError:  # the connection's socket is gone
            raise ConnectionError("the LISTEN connection was closed") from None
        return not self._stop.is_set() and conn.fileno() in ready

    def _listen(self) -> None:
        conn: Any = listen_connection.connect(self.alias)
        try:
            if listen_connection.listen_url() is None and listen_connection.behind_pooler(conn):
                raise _Pooled
            conn.execute(f"LISTEN {CHANNEL}")
            if self.on_cancel is not None:
                conn.execute(f"LISTEN {CANCEL_CHANNEL}")
            self.listening.set()
            while not self._stop.is_set():
                if not self._wait(conn):
                    continue
                for notify in conn.notifies(timeout=0):
                    if notify.channel == CANCEL_CHANNEL:
                        if self.on_cancel is not None and notify.payload == self.worker_id:
                            self.on_cancel()
                    elif self.queues is None or notify.payload in self.queues:
                        self.wake()
        finally:
            self.listening.clear()
            conn.close()
