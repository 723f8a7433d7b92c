"""Is the database reached through a transaction-mode pooler (PgBouncer ``pool_mode=transaction``)?

Such a pooler hands the server connection behind a client to another client after every
transaction. Everything django-jobs does is one statement or one short transaction and works
through it, except LISTEN, which belongs to the server session: notifications go astray and
workers fall back to polling. Detected from the outside, the way a pooler gives itself away: a
first connection runs one statement and stays open; a second one, in a transaction, finds the
same server backend (``pg_backend_pid()``) or the first one's session setting. Directly on
PostgreSQL, or through a session-mode pool, every open client has a backend of its own.
"""

from __future__ import annotations

import uuid
from typing import Any

from psycopg import sql

from .context import Context
from .findings import Finding, ok, warning

NAME = "pooler"
TITLE = "Connection pooler"
POSTGRES_ONLY = True
PROBE_SETTING = "django_jobs.doctor_probe"
TRIES = 3


def _probe(first: Any, second: Any) -> bool:
    """Return whether ``second`` ran on ``first``'s server session while both were open, or
    ``first`` moved to another session between two statements."""
    token = uuid.uuid4().hex
    first.execute(sql.SQL("SET {} = {}").format(sql.Identifier(PROBE_SETTING), sql.Literal(token)))
    first_pid = first.execute("SELECT pg_backend_pid()").fetchone()[0]
    with second.transaction():
        second_pid, seen = second.execute(
            "SELECT pg_backend_pid(), current_setting(%s, true)", [PROBE_SETTING]
        ).fetchone()
    moved = first.execute("SELECT pg_backend_pid()").fetchone()[0] != first_pid
    return bool(second_pid == first_pid or seen == token or moved)


def shares_sessions(context: Context) -> bool:
    """Return whether two open client connections were served by one server session."""
    first, second = context.connect(), context.connect()
    try:
        return any(_probe(first, second) for _ in range(TRIES))
    finally:
        first.close()
        second.close()


def check(context: Context) -> list[Finding]:
    """Warning when sessions are shared (the LISTEN/NOTIFY finding then shows the cost)."""
    if not shares_sessions(context):
        return [
            ok(
                NAME,
                TITLE,
                "Every client connection has a server session of its own (PostgreSQL directly, "
                "or a session-mode pool)",
            )
        ]
    cursors = context.wrapper().settings_dict.get("DISABLE_SERVER_SIDE_CURSORS", False)
    return [
        warning(
            NAME,
            "Behind a transaction-mode pooler",
            "Two open connections were served by the same server session, as PgBouncer does in "
            "pool_mode=transaction: LISTEN does not work through it, so workers pick up new "
            "jobs by polling only"
            + ("." if cursors else "; DISABLE_SERVER_SIDE_CURSORS is not set for this database."),
            "Give the workers (run the doctor with their settings) a 'default' database that is "
            "PostgreSQL itself or a session-mode pool; keep transaction pooling for web servers, "
            "with DISABLE_SERVER_SIDE_CURSORS = True in their DATABASES entry.",
        )
    ]
