"""The pgqueuer worker the harness starts: ``python -m benchmarks.peers.pgq_app [options]``.

That is what ``pgq run benchmarks.peers.pgq_app:create`` does (the same ``pgqueuer.run`` with the
same options), less its logging set-up, which fails in pgqueuer 1.6.0's CLI (``--log-level``
reaches ``setup_fancy_logger`` as a plain string); pgqueuer's log level stays INFO.

Entrypoints are named ``<kind>_<queue>`` (pgqueuer routes by entrypoint, not by queue); a worker
registers those of the queues in ``BENCH_QUEUES``. The job's payload is the mark key. pgqueuer
1.6 takes only ``async def`` entrypoints and documents ``asyncio.to_thread`` for blocking code,
which the ``sleep`` kind uses.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import asyncpg
from pgqueuer import PgQueuer, run
from pgqueuer.adapters.cli.cli import asyncio_run
from pgqueuer.db import AsyncpgDriver
from pgqueuer.domain.types import QueueExecutionMode
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


@asynccontextmanager
async def create() -> AsyncIterator[PgQueuer]:
    """Build the PgQueuer: one asyncpg connection, every kind of every queue asked for."""
    connection = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        pgq = PgQueuer(AsyncpgDriver(connection))
        for queue in os.environ.get("BENCH_QUEUES", "default").split(","):
            for kind, handler in HANDLERS.items():
                pgq.entrypoint(f"{kind}_{queue}")(handler)
        yield pgq
    finally:
        await connection.close()


def main() -> None:
    """Parse ``pgq run``'s options that the harness uses and run the queue manager."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--max-concurrent-tasks", type=int)
    parser.add_argument(
        "--mode", choices=[m.value for m in QueueExecutionMode], default="continuous"
    )
    options = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    asyncio_run(  # as pgq run: uvloop when it is installed
        run(
            create,
            batch_size=options.batch_size,
            max_concurrent_tasks=options.max_concurrent_tasks,
            mode=QueueExecutionMode(options.mode),
            dequeue_timeout=timedelta(seconds=30),
        )
    )


if __name__ == "__main__":
    main()
