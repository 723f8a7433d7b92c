"""The chaos suite: real worker processes, real PostgreSQL, and the faults workers meet in life.

Each test prints a line with jobs enqueued, completed, run twice and lost, and fails if any job
is lost. Leases are 3 s and heartbeats 0.5 s here (tests/settings.py), so rescues come quickly.

The suite must hold on a busy machine (``make chaos`` runs it five times beside a CPU hog), so
its waits follow what the test does, never the clock's luck: a worker is waited for until it is
up (``wait_until_started``), a job meant to be killed mid-run waits on a file until the test has
killed its worker (``hostile_tasks.record_then_wait``), and a run of thousands of jobs fails when
completions stop coming (``Progress``), not when a fixed number of seconds has passed.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count

import django_jobs
from django_jobs.models import DeadJob, Job, JobStatus
from tests import hostile_tasks, tasks
from tests.conftest import Progress, wait_for
from tests.models import Execution

# Serial: some of these restart the PostgreSQL server, which every other test is using.
pytestmark = [pytest.mark.postgres, pytest.mark.serial]

LEASE_SECONDS = settings.DJANGO_JOBS["LEASE_SECONDS"]
#: Scheduling delay allowed on top of what a step needs (a lease, a rescue, a short job) when two
#: cores are shared with a CPU hog and other tests. Only a step that never happens uses it all.
SLACK_SECONDS = 30.0


def enqueue_records(prefix: str, count: int) -> list[str]:
    keys = [f"{prefix}-{i}" for i in range(count)]
    django_jobs.enqueue_many(tasks.record, [(key,) for key in keys])
    return keys


def all_done(count: int) -> bool:
    return done_count() == count


def done_count() -> int:
    return Job.objects.filter(status=JobStatus.DONE).count()


def job_states() -> dict[str, int]:
    """Return how many jobs are in each state, and how many are dead: for failure messages."""
    states = dict(Job.objects.values_list("status").annotate(n=Count("id")))
    return {**states, "dead": DeadJob.objects.count()}


def report(
    name: str,
    keys: list[str],
    killed_pids: set[int] = frozenset(),
    *,
    server_crashed: bool = False,
    **extra: object,
) -> dict[str, int]:
    """Print and return the suite's figures; fail on a lost job or an unexplained double run.

    ``extra`` figures (kills made, seconds taken) are printed with them. After a crash of the
    database server (``server_crashed``) a job may run twice though no worker was killed: its
    completion committed without waiting for the WAL flush and was rolled back by recovery.
    """
    runs = dict(Execution.objects.filter(key__in=keys).values_list("key").annotate(n=Count("id")))
    done = Job.objects.filter(status=JobStatus.DONE).count()
    twice = [k for k, n in runs.items() if n > 1]
    lost = [k for k in keys if k not in runs]
    figures = {"enqueued": len(keys), "completed": done, "run_twice": len(twice), "lost": len(lost)}
    print(f"\nchaos {name}: {figures | extra}")
    assert not lost, f"lost jobs: {lost[:10]}"
    assert not DeadJob.objects.exists(), list(DeadJob.objects.values_list("message", flat=True))
    for key in [] if server_crashed else twice:
        first = Execution.objects.filter(key=key).order_by("id").first()
        assert first is not None and first.worker_pid in killed_pids, (
            f"{key} ran twice though its first worker ({first and first.worker_pid}) was not killed"
        )
    return figures


def test_sigkilled_worker_job_is_rescued_and_completed_within_a_lease(start_worker, tmp_path):
    # The job runs until the test says so: it is certainly running when its worker is killed.
    release = tmp_path / "release"
    job = hostile_tasks.record_then_wait.enqueue("victim", str(release))
    victim = start_worker()
    victim.wait_until_started()
    wait_for(
        lambda: Execution.objects.filter(key="victim").exists(),
        timeout=SLACK_SECONDS,
        what="the job to start",
    )
    victim.proc.kill()
    victim.proc.wait(10)
    release.touch()
    rescuer = start_worker()
    rescuer.wait_until_started()
    wait_for(
        lambda: Job.objects.filter(id=job.id, status=JobStatus.DONE).exists(),
        timeout=LEASE_SECONDS + SLACK_SECONDS,
        what="the job to be rescued and done once its lease expired",
        describe=job_states,
    )
    job.refresh_from_db()
    assert job.result == rescuer.pid and job.attempts == 2
    assert job.errors[0]["exception_class"].endswith("WorkerLostError")
    report("sigkill", ["victim"], killed_pids={victim.pid})


class Fleet:
    """Worker processes started and killed by a chaos test, with when each one came up.

    A worker counts as up once it printed its start line: from then on it claims jobs. Killing
    one before that tests nothing (it holds no job), and on a loaded machine a start takes
    longer than the old one-kill-a-second rotation left each worker (3.3 s against 3 s), so that
    rotation ended up killing only workers that never ran a job. ``kill_one`` therefore kills
    the worker that has been up longest, once it has been up ``min_up_seconds``.
    """

    def __init__(self, start_worker, size: int, *args: str) -> None:
        self.start_worker, self.args = start_worker, args
        self.worker_ids: dict[int, str] = {}
        self.began: dict[int, float] = {}
        self.workers = [self._start() for _ in range(size)]
        self.up_at: dict[int, float] = {}
        self.killed: set[int] = set()
        self.start_seconds: list[float] = []
        self.stranded = 0  # jobs the killed workers held (claimed, running or prefetched)

    def _start(self):
        worker_id = f"chaos-{len(self.worker_ids)}"
        worker = self.start_worker(*self.args, "--worker-id", worker_id)
        self.worker_ids[worker.pid], self.began[worker.pid] = worker_id, time.monotonic()
        return worker

    def note_starts(self) -> None:
        for worker in self.workers:
            if worker.pid not in self.up_at and " started: " in worker.output():
                self.up_at[worker.pid] = time.monotonic()
                self.start_seconds.append(self.up_at[worker.pid] - self.began[worker.pid])

    def kill_one(self, min_up_seconds: float) -> bool:
        """SIGKILL the longest-up worker if up ``min_up_seconds``, start its replacement."""
        self.note_starts()
        now = time.monotonic()
        ready = [w for w in self.workers if now - self.up_at.get(w.pid, now) >= min_up_seconds]
        if not ready:
            return False
        victim = min(ready, key=lambda w: self.up_at[w.pid])
        victim.proc.kill()
        victim.proc.wait(10)
        self.killed.add(victim.pid)
        held = Job.objects.filter(worker_id=self.worker_ids[victim.pid], status=JobStatus.RUNNING)
        self.stranded += held.count()
        self.workers[self.workers.index(victim)] = self._start()
        return True

    def stop(self) -> None:
        """SIGTERM every worker once it is up; each must exit 0."""
        for worker in self.workers:
            worker.wait_until_started()
            worker.send_signal(signal.SIGTERM)
            assert worker.finish(timeout=30)[0] == 0


def test_three_workers_one_killed_and_restarted_every_second(start_worker):
    keys = enqueue_records("k", 5000)
    fleet = Fleet(start_worker, 3, "--concurrency", "4")
    progress = Progress(
        done_count, what="5000 jobs done while workers are killed", describe=job_states
    )
    kills, began, next_kill_at = 0, time.monotonic(), time.monotonic() + 1.0
    while not progress.reached(5000):
        time.sleep(0.05)
        # The fault's own rhythm: a kill a second, as the issue asks, each of a worker that
        # has been up for a second (and so holds jobs); when none has, the kill waits for one.
        if time.monotonic() >= next_kill_at and fleet.kill_one(min_up_seconds=1.0):
            kills += 1
            next_kill_at = time.monotonic() + 1.0
    figures = report(
        "kill-restart",
        keys,
        killed_pids=fleet.killed,
        kills=kills,
        stranded=fleet.stranded,
        seconds=round(time.monotonic() - began),
        start_seconds_max=round(max(fleet.start_seconds, default=0.0), 1),
    )
    assert figures["completed"] == 5000
    assert fleet.stranded > 0, "no kill hit a worker holding jobs: the test proved nothing"
    fleet.stop()


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _terminate_backends(stop: threading.Event, counter: list[int], spare: int) -> None:
    """Terminate every backend on the test database but this thread's and ``spare``."""
    try:
        while not stop.is_set():
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid NOT IN (pg_backend_pid(), %s)",
                    [spare],
                )
                counter[0] += cursor.fetchone()[0]
            stop.wait(0.5)
    finally:
        connection.close()


def test_connections_terminated_repeatedly_during_a_run(start_worker):
    keys = enqueue_records("t", 3000)
    workers = [start_worker("--concurrency", "4") for _ in range(2)]
    for worker in workers:
        worker.wait_until_started()
    stop, terminated = threading.Event(), [0]
    killer = threading.Thread(target=_terminate_backends, args=(stop, terminated, _backend_pid()))
    killer.start()
    try:
        Progress(done_count, what="all jobs done despite terminations", describe=job_states).wait(
            3000
        )
    finally:
        stop.set()
        killer.join(10)
    assert terminated[0] > 0
    print(f"\nterminated {terminated[0]} backends")
    assert all(w.poll() is None for w in workers), "a worker exited"
    report("pg_terminate_backend", keys)


def _cluster() -> tuple[str, str] | None:
    if (
        os.geteuid() != 0
        or not shutil.which("pg_ctlcluster")
        or not os.path.isdir("/etc/postgresql")
    ):
        return None
    versions = sorted(os.listdir("/etc/postgresql"))
    return (versions[-1], "main") if versions else None


def _restart_postgresql_during_a_run(start_worker, mode: str, prefix: str) -> tuple[list, list]:
    """Two workers draining 3,000 jobs; PostgreSQL restarted with ``pg_ctlcluster -m mode``
    once 300 are done. Return the keys and the workers once all are done and none exited."""
    cluster = _cluster()
    if cluster is None:
        pytest.skip("cannot restart PostgreSQL here (needs root and pg_ctlcluster)")
    keys = enqueue_records(prefix, 3000)
    workers = [start_worker("--concurrency", "4") for _ in range(2)]
    for worker in workers:
        worker.wait_until_started()
    Progress(done_count, what="300 jobs done before the restart", describe=job_states).wait(301)
    connection.close()
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", *cluster, "restart", "-m", mode],
        check=True,
    )
    Progress(done_count, what="all jobs done after the restart", describe=job_states).wait(3000)
    assert all(w.poll() is None for w in workers), "a worker exited"
    return keys, workers


def test_postgresql_restarted_during_a_run(start_worker):
    keys, workers = _restart_postgresql_during_a_run(start_worker, "fast", "r")
    outputs = "".join(w.output() for w in workers)
    assert "database" in outputs.lower()  # the outage was logged
    report("postgres-restart", keys)


def test_postgresql_crashed_during_a_run_loses_nothing(start_worker):
    # An immediate shutdown is a crash: no checkpoint, recovery from WAL, and the worker's
    # commits that had not been flushed (ASYNC_COMMIT) rolled back. Nothing may be lost; a job
    # whose completion was rolled back runs again.
    keys, _ = _restart_postgresql_during_a_run(start_worker, "immediate", "c")
    report("postgres-crash", keys, server_crashed=True)


def test_sigterm_while_jobs_run_drains_within_the_grace_period(start_worker, tmp_path):
    # The 4 jobs run until released, so they are certainly running when SIGTERM comes, however
    # slowly the test sees them start.
    release = tmp_path / "release"
    for i in range(4):
        hostile_tasks.record_then_wait.enqueue(f"drain-{i}", str(release))
    waiting = enqueue_records("w", 20)
    worker = start_worker("--concurrency", "4", "--prefetch", "4")
    worker.wait_until_started()
    wait_for(
        lambda: Execution.objects.filter(key__startswith="drain").count() == 4,
        timeout=SLACK_SECONDS,
        what="the 4 jobs to start",
    )
    started = time.monotonic()
    worker.send_signal(signal.SIGTERM)
    # Released once the worker acted on the signal and gave its prefetched jobs back: the
    # drain is then of these 4 jobs only. (Whether a prefetched job may start between the
    # signal and that release is tests/faults/test_shutdown.py's question.)
    wait_for(
        lambda: Job.objects.filter(status=JobStatus.QUEUED).count() == len(waiting),
        timeout=SLACK_SECONDS,
        what="the prefetched jobs to be given back",
        describe=job_states,
    )
    release.touch()
    code, out = worker.finish(timeout=30)
    assert code == 0, out[-2000:]
    assert time.monotonic() - started < 10  # SHUTDOWN_GRACE_SECONDS in tests/settings.py
    assert Job.objects.filter(status=JobStatus.DONE).count() == 4
    assert not Job.objects.filter(status=JobStatus.RUNNING).exists(), "a job was stranded"
    assert Job.objects.filter(status=JobStatus.QUEUED).count() == len(waiting)


def test_zombie_worker_resumed_after_losing_its_lease_changes_nothing(start_worker, tmp_path):
    # The job runs until released: it is certainly mid-run when its worker is stopped.
    release = tmp_path / "release"
    job = hostile_tasks.record_then_wait.enqueue("zombie", str(release))
    zombie = start_worker()
    zombie.wait_until_started()
    wait_for(
        lambda: Execution.objects.filter(key="zombie").exists(),
        timeout=SLACK_SECONDS,
        what="the job to start",
    )
    zombie.send_signal(signal.SIGSTOP)
    release.touch()
    try:
        rescuer = start_worker()
        rescuer.wait_until_started()
        wait_for(
            lambda: Job.objects.filter(id=job.id, status=JobStatus.DONE).exists(),
            timeout=LEASE_SECONDS + SLACK_SECONDS,
            what="the rescuer to run the job once the zombie's lease expired",
            describe=job_states,
        )
        job.refresh_from_db()
        assert job.result == rescuer.pid
        finished = (job.status, job.result, job.finished_at, job.attempts, job.errors)
    finally:
        zombie.send_signal(signal.SIGCONT)
    wait_for(
        lambda: "lease lost" in zombie.output(),
        timeout=SLACK_SECONDS,
        what="the zombie's late write",
    )
    job.refresh_from_db()
    assert (job.status, job.result, job.finished_at, job.attempts, job.errors) == finished
    with transaction.atomic():
        assert Job.objects.select_for_update().get(id=job.id).result == rescuer.pid
    report("zombie", ["zombie"], killed_pids={zombie.pid})
