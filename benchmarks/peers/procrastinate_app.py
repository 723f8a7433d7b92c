"""The Procrastinate app, plain (no Django integration): a ``PsycopgConnector`` on ``DATABASE_URL``.

Its worker is ``procrastinate --app=benchmarks.peers.procrastinate_app.app worker``. The plain
``App`` keeps Procrastinate out of the bench project's ``INSTALLED_APPS`` and migrations, so the
two Django tools' settings are the same with or without it. Synchronous code defers through the
connector's synchronous fallback (one autocommit statement per ``defer``).
"""

from __future__ import annotations

import asyncio
import os
import time

from procrastinate import App, PsycopgConnector

from benchmarks.marks import mark

app = App(connector=PsycopgConnector(conninfo=os.environ.get("DATABASE_URL", "")))


@app.task(name="noop")
async def noop() -> None:
    """Do nothing (an async task: Procrastinate's native kind)."""


@app.task(name="mark")
async def mark_start(key: str) -> None:
    """Record ``time.time()`` under ``key``."""
    mark(key)


@app.task(name="sleep")
def sleep() -> None:
    """Blocking 50 ms; Procrastinate runs a sync task in a thread."""
    time.sleep(0.05)


@app.task(name="asleep")
async def asleep() -> None:
    """Async 50 ms."""
    await asyncio.sleep(0.05)


TASKS = {"noop": noop, "mark": mark_start, "sleep": sleep, "asleep": asleep}
