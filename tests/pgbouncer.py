"""A real PgBouncer in transaction pooling mode in front of the test database, for tests.

``PgBouncer`` runs Debian's ``pgbouncer`` as a child process (never as a daemon) with a
configuration of its own in a temporary folder: transaction pooling, trust authentication, a
free port on 127.0.0.1, and every database name mapped to the PostgreSQL the tests use, so the
test database (``test_<name>``) is reachable through it. Its pool is small on purpose (5 server
connections per database by default) and ``server_round_robin`` spreads transactions over all of
them (``min_pool_size`` keeps the pool full), so that session state leaking from one transaction
to the next shows instead of hiding behind the server connection the last transaction used.

Use the ``pgbouncer`` fixture (one PgBouncer for the test session) in tests; use the class
directly for a PgBouncer of your own (``with PgBouncer(folder, pool_size=3) as bouncer:``).
Tests are skipped when ``pgbouncer`` is not installed (``apt-get install -y pgbouncer``), except
when ``DJANGO_JOBS_REQUIRE_PGBOUNCER=1`` (set by ``.ci/run``): then they fail.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import psycopg
import pytest

#: How long PgBouncer may take to accept connections after it is started (seconds).
START_SECONDS = 30.0

#: Where Debian installs it; /usr/sbin is not on every user's PATH.
CANDIDATES = ("pgbouncer", "/usr/sbin/pgbouncer", "/usr/bin/pgbouncer")

#: The [pgbouncer] section PgBouncer runs with; ``PgBouncer(settings=...)`` overrides entries.
SETTINGS = {
    "listen_addr": "127.0.0.1",
    "unix_socket_dir": "",
    "auth_type": "trust",
    "pool_mode": "transaction",
    "default_pool_size": "5",
    "reserve_pool_size": "0",
    "server_round_robin": "1",
    "max_client_conn": "1000",
    "logfile": "",
    "pidfile": "",
}


def executable() -> str | None:
    """Return the path of the ``pgbouncer`` program, or None when it is not installed."""
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PgBouncer:
    """One PgBouncer process in transaction mode before PostgreSQL at ``db_host:db_port``.

    ``start()`` writes the configuration into ``folder`` and waits (up to ``START_SECONDS``) until
    PgBouncer accepts connections; ``stop()`` ends it. ``url(dbname)`` is a ``DATABASE_URL``
    through it; ``pools()`` reads its admin console's ``SHOW POOLS``. PgBouncer refuses to run as
    root, so under root it is started with ``-u postgres`` (the user Debian's PostgreSQL runs as).
    """

    def __init__(
        self,
        folder: Path,
        *,
        user: str = "postgres",
        db_host: str = "127.0.0.1",
        db_port: int = 5432,
        pool_size: int = 5,
        settings: dict[str, str] | None = None,
    ) -> None:
        self.folder = folder
        self.user = user
        self.db_host, self.db_port = db_host, db_port
        self.settings = {**SETTINGS, "default_pool_size": str(pool_size), **(settings or {})}
        self.pool_size = int(self.settings["default_pool_size"])
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = folder / "pgbouncer.log"

    def __enter__(self) -> PgBouncer:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def url(self, dbname: str) -> str:
        """Return a ``postgres://`` URL of database ``dbname`` through this PgBouncer."""
        return f"postgres://{self.user}@127.0.0.1:{self.port}/{dbname}"

    def direct_url(self, dbname: str) -> str:
        """Return a ``postgres://`` URL of database ``dbname`` on PostgreSQL itself, not pooled."""
        return f"postgres://{self.user}@{self.db_host}:{self.db_port}/{dbname}"

    def conninfo(self, dbname: str) -> str:
        """Return a libpq connection string of database ``dbname`` through this PgBouncer."""
        return f"host=127.0.0.1 port={self.port} user={self.user} dbname={dbname}"

    def output(self) -> str:
        """Return what PgBouncer logged so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def start(self) -> None:
        program = executable()
        if program is None:
            raise FileNotFoundError("pgbouncer is not installed (apt-get install -y pgbouncer)")
        # The free port may be taken by another process before PgBouncer binds it: try again.
        for tries_left in reversed(range(3)):
            try:
                self._start(program)
                return
            except RuntimeError:
                if tries_left == 0 or "Address already in use" not in self.output():
                    raise

    def _start(self, program: str) -> None:
        self.port = free_port()
        ini = self.folder / "pgbouncer.ini"
        auth_file = self.folder / "users.txt"
        auth_file.write_text(f'"{self.user}" ""\n')
        ini.write_text(self._ini(auth_file))
        command = [program, str(ini)]
        if os.geteuid() == 0:
            command[1:1] = ["-u", _unprivileged_user()]
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        self._wait_until_ready()

    def _ini(self, auth_file: Path) -> str:
        # min_pool_size keeps the pool full, so that round-robin has servers to rotate over;
        # max_db_connections makes the pool size a hard limit however many users connect.
        settings = {
            **self.settings,
            "listen_port": str(self.port),
            "auth_file": str(auth_file),
            "admin_users": self.user,
            "stats_users": self.user,
            "min_pool_size": self.settings.get("min_pool_size", str(self.pool_size)),
            "max_db_connections": self.settings.get("max_db_connections", str(self.pool_size)),
        }
        lines = ["[databases]", f"* = host={self.db_host} port={self.db_port}", "", "[pgbouncer]"]
        lines += [f"{key} = {value}" for key, value in settings.items()]
        return "\n".join(lines) + "\n"

    def _wait_until_ready(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + START_SECONDS
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"pgbouncer exited ({self.proc.returncode}):\n{self.output()}")
            try:
                with self.admin():
                    return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(
                        f"pgbouncer did not accept connections within {START_SECONDS}s ({exc}):"
                        f"\n{self.output()}"
                    ) from exc
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: PgBouncer closes every connection and exits
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None

    def admin(self) -> psycopg.Connection[Any]:
        """Return a connection to PgBouncer's admin console (the ``pgbouncer`` database).

        The console speaks only the simple query protocol: run statements without parameters.
        """
        return psycopg.connect(self.conninfo("pgbouncer"), autocommit=True, connect_timeout=5)

    def show(self, what: str) -> list[dict[str, Any]]:
        """Return the rows of the admin command ``SHOW <what>`` as dicts (``what``: POOLS...)."""
        if not what.isalpha():
            raise ValueError(f"not a SHOW command: {what!r}")
        with self.admin() as conn, conn.cursor() as cursor:
            cursor.execute(f"SHOW {what}")
            names = [column.name for column in cursor.description or []]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def version(self) -> tuple[int, ...]:
        """Return PgBouncer's version, e.g. ``(1, 18, 0)``."""
        text = self.show("VERSION")[0]["version"]  # "PgBouncer 1.18.0"
        return tuple(int(part) for part in text.split()[-1].split("."))

    def pools(self, dbname: str) -> dict[str, int]:
        """Return database ``dbname``'s pool counts: ``cl_active``, ``cl_waiting``, ``sv_*``...

        ``servers`` is the number of server (PostgreSQL) connections the pool holds now, in any
        state; ``clients`` the client connections, active or waiting for a server. All zero when
        nobody connected to ``dbname`` yet.
        """
        counts = {"clients": 0, "servers": 0}
        for row in self.show("POOLS"):
            if row["database"] != dbname:
                continue
            for name, value in row.items():
                if name.startswith(("cl_", "sv_")) and isinstance(value, int):
                    counts[name] = counts.get(name, 0) + value
            counts["clients"] += row["cl_active"] + row["cl_waiting"]
            counts["servers"] += sum(v for k, v in row.items() if k.startswith("sv_"))
        return counts


def _unprivileged_user() -> str:
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name).pw_name
    raise RuntimeError("pgbouncer refuses to run as root and no postgres or nobody user exists")


def skip_or_fail_without_pgbouncer() -> None:
    """Skip the test when ``pgbouncer`` is not installed; fail instead where it is required."""
    if executable() is not None:
        return
    reason = "pgbouncer is not installed (Debian: apt-get install -y pgbouncer)"
    if os.environ.get("DJANGO_JOBS_REQUIRE_PGBOUNCER") == "1":
        pytest.fail(f"{reason}, and DJANGO_JOBS_REQUIRE_PGBOUNCER=1 requires it")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pgbouncer(django_db_setup: None) -> Iterator[PgBouncer]:
    """One PgBouncer in transaction mode for the test session (pool of 5 per database).

    Set up after the test database and stopped before it is dropped, so that its server
    connections do not keep the database from being dropped.
    """
    skip_or_fail_without_pgbouncer()
    from django.db import connection

    settings = connection.settings_dict
    with tempfile.TemporaryDirectory(prefix="django-jobs-pgbouncer-") as folder:
        bouncer = PgBouncer(
            Path(folder),
            user=settings["USER"] or "postgres",
            db_host=settings["HOST"] or "127.0.0.1",
            db_port=int(settings["PORT"] or 5432),
        )
        with bouncer:
            yield bouncer


@contextlib.contextmanager
def default_through(bouncer: PgBouncer) -> Iterator[PgBouncer]:
    """Send this process's ``default`` connections through ``bouncer`` inside the block.

    Every thread's connection is built from the one settings dict, so changing its host and port
    moves them all; the connection is closed on the way in and out, so no thread keeps a direct
    one. The test database stays the same (PgBouncer maps every name to it).
    """
    from django.db import connection

    settings = connection.settings_dict
    saved = {key: settings[key] for key in ("HOST", "PORT")}
    connection.close()
    settings.update(HOST="127.0.0.1", PORT=str(bouncer.port))
    try:
        yield bouncer
    finally:
        connection.close()
        settings.update(saved)


@pytest.fixture
def default_through_pgbouncer(pgbouncer: PgBouncer, transactional_db: None) -> Iterator[PgBouncer]:
    """The session's ``pgbouncer``, with this process's ``default`` connections through it."""
    with default_through(pgbouncer):
        yield pgbouncer
