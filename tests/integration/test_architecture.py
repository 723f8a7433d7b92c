"""Every write to the job tables comes from ``django_jobs.engine``: watched at run time, and read
in the source.

The run-time check records, for every INSERT, UPDATE or DELETE statement on the job and dead-job
tables, the innermost django_jobs module on the call stack, while a worker, the scheduler, the
admin's functions and the public API drive every transition. The static check reads the tree
for query writes that name the job models outside the engine.
"""

from __future__ import annotations

import ast
import datetime as dt
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.db.backends.signals import connection_created
from django.utils import timezone

import django_jobs
from django_jobs import engine
from django_jobs.models import DeadJob, Job, JobStatus
from django_jobs.scheduler import ledger
from django_jobs.scheduler.schedules import load_schedules
from django_jobs.worker import Worker
from tests import cancel_tasks, tasks

PACKAGE = Path(django_jobs.__file__).resolve().parent
ENGINE = PACKAGE / "engine"
WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)
JOB_TABLES = re.compile(r"\bdjango_jobs_(job|deadjob)\b", re.IGNORECASE)


class Writers:
    """An execute wrapper that notes which django_jobs module issued each write to job tables."""

    def __init__(self) -> None:
        self.modules: dict[str, str] = {}

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if WRITE.match(sql) and JOB_TABLES.search(sql):
            writer = self._innermost_package_frame()
            if writer is not None:
                self.modules.setdefault(writer, sql[:120])
        return execute(sql, params, many, context)

    @staticmethod
    def _innermost_package_frame() -> str | None:
        frame = sys._getframe(1)
        while frame is not None:
            path = Path(frame.f_code.co_filename).resolve()
            if path.is_relative_to(PACKAGE):
                return str(path.relative_to(PACKAGE.parent))
            frame = frame.f_back
        return None

    def install(self, sender: Any = None, connection: Any = None, **kwargs: Any) -> None:
        if self not in connection.execute_wrappers:
            connection.execute_wrappers.append(self)


@pytest.fixture
def writers() -> Iterator[Writers]:
    watch = Writers()
    connection_created.connect(watch.install)
    watch.install(connection=connection)
    yield watch
    connection_created.disconnect(watch.install)
    if watch in connection.execute_wrappers:
        connection.execute_wrappers.remove(watch)


@pytest.mark.django_db(transaction=True)
def test_every_write_to_the_job_tables_comes_from_the_engine(writers, settings):
    settings.DJANGO_JOBS = {
        **settings.DJANGO_JOBS,
        "SCHEDULES": {"every-minute": {"task": "tests.tasks.noop", "cron": "* * * * *"}},
    }
    # enqueue, enqueue_many, a schedule's fire time
    tasks.add.enqueue(1, 2)
    django_jobs.enqueue_many(tasks.add, [(1, 1), (2, 2)])
    ledger.fire(load_schedules()["every-minute"], timezone.now())
    tasks.always_fails.using(max_attempts=2).enqueue()  # retry, then dead letter
    tasks.permanent_failure.enqueue()
    tasks.reports_progress.enqueue()
    tasks.overruns.enqueue("slow", 1.5)  # a timeout
    cancel_tasks.cancels_itself.enqueue()  # a running job ends cancelled (acknowledge_cancel)
    cancelled = tasks.add.using(delay=3600).enqueue(3, 3)
    later = tasks.add.using(delay=3600).enqueue(4, 4)
    engine.cancel([cancelled.id])
    engine.run_now([later.id])
    Worker(burst=True, concurrency=3).run()
    # rescue (started and unstarted), release, replay, prune (jobs, dead jobs, the ledger)
    tasks.add.enqueue(5, 5)
    tasks.add.enqueue(6, 6)
    claimed = engine.claim(worker_id="w", limit=2, lease_seconds=30)
    engine.start(claimed[:1])
    Job.objects.filter(id__in=[j.id for j in claimed]).update(
        lease_expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    engine.rescue()
    engine.release(engine.claim(worker_id="w", limit=5, lease_seconds=30))
    engine.replay(DeadJob.objects.all())
    assert Job.objects.filter(status=JobStatus.DONE).exists()
    engine.prune(finished_before=timezone.now() + dt.timedelta(seconds=1))
    engine.prune_dead_jobs(failed_before=timezone.now() + dt.timedelta(seconds=1))
    engine.prune_schedule_runs(created_before=timezone.now() + dt.timedelta(seconds=1))

    outside = {module: sql for module, sql in writers.modules.items()
               if not module.startswith("django_jobs/engine/")}  # fmt: skip
    assert not outside, f"job tables written outside django_jobs/engine/: {outside}"
    # Statements run by sql.execute_returning (enqueue's INSERTs among them) are seen there.
    assert {"django_jobs/engine/sql.py", "django_jobs/engine/fail.py",
            "django_jobs/engine/cancel.py"} <= set(writers.modules)  # fmt: skip
    assert any(sql.startswith("INSERT INTO") for sql in writers.modules.values())


#: Query methods that write rows.
WRITE_METHODS = {"update", "delete", "bulk_create", "bulk_update", "create", "get_or_create",
                 "update_or_create", "save"}  # fmt: skip


def _writes_to_job_models(tree: ast.AST) -> list[int]:
    """Line numbers of calls like ``Job.objects....update(...)`` or ``DeadJob(...).save()``."""
    lines = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr not in WRITE_METHODS:
            continue
        names = {n.id for n in ast.walk(node.func.value) if isinstance(n, ast.Name)}
        if names & {"Job", "DeadJob"}:
            lines.append(node.lineno)
    return lines


def test_no_module_outside_the_engine_writes_job_rows_or_job_sql():
    found = {}
    for path in PACKAGE.rglob("*.py"):
        if path.is_relative_to(ENGINE) or "migrations" in path.parts:
            continue
        source = path.read_text()
        lines = _writes_to_job_models(ast.parse(source))
        raw = [
            m.group(0) for m in re.finditer(r"(INSERT INTO|UPDATE|DELETE FROM)\s+\S*job", source)
        ]
        if lines or raw:
            found[str(path.relative_to(PACKAGE))] = (lines, raw)
    assert not found, f"writes to the job tables outside django_jobs/engine/: {found}"
