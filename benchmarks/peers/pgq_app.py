"""The pgqueuer worker the harness starts: ``pgq run benchmarks.peers.pgq_app:create``.

Entrypoints are named ``<kind>_<queue>`` (pgqueuer routes by entrypoint, not by queue); a worker
registers those of the queues in ``BENCH_QUEUES``. The job's payload is the mark key. pgqueuer
1.6 takes only ``async def`` entrypoints and documents ``asyncio.to_thread`` for blocking code,
which the ``sleep`` kind uses.
"""

from __future__ import annotations

import asyncio
import os
import time

import asyncpg
from pgqueuer import PgQueuer
from pgqueuer.db import AsyncpgDriver
from pgqueuer.models import Job

from benchmarks.marks import mark


async def noop(job: Job) -> None:
    """Do nothing."""


async def mark_start(job: Job) -> None:
    """Record ``time.time()`` under the payload's key."""
    mark((job.payload or b"").decode())


async def sleep(job: Job) -> None:
    """Blocking 50 ms, run in a thread as pgqueuer's docs say for blocking code."""
    await asyncio.to_thread(time.sleep, 0.05)


async def asleep(job: Job) -> None:
    """Async 50 ms."""
    await asyncio.sleep(0.05)


HANDLERS = {"noop": noop, "mark": mark_start, "sleep": sleep, "asleep": asleep}


async def create() -> PgQueuer:
    """Build the PgQueuer: one asyncpg connection, every kind of every queue asked for."""
    connection = await asyncpg.connect(os.environ["DATABASE_URL"])
    pgq = PgQueuer(AsyncpgDriver(connection))
    for queue in os.environ.get("BENCH_QUEUES", "default").split(","):
        for kind, handler in HANDLERS.items():
            pgq.entrypoint(f"{kind}_{queue}")(handler)
    return pgq
