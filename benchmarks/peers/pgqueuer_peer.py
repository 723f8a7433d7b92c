"""pgqueuer through its public API: ``SyncQueries.enqueue`` and ``pgq run``.

As pgqueuer's own benchmark tool (``tools/benchmark.py``) does, the worker uses asyncpg; the
harness enqueues from plain code with ``SyncQueries`` over an autocommit psycopg connection, so
each ``enqueue`` call is one transaction.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime
from typing import Any

import psycopg

from .base import Adapter, Span, dsn, duplicate_rows, sql


class PgQueuerAdapter(Adapter):
    """pgqueuer: ``pgqueuer`` rows (deleted when done), ``pgqueuer_log`` with each status."""

    label = "pgqueuer"
    key = "pgqueuer"
    dist = "pgqueuer"
    event_loop = True
    settings = (
        "pgqueuer.run as pgq run (uvloop, asyncpg driver), --batch-size 100 for no-op drains "
        "(5x its default 10 here); for the I/O rows --max-concurrent-tasks = the concurrency and "
        "--batch-size min(100, concurrency / 2); default durability (all tables logged); "
        "burst runs with --mode drain"
    )
    batch_size = 100

    def __init__(self) -> None:
        self._conn: psycopg.Connection[Any] | None = None
        self._queries: Any = None

    def queries(self) -> Any:
        if self._queries is None:
            from pgqueuer.adapters.drivers.psycopg import SyncPsycopgDriver
            from pgqueuer.queries import SyncQueries

            self._conn = psycopg.connect(dsn(), autocommit=True)
            self._queries = SyncQueries(SyncPsycopgDriver(self._conn))
        return self._queries

    def tables(self) -> list[str]:
        return ["pgqueuer", "pgqueuer_log"]

    def setup(self) -> None:
        if sql("SELECT to_regclass('pgqueuer')")[0][0] is not None:
            return

        async def install() -> None:
            import asyncpg
            from pgqueuer.db import AsyncpgDriver
            from pgqueuer.queries import Queries

            connection = await asyncpg.connect(dsn())
            try:
                await Queries(AsyncpgDriver(connection)).install()
            finally:
                await connection.close()

        asyncio.run(install())

    def enqueue(self, kind: str, *, queue: str = "default", key: str = "") -> None:
        self.queries().enqueue(f"{kind}_{queue}", key.encode() if key else None)

    def enqueue_bulk(self, kind: str, count: int, *, queue: str = "default") -> None:
        queries = self.queries()
        for start in range(0, count, 1000):
            n = min(1000, count - start)
            queries.enqueue([f"{kind}_{queue}"] * n, [None] * n, [0] * n)

    def duplicate(self, count: int, *, finished: bool) -> None:
        if finished:  # a finished job is gone from pgqueuer; its log rows stay
            duplicate_rows("pgqueuer_log", "status = 'successful'", count)
        else:
            duplicate_rows("pgqueuer", "true", count)

    def worker(self, *, burst: bool, queues: list[str], concurrency: int) -> list[str]:
        # No-op drains (concurrency 10, the harness's default): batches of 100 and no cap. For
        # the I/O rows the cap is the concurrency, which pgqueuer wants >= 2x the batch size.
        args = [sys.executable, "-m", "benchmarks.peers.pgq_app"]
        if concurrency <= 10:
            args.append(f"--batch-size={self.batch_size}")
        else:
            batch = min(self.batch_size, concurrency // 2)
            args += [f"--batch-size={batch}", f"--max-concurrent-tasks={concurrency}"]
        return args + (["--mode=drain"] if burst else [])

    def span(self, since: datetime) -> Span:
        # pgqueuer logs each status change with the time of the statement that wrote it.
        done, first, last = sql(
            "SELECT count(*) FILTER (WHERE status = 'successful'), "
            "min(created) FILTER (WHERE status = 'picked'), "
            "max(created) FILTER (WHERE status = 'successful') FROM pgqueuer_log "
            "WHERE created >= %s",
            [since],
        )[0]
        return Span(int(done), first, last)  # type: ignore[arg-type, call-overload]
