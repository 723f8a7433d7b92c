"""Measure django-jobs and django-tasks-db side by side on the same PostgreSQL, in one run.

Usage (the database is created if missing and migrated; see benchmarks/README.md)::

    make bench                      # or: .venv/bin/python benchmarks/compare.py [--quick]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/other make bench BENCH_ARGS=--quick

For each measurement both tools run against the same database, their tables emptied and
vacuumed first, and a table is printed: the figure for each and the ratio (django-jobs divided by
django-tasks-db). Workers are real processes with each tool's defaults: ``runworker --burst``
(10 threads) and ``db_worker --batch``. The results also go to ``benchmarks/results/latest.json``
and the workers' logs to ``benchmarks/results/logs/``.

Measured: enqueue, one job per transaction; ``enqueue_many``; draining no-op jobs with one and
two worker processes (rate from the rows' own first start to last finish, and wall time including
process start); pickup latency of an idle worker (enqueue commit to task start) over 200 jobs
20 ms apart; a worker's resident memory after a tenth of and after all of a long drain.
``--quick`` drains 5,000 jobs and measures memory over 20,000 instead of 20,000 and 100,000.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
LOGS = RESULTS / "logs"
SETTINGS = "benchmarks.bench_settings"
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/django_jobs_compare"

sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS
os.environ.setdefault("DATABASE_URL", DEFAULT_URL)


@dataclass(frozen=True)
class Sizes:
    """How many jobs each measurement uses."""

    enqueue_one: int = 2_000
    enqueue_many: int = 20_000
    enqueue_rounds: int = 3
    drain: int = 20_000
    pickup: int = 200
    pickup_spacing_seconds: float = 0.020
    memory: int = 100_000

    @property
    def memory_checkpoint(self) -> int:
        return self.memory // 10


QUICK = Sizes(drain=5_000, memory=20_000)


@dataclass
class Row:
    """One line of the result table; ``None`` where a tool has no figure."""

    name: str
    unit: str
    django_jobs: float | None
    django_tasks_db: float | None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """django-jobs / django-tasks-db; none for growth in %, where it would mean nothing."""
        if self.django_jobs is None or not self.django_tasks_db or self.unit == "%":
            return None
        return self.django_jobs / self.django_tasks_db


class BenchError(RuntimeError):
    """A measurement could not finish (a worker failed, jobs were left undone)."""


# --- The two tools behind one interface ---------------------------------------------------------


class JobsSide:
    """django-jobs: ``@job`` tasks, ``Job`` rows, ``runworker``."""

    label = "django-jobs"
    key = "django_jobs"

    def __init__(self) -> None:
        from benchmarks import bench_tasks
        from django_jobs.models import Job, JobStatus

        self.model, self.done = Job, JobStatus.DONE
        self.tasks = {
            "noop": bench_tasks.jobs_noop,
            "now": bench_tasks.jobs_now,
            "rss": bench_tasks.jobs_rss,
        }

    def enqueue(self, kind: str) -> str:
        return str(self.tasks[kind].enqueue().id)

    def seed(self, kind: str, count: int) -> None:
        from django_jobs import enqueue_many

        enqueue_many(self.tasks[kind], [()] * count)

    def worker_args(self, *, burst: bool) -> list[str]:
        return ["runworker", "--burst"] if burst else ["runworker"]

    def results(self, ids: list[str]) -> dict[str, Any]:
        rows = self.model.objects.filter(id__in=[int(i) for i in ids], status=self.done)
        return {str(pk): value for pk, value in rows.values_list("id", "result")}

    def finished(self) -> Any:
        return self.model.objects.filter(status=self.done)


class TasksDbSide:
    """django-tasks-db: ``django.tasks`` ``@task`` tasks, ``DBTaskResult`` rows, ``db_worker``."""

    label = "django-tasks-db"
    key = "django_tasks_db"

    def __init__(self) -> None:
        from django.tasks import TaskResultStatus
        from django_tasks_db.models import DBTaskResult

        from benchmarks import bench_tasks

        self.model, self.done = DBTaskResult, TaskResultStatus.SUCCESSFUL
        self.tasks = {
            "noop": bench_tasks.tasks_noop,
            "now": bench_tasks.tasks_now,
            "rss": bench_tasks.tasks_rss,
        }

    def enqueue(self, kind: str) -> str:
        return str(self.tasks[kind].enqueue().id)

    def seed(self, kind: str, count: int) -> None:
        # django-tasks-db has no bulk enqueue: set-up writes the rows its enqueue() would write
        # (bulk_create sends no pre_save, so run_after gets the backend's "no delay" value here).
        from django.db import transaction
        from django_tasks_db.models import get_date_max

        task = self.tasks[kind]
        rows = (
            self.model(
                id=uuid.uuid4(),
                args_kwargs={"args": [], "kwargs": {}},
                priority=task.priority,
                task_path=task.module_path,
                queue_name=task.queue_name,
                run_after=get_date_max(),
                backend_name=task.backend,
            )
            for _ in range(count)
        )
        with transaction.atomic():
            self.model.objects.bulk_create(rows, batch_size=2_000)

    def worker_args(self, *, burst: bool) -> list[str]:
        return ["db_worker", "--batch"] if burst else ["db_worker"]

    def results(self, ids: list[str]) -> dict[str, Any]:
        rows = self.model.objects.filter(id__in=ids, status=self.done)
        return {str(pk): value for pk, value in rows.values_list("id", "return_value")}

    def finished(self) -> Any:
        return self.model.objects.filter(status=self.done)


Side = JobsSide | TasksDbSide


# --- Database and processes ---------------------------------------------------------------------


def ensure_database() -> None:
    """Create the benchmark database if it does not exist yet."""
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    with psycopg.connect(
        host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"],
        password=db["PASSWORD"] or None, dbname="postgres", autocommit=True,
    ) as conn:  # fmt: skip
        exists = "SELECT 1 FROM pg_database WHERE datname = %s"
        if not conn.execute(exists, [db["NAME"]]).fetchone():
            conn.execute(f'CREATE DATABASE "{db["NAME"]}"')


def tables() -> list[str]:
    from django_tasks_db.models import DBTaskResult

    from django_jobs.models import DeadJob, Job

    return [Job._meta.db_table, DeadJob._meta.db_table, DBTaskResult._meta.db_table]


def reset() -> None:
    """Empty both tools' tables and vacuum them, so each measurement starts from the same state."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables())} RESTART IDENTITY")
    analyze()


def analyze() -> None:
    """VACUUM ANALYZE both tools' tables (as autovacuum would, after a bulk load)."""
    from django.db import connection

    with connection.cursor() as cursor:  # autocommit: VACUUM cannot run in a transaction
        for table in tables():
            cursor.execute(f"VACUUM ANALYZE {table}")


def start_worker(side: Side, *, burst: bool, log_name: str) -> subprocess.Popen[bytes]:
    """Start a worker process of ``side``; its output goes to a log file, not the terminal."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": SETTINGS, "PYTHONPATH": str(ROOT)}
    LOGS.mkdir(parents=True, exist_ok=True)
    with open(LOGS / f"{log_name}.log", "wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "django", *side.worker_args(burst=burst)],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip


def wait_exit(procs: list[subprocess.Popen[bytes]], timeout: float, what: str) -> None:
    """Wait for every process to exit 0 within ``timeout`` seconds; kill them and raise if not."""
    deadline = time.monotonic() + timeout
    try:
        for proc in procs:
            code = proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            if code != 0:
                raise BenchError(f"{what}: a worker exited with {code}; see {LOGS}")
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"{what}: workers still running after {timeout:.0f}s") from exc
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``condition`` every 20 ms until it holds; raise ``BenchError`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.02)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM an idle worker and wait for it to exit."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# --- Measurements -------------------------------------------------------------------------------


def enqueue_one_per_transaction(side: Side, count: int) -> float:
    """Enqueue ``count`` no-op jobs, each in its own transaction; return jobs per second."""
    from django.db import transaction

    reset()
    for _ in range(20):  # warm up: imports, cached SQL, the connection
        side.enqueue("noop")
    started = time.perf_counter()
    for _ in range(count):
        with transaction.atomic():
            side.enqueue("noop")
    return count / (time.perf_counter() - started)


def enqueue_many_rate(count: int) -> float:
    """Enqueue ``count`` no-op jobs with django-jobs' ``enqueue_many``; return jobs per second."""
    from benchmarks.bench_tasks import jobs_noop
    from django_jobs import enqueue_many

    reset()
    enqueue_many(jobs_noop, [()] * 100)  # warm up
    started = time.perf_counter()
    enqueue_many(jobs_noop, [()] * count)
    return count / (time.perf_counter() - started)


def drain(side: Side, count: int, processes: int) -> tuple[float, float]:
    """Drain ``count`` no-op jobs with ``processes`` burst workers.

    Returns (jobs/s from the first job's start to the last one's finish, by the rows' own
    timestamps; jobs/s over the wall time from starting the processes to their exit).
    """
    from django.db.models import Count, Max, Min

    reset()
    side.seed("noop", count)
    analyze()
    started = time.perf_counter()
    procs = [
        start_worker(side, burst=True, log_name=f"drain-{side.key}-{processes}p-{n}")
        for n in range(processes)
    ]
    wait_exit(procs, timeout=120 + count / 20, what=f"{side.label} drain")
    wall = time.perf_counter() - started
    span = side.finished().aggregate(
        n=Count("pk"), first=Min("started_at"), last=Max("finished_at")
    )
    if span["n"] != count:
        raise BenchError(f"{side.label} drain: {span['n']} of {count} jobs done; see {LOGS}")
    return count / (span["last"] - span["first"]).total_seconds(), count / wall


def pickup_latencies(side: Side, count: int, spacing: float) -> list[float]:
    """Enqueue ``count`` jobs ``spacing`` seconds apart to an idle worker; return latencies in ms.

    Latency: the task's own ``time.time()`` when it starts, minus ``time.time()`` right after the
    enqueue's transaction committed.
    """
    from django.db import transaction

    reset()
    proc = start_worker(side, burst=False, log_name=f"pickup-{side.key}")
    try:
        # One job run through first: the worker is up, warm and, once it is done, idle.
        warm = side.enqueue("now")
        wait_for(lambda: bool(side.results([warm])), 60, f"{side.label}'s first job")
        time.sleep(0.5)  # let it settle into its idle wait
        committed: dict[str, float] = {}
        started = time.perf_counter()
        for n in range(count):
            time.sleep(max(0.0, started + n * spacing - time.perf_counter()))
            with transaction.atomic():
                pk = side.enqueue("now")
            committed[pk] = time.time()
        ids = list(committed)
        wait_for(lambda: len(side.results(ids)) == count, 120, f"{side.label}'s {count} jobs")
        results = side.results(ids)
    finally:
        stop(proc)
    return [(results[pk] - committed[pk]) * 1000 for pk in ids]


def memory(side: Side, count: int, checkpoint: int) -> tuple[float, float]:
    """Drain ``count`` jobs with one burst worker; return its RSS in MB at ``checkpoint`` and end.

    The RSS-reporting jobs sit at positions ``checkpoint`` and ``count`` of the FIFO queue.
    """
    reset()
    side.seed("noop", checkpoint - 1)
    first = side.enqueue("rss")
    side.seed("noop", count - checkpoint - 1)
    last = side.enqueue("rss")
    analyze()
    proc = start_worker(side, burst=True, log_name=f"memory-{side.key}")
    wait_exit([proc], timeout=120 + count / 20, what=f"{side.label} memory drain")
    done = side.finished().count()
    if done != count:
        raise BenchError(f"{side.label} memory drain: {done} of {count} jobs done; see {LOGS}")
    rss = side.results([first, last])
    return rss[first] / 2**20, rss[last] / 2**20


def percentile(values: list[float], p: int) -> float:
    """Return the ``p``-th percentile of ``values`` (linear interpolation between samples)."""
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


# --- The run ------------------------------------------------------------------------------------


def run(sizes: Sizes) -> list[Row]:
    """Take every measurement for both tools; return the table's rows."""
    sides: list[Side] = [JobsSide(), TasksDbSide()]
    jobs, tasks_db = sides
    rows: list[Row] = []

    def add(name: str, unit: str, pair: tuple[float | None, float | None], note: str = "") -> None:
        rows.append(Row(name, unit, *pair, note=note))
        print(f"  {name}: {fmt(pair[0], unit)} vs {fmt(pair[1], unit)} {unit}", flush=True)

    print(f"Enqueue ({sizes.enqueue_rounds} rounds each, median)...", flush=True)
    one = {side.key: [] for side in sides}
    many = []
    for _ in range(sizes.enqueue_rounds):  # interleaved, so a busy moment hits both
        for side in sides:
            one[side.key].append(enqueue_one_per_transaction(side, sizes.enqueue_one))
        many.append(enqueue_many_rate(sizes.enqueue_many))
    one_per_tx = (statistics.median(one["django_jobs"]), statistics.median(one["django_tasks_db"]))
    add(f"enqueue, one per transaction ({sizes.enqueue_one:,})", "jobs/s", one_per_tx)
    add(
        f"enqueue_many ({sizes.enqueue_many:,})",
        "jobs/s",
        (statistics.median(many), one_per_tx[1]),
        note="django-tasks-db has no bulk enqueue: its figure is one job per transaction",
    )

    for processes in (1, 2):
        print(f"Drain {sizes.drain:,} no-op jobs, {processes} process(es)...", flush=True)
        jobs_rate = drain(jobs, sizes.drain, processes)
        tasks_rate = drain(tasks_db, sizes.drain, processes)
        name = f"drain {sizes.drain:,}, {processes} process(es)"
        add(name, "jobs/s", (jobs_rate[0], tasks_rate[0]))
        add("  same, wall time with process start", "jobs/s", (jobs_rate[1], tasks_rate[1]))

    spacing = sizes.pickup_spacing_seconds
    print(f"Pickup latency, {sizes.pickup} jobs {spacing * 1000:.0f} ms apart...", flush=True)
    latencies = [pickup_latencies(side, sizes.pickup, spacing) for side in sides]
    for p in (50, 95, 99):
        figures = (percentile(latencies[0], p), percentile(latencies[1], p))
        add(f"pickup latency p{p}", "ms", figures)

    n, k = sizes.memory, sizes.memory_checkpoint
    print(f"Worker memory over {n:,} jobs (one burst worker)...", flush=True)
    mem = [memory(s, n, k) for s in sides]
    add(f"worker RSS after {k:,} jobs", "MB", (mem[0][0], mem[1][0]))
    add(f"worker RSS after {n:,} jobs", "MB", (mem[0][1], mem[1][1]))
    growth = tuple((last / first - 1) * 100 for first, last in mem)
    add(f"RSS growth {k:,} -> {n:,} jobs", "%", growth)  # type: ignore[arg-type]
    return rows


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "jobs/s":
        return f"{value:,.0f}"
    return f"{value:,.1f}"


def environment() -> dict[str, Any]:
    """Return the versions and machine facts printed above the table."""
    from importlib.metadata import version

    import django
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg = cursor.fetchone()[0]
    return {
        "python": platform.python_version(),
        "django": django.get_version(),
        "postgresql": pg,
        "django_jobs": version("django-jobs"),
        "django_tasks_db": version("django-tasks-db"),
        "cores": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "machine": platform.platform(),
    }


# The goals django-jobs set itself (issue 3); reported, never asserted.
TARGETS: list[tuple[str, Callable[[list[Row]], bool]]] = [
    ("drain with 2 processes >= 10x django-tasks-db",
     lambda rows: _row(rows, ", 2 process").ratio >= 10),
    ("pickup p50 < 5 ms", lambda rows: _row(rows, "p50").django_jobs < 5),
    ("pickup p99 < 25 ms", lambda rows: _row(rows, "p99").django_jobs < 25),
    ("enqueue one per transaction no slower than django-tasks-db",
     lambda rows: _row(rows, "one per transaction").ratio >= 1),
    ("enqueue_many >= 20,000 jobs/s",
     lambda rows: _row(rows, "enqueue_many").django_jobs >= 20_000),
    ("worker RSS growth < 10%", lambda rows: _row(rows, "RSS growth").django_jobs < 10),
]  # fmt: skip


def _row(rows: list[Row], fragment: str) -> Any:
    return next(row for row in rows if fragment in row.name)


def report(env: dict[str, Any], rows: list[Row], sizes: Sizes, quick: bool) -> None:
    """Print the table and the targets; write them to ``results/latest.json``."""
    width = max(len(row.name) + len(row.unit) + 3 for row in rows)
    print()
    print(f"{'measurement':<{width}} {'django-jobs':>12} {'django-tasks-db':>16} {'ratio':>8}")
    notes: list[str] = []
    for row in rows:
        mark = ""
        if row.note:
            notes.append(row.note)
            mark = f" [{len(notes)}]"
        ratio = "-" if row.ratio is None else f"{row.ratio:,.{2 if row.ratio >= 0.1 else 4}f}x"
        print(f"{row.name + ' (' + row.unit + ')':<{width}} {fmt(row.django_jobs, row.unit):>12} "
              f"{fmt(row.django_tasks_db, row.unit):>16} {ratio:>8}{mark}")  # fmt: skip
    print("ratio = django-jobs / django-tasks-db (for ms and MB, lower is better).")
    print("Drain: jobs / (last finished_at - first started_at), from the rows' own timestamps.")
    for n, note in enumerate(notes, 1):
        print(f"[{n}] {note}")
    print("\nTargets (django-jobs):")
    checked = []
    for text, test in TARGETS:
        met = bool(test(rows))
        checked.append({"target": text, "met": met})
        print(f"  [{'x' if met else ' '}] {text}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    data = {
        "when": datetime.now().astimezone().isoformat(timespec="seconds"),
        "quick": quick,
        "sizes": asdict(sizes),
        "environment": env,
        "rows": [{**asdict(row), "ratio": row.ratio} for row in rows],
        "targets": checked,
    }
    (RESULTS / "latest.json").write_text(json.dumps(data, indent=2) + "\n")
    print(f"\nWritten to {(RESULTS / 'latest.json').relative_to(ROOT)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="5,000-job drains and a 20,000-job memory run"
    )
    options = parser.parse_args()
    sizes = QUICK if options.quick else Sizes()

    import django
    from django.core.management import call_command
    from django.db import connection

    django.setup()
    if connection.vendor != "postgresql":
        sys.exit("This benchmark needs PostgreSQL: set DATABASE_URL=postgres://...")
    ensure_database()
    call_command("migrate", verbosity=0)
    env = environment()
    print(f"Python {env['python']}, Django {env['django']}, PostgreSQL {env['postgresql']}, "
          f"{env['cores']} cores (load average {env['load_average'][0]})")  # fmt: skip
    print(f"django-jobs {env['django_jobs']}, django-tasks-db {env['django_tasks_db']}; "
          f"database {connection.settings_dict['NAME']}")  # fmt: skip
    try:
        rows = run(sizes)
    except BenchError as exc:
        sys.exit(f"Benchmark failed: {exc}")
    finally:
        reset()
    report(env, rows, sizes, options.quick)


if __name__ == "__main__":
    main()
