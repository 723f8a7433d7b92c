"""Run an example project of the docs in a copy, as its reader would, on the suite's database.

On PostgreSQL the copy gets a database of its own, made for the run and dropped after it, named in
``EXAMPLE_DATABASE_NAME`` for its ``mysite.settings_postgresql``; libpq's environment variables
reach the server.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from django.db import connection


@contextlib.contextmanager
def project_copy(source: Path, workdir: Path, django_db_blocker) -> Iterator[dict[str, str]]:
    """Copy ``source`` to ``workdir`` and yield the environment its commands need."""
    shutil.copytree(source, workdir, ignore=shutil.ignore_patterns("__pycache__", "*.sqlite3"))
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    env.pop("PYTHONPATH", None)
    if connection.vendor == "sqlite":
        yield env
        return
    database = f"example_{uuid.uuid4().hex[:8]}"
    settings = connection.settings_dict
    for variable, key in (("PGHOST", "HOST"), ("PGPORT", "PORT"), ("PGUSER", "USER")):
        if settings[key]:
            env[variable] = str(settings[key])
    if settings["PASSWORD"]:
        env["PGPASSWORD"] = settings["PASSWORD"]
    env["EXAMPLE_DATABASE_NAME"] = database
    env["DJANGO_SETTINGS_MODULE"] = "mysite.settings_postgresql"
    with django_db_blocker.unblock(), connection._nodb_cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{database}"')
    try:
        yield env
    finally:
        with django_db_blocker.unblock(), connection._nodb_cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def run_python(workdir: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``python *args`` in ``workdir`` with the suite's interpreter; 120 seconds at most."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def start_then_stop(argv: list[str], workdir: Path, env: dict[str, str], what: str) -> int:
    """Start ``argv``, wait for its log line "<what> ... started", SIGTERM it; return its status."""
    process = subprocess.Popen(
        argv, cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in process.stderr])
    reader.start()
    seen = []
    deadline = time.monotonic() + 60
    try:
        while not any(f"{what} " in line and " started" in line for line in seen):
            assert time.monotonic() < deadline, f"{argv} did not log '{what} ... started': {seen}"
            try:
                seen.append(lines.get(timeout=1))
            except queue.Empty:
                assert process.poll() is None, f"{argv} exited {process.returncode}: {seen}"
        process.send_signal(signal.SIGTERM)
        return process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        reader.join(timeout=10)
        process.stderr.close()
