"""A real PgBouncer in front of the test database, for tests of what poolers do to django-jobs.

``pgbouncer`` (the fixture) starts Debian's ``pgbouncer`` as a foreground subprocess with a
temporary ini (``pool_mode=transaction`` unless the test asks otherwise through
``start_pgbouncer``; ``auth_type=trust``; listening on 127.0.0.1 at a free port; pointing at the
test database's server) and kills it at the end. Install it with ``apt-get install -y
pgbouncer``; tests using it are skipped, saying so, only when the binary is not there.

    def test_something(pgbouncer):
        params = pgbouncer.connection_params()   # for psycopg.connect(**params)
        settings = pgbouncer.database_settings()  # a DATABASES entry through the pooler
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import connection

#: Where Debian puts the binary (not on a non-root user's PATH).
CANDIDATES = ("pgbouncer", "/usr/sbin/pgbouncer", "/usr/bin/pgbouncer")
START_SECONDS = 30.0


def binary() -> str | None:
    """Return the path of the pgbouncer executable, or None when it is not installed."""
    for candidate in CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PgBouncer:
    """One pgbouncer process in front of ``server_host:server_port`` (see the module doc)."""

    def __init__(self, *, server_host: str, server_port: int, pool_mode: str = "transaction"):
        self.host = "127.0.0.1"
        self.port = free_port()
        self.pool_mode = pool_mode
        # pgbouncer refuses to run as root: it is started as postgres then, so its files must be
        # readable by that user (pytest's tmp_path is not).
        self.directory = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
        self.directory.chmod(0o755)
        users = self.directory / "users.txt"
        users.write_text('"postgres" ""\n')
        self.ini = self.directory / "pgbouncer.ini"
        self.ini.write_text(
            "[databases]\n"
            f"* = host={server_host} port={server_port}\n"
            "[pgbouncer]\n"
            f"listen_addr = {self.host}\n"
            f"listen_port = {self.port}\n"
            "unix_socket_dir =\n"
            "auth_type = trust\n"
            f"auth_file = {users}\n"
            f"pool_mode = {pool_mode}\n"
            "ignore_startup_parameters = extra_float_digits,options\n"
        )
        for path in (users, self.ini):
            path.chmod(0o644)
        self.log = self.directory / "pgbouncer.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, executable: str) -> None:
        """Start pgbouncer and wait until it accepts a connection (fails the test if it never
        does)."""
        command = [executable]
        if os.geteuid() == 0:
            command += ["-u", "postgres"]
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                [*command, str(self.ini)], stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                psycopg.connect(**self.connection_params(), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    pytest.fail(f"pgbouncer did not start:\n{self.output()}")
                time.sleep(0.05)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def connection_params(self) -> dict[str, Any]:
        """Keyword arguments for ``psycopg.connect`` to the test database through pgbouncer."""
        settings = connection.settings_dict
        return {"host": self.host, "port": self.port, "user": settings["USER"] or "postgres",
                "dbname": settings["NAME"]}  # fmt: skip

    def django_params(self) -> dict[str, Any]:
        """Django's own connection parameters for the test database, through pgbouncer."""
        return {**connection.get_connection_params(), "host": self.host, "port": self.port}

    def database_settings(self) -> dict[str, Any]:
        """A ``DATABASES`` entry for the test database through pgbouncer, with server-side
        cursors off as Django asks for transaction pooling."""
        return {**connection.settings_dict, "HOST": self.host, "PORT": str(self.port),
                "DISABLE_SERVER_SIDE_CURSORS": True}  # fmt: skip

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture
def start_pgbouncer() -> Iterator[Callable[..., PgBouncer]]:
    """Start pgbouncers in front of the test database's server: ``start(pool_mode=...)``;
    each is killed at the end. Skips the test when pgbouncer is not installed."""
    executable = binary()
    if executable is None:
        pytest.skip("pgbouncer is not installed: apt-get install -y pgbouncer")
    if connection.vendor != "postgresql":
        pytest.skip("pgbouncer needs PostgreSQL")
    started: list[PgBouncer] = []

    def start(pool_mode: str = "transaction") -> PgBouncer:
        settings = connection.settings_dict
        bouncer = PgBouncer(
            server_host=settings["HOST"] or "127.0.0.1",
            server_port=int(settings["PORT"] or 5432),
            pool_mode=pool_mode,
        )
        started.append(bouncer)
        bouncer.start(str(executable))
        return bouncer

    yield start
    for bouncer in started:
        bouncer.stop()


@pytest.fixture
def pgbouncer(start_pgbouncer: Callable[..., PgBouncer]) -> PgBouncer:
    """A pgbouncer in transaction pooling mode in front of the test database."""
    return start_pgbouncer("transaction")
