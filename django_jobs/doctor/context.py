"""``Context``: what every doctor check is given: the database, the planned deployment, and the
few inputs a test replaces (the host clock, the LISTEN channel, server settings)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

from django.db import connections, router
from django.db.backends.base.base import BaseDatabaseWrapper


@dataclasses.dataclass(frozen=True, slots=True)
class Plan:
    """The deployment whose database connections the connection budget adds up.

    ``hosts`` machines each run ``processes`` ``runworker`` processes of ``concurrency`` threads
    (``with_scheduler``: each with a scheduler thread); ``schedulers`` separate ``runscheduler``
    processes; ``other_connections`` anything else (web servers, cron, admin sessions). The
    defaults are one ``runworker`` with its own defaults.
    """

    hosts: int = 1
    processes: int = 1
    concurrency: int = 10
    with_scheduler: bool = False
    schedulers: int = 0
    other_connections: int = 0


def worker_channel() -> str:
    """Return the channel workers LISTEN on (imported late: the worker needs the app registry)."""
    from ..worker import listen

    return listen.CHANNEL


def _server_setting(wrapper: BaseDatabaseWrapper, name: str) -> str | None:
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT current_setting(%s, true)", [name])
        row = cursor.fetchone()
    return None if row is None else row[0]


@dataclasses.dataclass(slots=True)
class Context:
    """The inputs of a doctor run.

    ``alias``: the database of the job tables (the router's choice for ``Job`` when None).
    ``clock``: the host clock, seconds since the epoch (``time.time``). ``listen_channel``: the
    channel the LISTEN/NOTIFY check listens on (the worker's). ``notify_timeout_seconds``: how
    long it waits for its notification. ``max_connections``: replaces the server's figure in the
    connection budget. ``settings``: server settings to use instead of reading them (name ->
    value, as ``SHOW`` prints it). ``connection_params``: keyword arguments for the extra
    connections the LISTEN and pooler checks open, instead of the alias's own.
    """

    alias: str | None = None
    plan: Plan = dataclasses.field(default_factory=Plan)
    clock: Callable[[], float] = time.time
    listen_channel: str = dataclasses.field(default_factory=worker_channel)
    notify_timeout_seconds: float = 5.0
    max_connections: int | None = None
    settings: dict[str, str] = dataclasses.field(default_factory=dict)
    connection_params: dict[str, Any] | None = None

    def wrapper(self) -> BaseDatabaseWrapper:
        """Return this thread's Django connection to the job tables' database."""
        from ..models import Job

        return connections[self.alias or router.db_for_write(Job)]

    @property
    def postgresql(self) -> bool:
        return self.wrapper().vendor == "postgresql"

    def setting(self, name: str) -> str | None:
        """Return server setting ``name`` as ``SHOW`` prints it (None if unknown). PostgreSQL."""
        if name in self.settings:
            return self.settings[name]
        return _server_setting(self.wrapper(), name)

    def connect(self) -> Any:
        """Open a new psycopg connection in autocommit mode, apart from Django's (the caller
        closes it): with ``connection_params``, or the alias's settings, as the listener does."""
        wrapper = self.wrapper()
        params = self.connection_params or wrapper.get_connection_params()
        conn: Any = wrapper.get_new_connection(params)
        conn.autocommit = True
        return conn
