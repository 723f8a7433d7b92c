"""Real ``manage.py runworker`` and ``runscheduler`` processes whose database is a PgBouncer.

Every process's ``DATABASE_URL`` points at PgBouncer in transaction pooling mode with a pool of
5 server connections (``tests/pgbouncer.py``), while each worker opens 9 or more client
connections (main loop, slots, heartbeat, completer): many clients, few server connections.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import connection, transaction
from django.db.models import Count

from django_jobs.models import DeadJob, Job, JobStatus, ScheduleRun
from tests import hostile_tasks, tasks
from tests.acceptance.test_scheduler_processes import EVERY_SECOND, fire_span, schedules_env
from tests.conftest import ManagedProcess, Progress, wait_for
from tests.faults.support import dead, describe_jobs, done_count
from tests.faults.test_timeouts import RowLockHolder, _blocked_by
from tests.models import Execution, Order
from tests.pgbouncer import PgBouncer

pytestmark = pytest.mark.postgres

POOLED_WARNING = "reached through a connection pooler"


def dbname() -> str:
    return str(connection.settings_dict["NAME"])


def pooled_env(bouncer: PgBouncer, *, listen: bool, **extra: str) -> dict[str, str]:
    """The environment of a child whose database is ``bouncer``; ``listen``: LISTEN direct."""
    env = {"DATABASE_URL": bouncer.url(dbname()), **extra}
    if listen:
        env["DJANGO_JOBS_TEST_LISTEN_DATABASE_URL"] = bouncer.direct_url(dbname())
    return env


class ConnectionSampler:
    """Sample, in a thread, PgBouncer's client and server counts and PostgreSQL's backends.

    ``backends`` counts the test database's client backends in ``pg_stat_activity``, as
    PostgreSQL sees them (PgBouncer's server connections plus whatever connects directly).
    """

    def __init__(self, bouncer: PgBouncer) -> None:
        self.bouncer = bouncer
        self.peak = {"clients": 0, "servers": 0, "backends": 0}
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ConnectionSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(30)
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        try:
            self._sample()
        except BaseException as exc:  # re-raised in the test's thread by __exit__
            self.error = exc

    def _sample(self) -> None:
        name = dbname()
        with psycopg.connect(self.bouncer.direct_url(name), autocommit=True) as direct:
            while not self._stop.wait(0.1):
                pool = self.bouncer.pools(name)
                (backends,) = direct.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
                ).fetchone() or (0,)
                seen = {**pool, "backends": backends}
                self.peak = {key: max(self.peak[key], seen[key]) for key in self.peak}


def listening_backends() -> int:
    """Return how many backends of the test database sit in a worker's LISTEN (its last query is
    ``LISTEN django_jobs``, or ``LISTEN django_jobs_cancel`` after it)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND query IN ('LISTEN django_jobs', 'LISTEN django_jobs_cancel')"
        )
        return int(cursor.fetchone()[0])


def enqueue_mix(batch: int) -> dict[str, list[int]]:
    """Enqueue, in one transaction, 80 jobs that succeed, 15 that fail twice, 5 that die."""
    with transaction.atomic():
        return {
            "ok": [tasks.record.enqueue(f"ok-{batch}-{i}").id for i in range(80)],
            "retried": [tasks.fails_until.enqueue(f"retry-{batch}-{i}", 3).id for i in range(15)],
            "dead": [tasks.always_fails.enqueue(f"dead-{batch}").id for _ in range(5)],
        }


def settled_count(ids: list[int]) -> int:
    done = Job.objects.filter(id__in=ids, status=JobStatus.DONE).count()
    return done + DeadJob.objects.filter(job_id__in=ids).count()


def drain(batches: int, workers: list[ManagedProcess]) -> dict[str, list[int]]:
    """Enqueue ``batches`` mixes one after the other, each once the last has settled."""
    ids: dict[str, list[int]] = {"ok": [], "retried": [], "dead": []}
    for batch in range(batches):
        for kind, new in enqueue_mix(batch).items():
            ids[kind] += new
        everything = [i for kind in ids.values() for i in kind]
        Progress(
            lambda everything=everything: settled_count(everything),
            what=f"batch {batch} to settle through PgBouncer",
            describe=lambda: [w.output()[-1500:] for w in workers],
        ).wait(len(everything))
    return ids


def assert_drained(ids: dict[str, list[int]]) -> None:
    assert done_count(ids["ok"] + ids["retried"]) == len(ids["ok"]) + len(ids["retried"])
    assert set(Job.objects.filter(id__in=ids["retried"]).values_list("attempts", flat=True)) == {3}
    dead_jobs = DeadJob.objects.filter(job_id__in=ids["dead"])
    assert dead_jobs.count() == len(ids["dead"])
    assert set(dead_jobs.values_list("attempts", flat=True)) == {3}
    runs = dict(Execution.objects.values_list("key").annotate(n=Count("id")))
    assert {n for key, n in runs.items() if key.startswith("ok-")} == {1}, "a job ran twice"
    assert {n for key, n in runs.items() if key.startswith("retry-")} == {3}


def stop(workers: list[ManagedProcess]) -> list[str]:
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    outputs = []
    for worker in workers:
        code, out = worker.finish(timeout=60)
        assert code == 0, out[-3000:]
        assert "Traceback" not in out, out[-3000:]
        outputs.append(out)
    return outputs


def start_pooled_workers(
    start_worker: Callable[..., ManagedProcess], env: dict[str, str], count: int = 2
) -> list[ManagedProcess]:
    workers = [start_worker("--concurrency", "6", **env) for _ in range(count)]
    for worker in workers:
        worker.wait_until_started()
    return workers


def test_workers_behind_pgbouncer_listening_direct_drain_300_jobs(
    pgbouncer: PgBouncer, start_worker: Callable[..., ManagedProcess]
):
    # Polling once an hour: each batch is picked up only if the NOTIFY of its commit, sent
    # through PgBouncer, reaches the workers' LISTEN on the direct URL.
    env = pooled_env(pgbouncer, listen=True, DJANGO_JOBS_TEST_POLL_INTERVAL_SECONDS="3600")
    workers = start_pooled_workers(start_worker, env)
    wait_for(lambda: listening_backends() == 2, what="both workers to LISTEN, directly")
    with ConnectionSampler(pgbouncer) as sampler:
        ids = drain(3, workers)
    assert_drained(ids)
    outputs = stop(workers)
    assert not any(POOLED_WARNING in out for out in outputs)
    peak = sampler.peak
    assert peak["servers"] <= pgbouncer.pool_size < peak["clients"], peak
    # PostgreSQL's own count: the pool, the two direct LISTEN connections and this test's.
    assert peak["backends"] <= pgbouncer.pool_size + 3, peak


def test_workers_behind_pgbouncer_without_listen_url_poll_and_drain(
    pgbouncer: PgBouncer, start_worker: Callable[..., ManagedProcess]
):
    workers = start_pooled_workers(start_worker, pooled_env(pgbouncer, listen=False))
    wait_for(lambda: all(POOLED_WARNING in w.output() for w in workers),
             what="both workers to give up LISTEN behind the pooler")  # fmt: skip
    with ConnectionSampler(pgbouncer) as sampler:
        ids = drain(3, workers)
        assert listening_backends() == 0
    assert_drained(ids)
    stop(workers)
    assert sampler.peak["servers"] <= pgbouncer.pool_size < sampler.peak["clients"], sampler.peak


def lease_renewed(job_id: int, times: int, lease_seconds: float) -> bool:
    job = Job.objects.filter(id=job_id, status=JobStatus.RUNNING).first()
    if job is None or job.started_at is None or job.lease_expires_at is None:
        return False
    return job.lease_expires_at > job.started_at + timedelta(seconds=lease_seconds * times)


def test_a_killed_workers_job_is_rescued_and_heartbeats_renew_it_through_pgbouncer(
    pgbouncer: PgBouncer, start_worker: Callable[..., ManagedProcess], tmp_path: Path
):
    from django.conf import settings

    lease = float(settings.DJANGO_JOBS["LEASE_SECONDS"])
    release = tmp_path / "release"
    job = hostile_tasks.record_then_wait.enqueue("held", str(release)).id
    env = pooled_env(pgbouncer, listen=False)
    first = start_worker("--concurrency", "2", **env)
    wait_for(lambda: Execution.objects.filter(key="held").exists(), timeout=90,
             what="the first worker to start the job")  # fmt: skip
    first.kill()  # SIGKILL: no release, the lease must expire and be rescued
    second = start_worker("--concurrency", "2", **env)
    wait_for(lambda: Execution.objects.filter(key="held").count() == 2, timeout=90,
             what="the second worker to rescue and rerun the job",
             describe=lambda: (describe_jobs([job]), second.output()[-2000:]))  # fmt: skip
    # Three leases' worth of heartbeats through PgBouncer keep the second run its own.
    wait_for(lambda: lease_renewed(job, 3, lease), timeout=90,
             what="the second worker's heartbeats to renew the lease",
             describe=lambda: describe_jobs([job]))  # fmt: skip
    release.touch()
    wait_for(lambda: done_count([job]) == 1, timeout=60, what="the rescued job to finish",
             describe=lambda: describe_jobs([job]))  # fmt: skip
    finished = Job.objects.get(id=job)
    assert (finished.attempts, finished.result) == (2, second.pid)
    assert Execution.objects.filter(key="held").count() == 2, "rescued once, never from the second"
    stop([second])


class Bystanders:
    """Clients of the same PgBouncer running short ``pg_sleep`` statements over and over.

    A cancel request that reached the wrong server connection would cancel one of theirs:
    ``errors`` collects whatever their statements raised.
    """

    def __init__(self, bouncer: PgBouncer, count: int) -> None:
        self.url = bouncer.url(dbname())
        self.errors: list[BaseException] = []
        self.statements = 0
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(count)]

    def __enter__(self) -> Bystanders:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def _run(self) -> None:
        with psycopg.connect(self.url, autocommit=True, cursor_factory=psycopg.ClientCursor) as c:
            while not self._stop.is_set():
                try:
                    c.execute("SELECT pg_sleep(0.2)")
                    self.statements += 1
                except psycopg.Error as exc:
                    self.errors.append(exc)


def test_a_timeout_behind_pgbouncer_cancels_its_own_statement_and_no_other_clients(
    pgbouncer: PgBouncer, start_worker: Callable[..., ManagedProcess]
):
    order = Order.objects.create(reference="locked by the test")
    with RowLockHolder(order.id) as holder, Bystanders(pgbouncer, 2) as bystanders:
        blocked = hostile_tasks.locks_order.enqueue(order.id).id  # timeout_seconds=2
        after = tasks.record.enqueue("after-the-lock").id
        worker = start_worker("--concurrency", "1", **pooled_env(pgbouncer, listen=False))
        wait_for(lambda: _blocked_by(holder.pid) > 0, timeout=90,
                 what="the job to wait on the test's row lock through PgBouncer",
                 describe=lambda: (describe_jobs([blocked]), worker.output()[-2000:]))  # fmt: skip
        wait_for(lambda: dead(blocked) is not None, timeout=60,
                 what="the blocked job to be failed at its timeout",
                 describe=lambda: (describe_jobs([blocked]), worker.output()[-2000:]))  # fmt: skip
        # Its statement was cancelled: nothing waits on the lock, though the test still holds it.
        wait_for(lambda: _blocked_by(holder.pid) == 0, timeout=30,
                 what="the job's lock wait to be cancelled through PgBouncer",
                 describe=lambda: worker.output()[-2000:])  # fmt: skip
        wait_for(lambda: done_count([after]) == 1, timeout=60,
                 what="the next job to run on the same worker while the lock is held")  # fmt: skip
        seen = bystanders.statements
        wait_for(lambda: bystanders.statements > seen + 2, what="bystanders to keep running")
    dead_job = dead(blocked)
    assert dead_job is not None and dead_job.exception_class.endswith("JobTimeoutError")
    assert bystanders.errors == [], "another client's statement was cancelled"
    out = worker.output()
    assert "could not cancel" not in out, out[-3000:]
    stop([worker])


def test_schedulers_behind_pgbouncer_fire_once_per_fire_time(
    pgbouncer: PgBouncer, start_command: Callable[..., ManagedProcess]
):
    env = {**pooled_env(pgbouncer, listen=False), **schedules_env(tick=EVERY_SECOND)}
    schedulers = [start_command("runscheduler", **env) for _ in range(3)]
    wait_for(lambda: fire_span() >= timedelta(seconds=10), timeout=120,
             what="10 seconds of fire times through PgBouncer",
             describe=lambda: [s.output()[-1500:] for s in schedulers])  # fmt: skip
    for scheduler in schedulers:
        scheduler.send_signal(signal.SIGTERM)
    for scheduler in schedulers:
        code, out = scheduler.finish(timeout=30)
        assert code == 0, out[-3000:]
    runs = list(ScheduleRun.objects.filter(schedule="tick").order_by("fire_at"))
    first = runs[0].fire_at
    assert [run.fire_at for run in runs] == [first + timedelta(seconds=n) for n in range(len(runs))]
    assert len({run.job_id for run in runs}) == len(runs)
    assert Job.objects.filter(task_path="tests.tasks.add").count() == len(runs)
