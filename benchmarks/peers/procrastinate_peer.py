"""Procrastinate through its public API: ``task.defer()``, ``batch_defer`` and its worker CLI."""

from __future__ import annotations

import shutil
import sys
from datetime import datetime
from pathlib import Path

from .base import Adapter, Span, duplicate_rows, sql

APP = "benchmarks.peers.procrastinate_app.app"


class ProcrastinateAdapter(Adapter):
    """Procrastinate: ``procrastinate_jobs`` rows, ``procrastinate_events`` with timestamps."""

    label = "procrastinate"
    key = "procrastinate"
    dist = "procrastinate"
    event_loop = True
    settings = (
        "plain App with PsycopgConnector; worker --concurrency 10 for no-op drains (async "
        "tasks), --concurrency 100 / 500 for the I/O rows; LISTEN/NOTIFY on (its default); "
        "drains with --one-shot"
    )

    def tables(self) -> list[str]:
        return ["procrastinate_jobs", "procrastinate_events", "procrastinate_workers"]

    def setup(self) -> None:
        if sql("SELECT to_regclass('procrastinate_jobs')")[0][0] is not None:
            return
        from benchmarks.peers.procrastinate_app import app

        with app.open():
            app.schema_manager.apply_schema()

    opened = False

    def task(self, kind: str, queue: str):  # type: ignore[no-untyped-def]
        from benchmarks.peers.procrastinate_app import TASKS, app

        if not self.opened:  # the sync connection pool, for this process's defers
            app.open()
            self.opened = True

        task = TASKS[kind]
        return task if queue == "default" else task.configure(queue=queue)

    def enqueue(self, kind: str, *, queue: str = "default", key: str = "") -> None:
        task = self.task(kind, queue)
        task.defer(key=key) if kind == "mark" else task.defer()

    def enqueue_bulk(self, kind: str, count: int, *, queue: str = "default") -> None:
        task = self.task(kind, queue)
        for start in range(0, count, 1000):
            task.batch_defer(*[{}] * min(1000, count - start))

    def duplicate(self, count: int, *, finished: bool) -> None:
        duplicate_rows("procrastinate_jobs", "true", count)

    def worker(self, *, burst: bool, queues: list[str], concurrency: int) -> list[str]:
        exe = shutil.which("procrastinate", path=str(Path(sys.executable).parent))
        args = [exe or "procrastinate", f"--app={APP}", "worker", f"--concurrency={concurrency}"]
        args.append(f"--queues={','.join(queues)}")
        return args + (["--one-shot"] if burst else [])

    def span(self, since: datetime) -> Span:
        done, first, last = sql(
            "SELECT count(*) FILTER (WHERE type = 'succeeded'), "
            "min(at) FILTER (WHERE type = 'started'), "
            "max(at) FILTER (WHERE type = 'succeeded') FROM procrastinate_events "
            "WHERE at >= %s",
            [since],
        )[0]
        return Span(int(done), first, last)  # type: ignore[arg-type, call-overload]
