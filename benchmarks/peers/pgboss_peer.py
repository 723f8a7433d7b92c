"""pg-boss (Node.js) through its public API: ``send``, ``insert`` and ``work``.

Its scripts are in ``node/`` (``pgboss-client.mjs`` sends, ``pgboss-worker.mjs`` works); pg-boss
installs its own schema, ``pgboss``, in the benchmark database. The harness's queues are pg-boss
queues (``default``, ``a``, ``b``), created with ``notify`` on; a job's data names its kind.
"""

from __future__ import annotations

from datetime import datetime

from . import nodejs
from .base import Span, duplicate_rows, sql

QUEUES = ["default", "a", "b"]


class PgBossAdapter(nodejs.NodeAdapter):
    """pg-boss: ``pgboss.job`` rows (kept when completed), ``started_on`` / ``completed_on``."""

    label = "pg-boss"
    key = "pgboss"
    dist = "pg-boss"
    event_loop = True
    blocking = False  # JavaScript on one event loop: no blocking 50 ms job beside others
    settings = (
        "node pgboss-worker.mjs: one PgBoss instance with its defaults and useListenNotify, "
        "queues created with notify; work() with batchSize 100, localConcurrency 1 for no-op "
        "drains, for the I/O rows batches of concurrency / 2 (at most 100) and concurrency / "
        "batch fetch loops; burstWhenBatchFull, pollingIntervalSeconds 0.5 (its minimum); the "
        "batch handler runs its jobs at once; burst runs stop once no job of the queue is "
        "created or retry (a check every 100 ms: pg-boss has no burst mode)"
    )

    client_script = "pgboss-client.mjs"
    worker_script = "pgboss-worker.mjs"

    def unavailable(self) -> str | None:
        return nodejs.missing("pg-boss")

    def version(self) -> str:
        node = self.client.call("version")["node"]
        return f"{nodejs.package_version('pg-boss')} (Node {node})"

    def tables(self) -> list[str]:
        return ["pgboss.job"]  # partitioned; its partitions are emptied and vacuumed with it

    def setup(self) -> None:
        self.client.call("setup", queues=QUEUES)  # start() installs the schema if missing

    def duplicate(self, count: int, *, finished: bool) -> None:
        duplicate_rows("job", "true", count, schema="pgboss")

    def span(self, since: datetime) -> Span:
        done, first, last = sql(
            "SELECT count(*), min(started_on), max(completed_on) FROM pgboss.job "
            "WHERE state = 'completed' AND started_on >= %s",
            [since],
        )[0]
        return Span(int(done), first, last)  # type: ignore[arg-type, call-overload]
