"""The connection the worker LISTENs on: where it goes, and whether a pooler is in its way.

``LISTEN`` belongs to a PostgreSQL session. Behind PgBouncer in transaction pooling mode a client
gets whichever server connection is free for each transaction, so a ``LISTEN`` lands on a server
connection that then serves other clients, and notifications are lost without an error. The
listener therefore connects to ``DJANGO_JOBS["LISTEN_DATABASE_URL"]`` when it is set (a direct
connection to PostgreSQL, or a PgBouncer pool in session mode), and otherwise with the ``default``
database's settings; in that second case it first asks whether a pooler sits in between
(``behind_pooler``) and, if so, does not listen at all: the worker polls instead.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections

from .conf import jobs_settings

#: The channel the job table's trigger notifies (migration 0003_notify_trigger).
CHANNEL = "django_jobs"
#: The channel ``engine.cancel`` notifies with the id of a worker whose job it asked to stop.
CANCEL_CHANNEL = "django_jobs_cancel"


def listen_url() -> str | None:
    """Return ``DJANGO_JOBS["LISTEN_DATABASE_URL"]``, or None when LISTEN uses ``default``."""
    return jobs_settings.LISTEN_DATABASE_URL or None


def connect(alias: str = DEFAULT_DB_ALIAS) -> Any:
    """Open a new psycopg connection in autocommit mode for LISTEN, and return it.

    To ``LISTEN_DATABASE_URL`` when set (a libpq URL or ``key=value`` string, passed to
    ``psycopg.connect`` as is); else with the settings of database ``alias``, as Django would
    connect. The caller closes it. Raises psycopg's ``OperationalError`` when the server cannot
    be reached.
    """
    url = listen_url()
    if url is not None:
        import psycopg  # only PostgreSQL listens; never imported on other databases

        # No prepared statements, as Django's own connections (a URL may lead through a pooler).
        return psycopg.connect(url, autocommit=True, prepare_threshold=None)
    return connect_default(alias)


def behind_pooler(conn: Any) -> bool:
    """Return whether psycopg connection ``conn`` reaches PostgreSQL through a connection pooler.

    PostgreSQL tells each client its backend's pid at login; a pooler such as PgBouncer makes up
    a key of its own for each client instead (it forwards cancel requests by that key). So when
    the pid given at login is not the pid of the backend that runs our query, something pools
    the connection. One query, on a connection in autocommit mode. This cannot tell session from
    transaction pooling; both count as pooled (set ``LISTEN_DATABASE_URL`` to listen through a
    session pool).
    """
    (server_pid,) = conn.execute("SELECT pg_backend_pid()").fetchone()
    return bool(server_pid != conn.info.backend_pid)


def delivery_problem(timeout_seconds: float = 5.0) -> str | None:
    """Return why notifications sent on ``default`` would not reach a LISTEN on
    ``LISTEN_DATABASE_URL``, or None when one test notification arrived within the timeout.

    LISTENs on a random channel over ``LISTEN_DATABASE_URL``, sends ``NOTIFY`` on that channel
    over a new connection to ``default``, and waits. A URL that leads to another database or
    server, or through a PgBouncer in transaction mode, loses it. Raises ``OperationalError`` when
    either side cannot be reached.
    """
    channel = f"django_jobs_probe_{secrets.token_hex(8)}"
    listener = connect()
    try:
        listener.execute(f"LISTEN {channel}")
        sender = connect_default()
        try:
            sender.execute("SELECT pg_notify(%s, 'probe')", [channel])
        finally:
            sender.close()
        deadline = time.monotonic() + timeout_seconds
        while (left := deadline - time.monotonic()) > 0:
            for notify in listener.notifies(timeout=left, stop_after=1):
                if notify.channel == channel:
                    return None
    finally:
        listener.close()
    return (
        f"a NOTIFY sent on the default database did not reach LISTEN_DATABASE_URL within "
        f"{timeout_seconds:g}s: the URL leads to another database or server, or through a "
        "pooler in transaction mode"
    )


def connect_default(alias: str = DEFAULT_DB_ALIAS) -> Any:
    """Open a new autocommit psycopg connection with database ``alias``'s settings.

    Never one of Django's pool (``OPTIONS["pool"]``): a connection that LISTENs for the
    worker's life would take a pooled connection for good, and its LISTEN would follow it back
    into the pool."""
    wrapper = connections[alias]
    params = wrapper.get_connection_params()
    if getattr(wrapper, "pool", None):
        import psycopg

        conn = psycopg.connect(**params)
    else:
        conn = wrapper.get_new_connection(params)
    conn.autocommit = True
    return conn
