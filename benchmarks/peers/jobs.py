"""django-jobs through its public API: ``task.enqueue()``, ``enqueue_many``, ``runworker``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .base import Adapter, Span, duplicate_rows, python, sql


class DjangoJobs(Adapter):
    """django-jobs: ``@job`` tasks, ``Job`` rows, ``manage.py runworker`` (threads)."""

    label = "django-jobs"
    key = "django_jobs"
    dist = "django-durable-jobs"
    settings = (
        "runworker --concurrency 10 (its default) for no-op drains; --concurrency 100 / 500 "
        "for the I/O rows; default prefetch"
    )

    def task(self, kind: str, queue: str) -> Any:
        from benchmarks.bench_tasks import JOBS

        task = JOBS[kind]
        return task if queue == "default" else task.using(queue=queue)

    def tables(self) -> list[str]:
        from django_jobs.models import DeadJob, Job

        return [Job._meta.db_table, DeadJob._meta.db_table]

    def enqueue(self, kind: str, *, queue: str = "default", key: str = "") -> None:
        from django.db import transaction

        task = self.task(kind, queue)
        with transaction.atomic():
            task.enqueue(key) if kind == "mark" else task.enqueue()

    def enqueue_bulk(self, kind: str, count: int, *, queue: str = "default") -> None:
        from django_jobs import enqueue_many

        task = self.task(kind, queue)
        for start in range(0, count, 1000):
            enqueue_many(task, [()] * min(1000, count - start))

    def duplicate(self, count: int, *, finished: bool) -> None:
        duplicate_rows(self.tables()[0], "true", count)

    def worker(self, *, burst: bool, queues: list[str], concurrency: int) -> list[str]:
        args = [*python(), "-m", "django", "runworker", f"--concurrency={concurrency}"]
        args += [f"--queue={queue}" for queue in queues]
        return args + (["--burst"] if burst else [])

    def span(self, since: datetime) -> Span:
        done, first, last = sql(
            f"SELECT count(*), min(started_at), max(finished_at) FROM {self.tables()[0]} "
            "WHERE status = 'done' AND started_at >= %s",
            [since],
        )[0]
        return Span(int(done), first, last)  # type: ignore[arg-type, call-overload]
