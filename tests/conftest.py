"""Fixtures shared by the suite: database vendor checks and real worker processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL; run with DATABASE_URL=postgres://...")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


def wait_for(condition: Callable[[], object], *, timeout: float = 30.0, what: str = "") -> object:
    """Poll ``condition`` until it returns something truthy; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    pytest.fail(f"timed out after {timeout}s waiting for {what or condition}")


def subprocess_env(**extra: str) -> dict[str, str]:
    """Environment for a child ``manage.py`` that uses this test run's database."""
    settings = connection.settings_dict
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(ROOT)}
    if connection.vendor == "postgresql":
        host = settings["HOST"] or "127.0.0.1"
        port = settings["PORT"] or 5432
        env["DATABASE_URL"] = f"postgres://{settings['USER']}@{host}:{port}/{settings['NAME']}"
    else:
        env["DATABASE_URL"] = f"sqlite:///{settings['NAME']}"
    env.update(extra)
    return env


class ManagedProcess:
    """A ``manage.py`` child whose output goes to a file, never to a pipe nobody reads.

    (A full pipe blocks the child's logging, and with it, in a worker, the heartbeat.)
    """

    def __init__(self, command: str, args: tuple[str, ...], env: dict[str, str], log: Path):
        self.log = log
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "django", command, *args],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # signals from a test reach only what it means them for
            )
        self.pid = self.proc.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def finish(self, timeout: float) -> tuple[int, str]:
        """Wait for the process to exit; return its exit code and everything it printed."""
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(
                f"process {self.pid} still running after {timeout}s:\n{self.output()[-3000:]}"
            )
        return code, self.output()

    def send_signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def poll(self) -> int | None:
        return self.proc.poll()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)


@pytest.fixture
def start_command(
    transactional_db: None, tmp_path: Path
) -> Iterator[Callable[..., ManagedProcess]]:
    """Start ``manage.py <command>`` processes on the test database; kill leftovers at the end."""
    started: list[ManagedProcess] = []

    def start(command: str, *args: str, **env: str) -> ManagedProcess:
        log = tmp_path / f"{command}-{len(started)}.log"
        process = ManagedProcess(command, args, subprocess_env(**env), log)
        started.append(process)
        return process

    yield start
    for process in started:
        process.kill()


@pytest.fixture
def start_worker(start_command: Callable[..., ManagedProcess]) -> Callable[..., ManagedProcess]:
    """Start ``manage.py runworker`` with the given arguments (see ``start_command``)."""
    return lambda *args, **env: start_command("runworker", *args, **env)
