"""django-tasks-db through ``django.tasks``: ``task.enqueue()`` and ``manage.py db_worker``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .base import Adapter, Span, duplicate_rows, python, sql


class TasksDb(Adapter):
    """django-tasks-db: ``@task`` tasks, ``DBTaskResult`` rows, ``db_worker`` (one at a time)."""

    label = "django-tasks-db"
    key = "django_tasks_db"
    dist = "django-tasks-db"
    concurrent = False  # db_worker runs one task at a time: no concurrency rows
    settings = "db_worker with its defaults (polls every 1 s when idle, --interval)"

    def task(self, kind: str, queue: str) -> Any:
        from benchmarks.bench_tasks import TASKS

        task = TASKS[kind]
        return task if queue == "default" else task.using(queue_name=queue)

    def tables(self) -> list[str]:
        from django_tasks_db.models import DBTaskResult

        return [DBTaskResult._meta.db_table]

    def enqueue(self, kind: str, *, queue: str = "default", key: str = "") -> None:
        from django.db import transaction

        task = self.task(kind, queue)
        with transaction.atomic():
            task.enqueue(key) if kind == "mark" else task.enqueue()

    def enqueue_bulk(self, kind: str, count: int, *, queue: str = "default") -> None:
        # No bulk API: one enqueue per job, 1,000 to a transaction.
        from django.db import transaction

        task = self.task(kind, queue)
        for start in range(0, count, 1000):
            with transaction.atomic():
                for _ in range(min(1000, count - start)):
                    task.enqueue()

    def duplicate(self, count: int, *, finished: bool) -> None:
        duplicate_rows(self.tables()[0], "true", count, uuid_pk=True)

    def worker(self, *, burst: bool, queues: list[str], concurrency: int) -> list[str]:
        args = [*python(), "-m", "django", "db_worker", f"--queue-name={','.join(queues)}"]
        return args + (["--batch"] if burst else [])

    def span(self, since: datetime) -> Span:
        done, first, last = sql(
            f"SELECT count(*), min(started_at), max(finished_at) FROM {self.tables()[0]} "
            "WHERE status = 'SUCCESSFUL' AND started_at >= %s",
            [since],
        )[0]
        return Span(int(done), first, last)  # type: ignore[arg-type, call-overload]
