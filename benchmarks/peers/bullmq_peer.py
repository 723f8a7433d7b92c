"""BullMQ (Node.js, on Redis) through its public API: ``Queue.add``, ``addBulk`` and ``Worker``.

Its scripts are in ``node/`` (``bullmq-client.mjs`` adds jobs and reads their timestamps,
``bullmq-worker.mjs`` works). The queues live in Redis (``BENCH_REDIS_URL``, default
``redis://127.0.0.1:6379/5``) under the key prefix ``djbench``; emptying them unlinks only the
keys under that prefix. A job's name is its kind. There are no PostgreSQL tables: the rate comes
from each job's ``processedOn`` and ``finishedOn`` (milliseconds), which BullMQ records.
"""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime
from urllib.parse import urlsplit

from . import nodejs
from .base import Span

REDIS_URL = "redis://127.0.0.1:6379/5"


def redis_url() -> str:
    return os.environ.get("BENCH_REDIS_URL", REDIS_URL)


def from_ms(ms: float | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


class BullMQAdapter(nodejs.NodeAdapter):
    """BullMQ: job hashes and a ``completed`` sorted set per queue, in Redis."""

    label = "BullMQ"
    key = "bullmq"
    dist = "bullmq"
    event_loop = True
    blocking = False  # JavaScript on one event loop: no blocking 50 ms job beside others
    settings = (
        "node bullmq-worker.mjs: one Worker per queue with BullMQ's defaults (completed jobs "
        "kept, stalled checks, lock renewal), --concurrency 10 for no-op drains, 100 / 500 for "
        "the I/O rows; burst runs close on the worker's drained event; Redis db 5, key prefix "
        "djbench (emptied with SCAN and UNLINK before each measurement)"
    )

    client_script = "bullmq-client.mjs"
    worker_script = "bullmq-worker.mjs"

    def unavailable(self) -> str | None:
        missing = nodejs.missing("bullmq")
        if missing:
            return missing
        parts = urlsplit(redis_url())
        try:
            socket.create_connection((parts.hostname, parts.port or 6379), timeout=2).close()
        except OSError as exc:
            return f"no Redis at {redis_url()} ({exc}); set BENCH_REDIS_URL"
        return None

    def version(self) -> str:
        found = self.client.call("version")
        ioredis = nodejs.package_version("ioredis")
        return (
            f"{nodejs.package_version('bullmq')} (ioredis {ioredis}, Redis {found['redis']}, "
            f"Node {found['node']})"
        )

    def tables(self) -> list[str]:
        return []

    def reset(self) -> None:
        self.client.call("reset")

    def analyze(self) -> None:
        """Nothing to analyze in Redis."""

    def duplicate(self, count: int, *, finished: bool) -> None:
        self.client.call("duplicate", count=count, finished=finished)

    def span(self, since: datetime) -> Span:
        found = self.client.call("span", since=max(since.timestamp(), 0) * 1000)
        return Span(int(found["done"]), from_ms(found["first"]), from_ms(found["last"]))

    def server_pids(self) -> list[int]:
        # Redis serves every client from one process: all of its CPU time is counted.
        return [int(self.client.call("version")["pid"])]
