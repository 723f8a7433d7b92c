"""Drain the same plain no-op jobs with this tree and with an earlier revision, in one run.

Usage (PostgreSQL only; two databases are created if missing, migrated, and emptied at each
round, so do not point it at jobs you want to keep)::

    .venv/bin/python benchmarks/baseline.py --rev b611987
    .venv/bin/python benchmarks/baseline.py --rev main~3 --jobs 20000 --rounds 5 --processes 1,2

It answers "did this change slow the plain path down?": the revision ``--rev`` is extracted with
``git archive`` into ``benchmarks/results/baseline-<sha>/`` and both trees run from this
virtualenv, each against its own database (``<database>_base`` and ``<database>_head``, after
``DATABASE_URL``'s, default ``django_jobs_compare``) and each with its own code: its migrations,
its ``enqueue()``, its ``runworker``. Each round seeds ``--jobs`` jobs of the no-op task on both
sides (one enqueued through the tree's own API, then copied with ``INSERT ... SELECT``, then
``VACUUM ANALYZE``), and drains them with ``--processes`` workers at their defaults
(``runworker --burst``); the two trees take turns, so a busy moment hits both. The rate is the
finished jobs over first start to last finish, from the rows; the worker CPU is the user +
system time of the worker processes (``getrusage`` of the children) per job, their start
(imports, migrations check) included.

It prints one row per process count: the medians of both trees, their ratio and the spread
(min..max) of each, so a difference smaller than the spread is noise.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import statistics
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SETTINGS = "benchmarks.bench_settings"
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/django_jobs_compare"

SEED = (
    "import django; django.setup(); "
    "from benchmarks.bench_tasks import jobs_noop; jobs_noop.enqueue()"
)


@dataclass(frozen=True)
class Tree:
    """One side of the comparison: a source tree and the database it runs against."""

    label: str
    root: Path
    url: str

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": SETTINGS,
            # Ahead of the virtualenv's editable install: this tree's django_jobs is imported.
            "PYTHONPATH": str(self.root),
            "DATABASE_URL": self.url,
        }

    def run(self, *args: str) -> None:
        subprocess.run([sys.executable, *args], cwd=self.root, env=self.env(), check=True)

    def sql(self, statement: str, params: list[object] | None = None) -> list[tuple[object, ...]]:
        with psycopg.connect(self.url, autocommit=True) as conn:
            cursor = conn.execute(statement, params)  # type: ignore[arg-type]
            return cursor.fetchall() if cursor.description else []


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def extract(rev: str) -> Path:
    """Extract ``rev``'s tree (once per commit) and return where it is."""
    sha = subprocess.run(
        ["git", "rev-parse", "--verify", f"{rev}^{{commit}}"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    target = RESULTS / f"baseline-{sha[:12]}"
    if not (target / "django_jobs").is_dir():
        archive = subprocess.run(
            ["git", "archive", "--format=tar", sha], cwd=ROOT, capture_output=True, check=True
        ).stdout
        target.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(target, filter="data")
    return target


def prepare(tree: Tree) -> None:
    """Create the tree's database if missing and migrate it with the tree's own migrations."""
    name = urlsplit(tree.url).path.lstrip("/")
    server = with_database(tree.url, "postgres")
    with psycopg.connect(server, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    tree.run("-m", "django", "migrate", "--verbosity", "0")


def seed(tree: Tree, count: int) -> None:
    """Empty the job tables, enqueue one no-op job with the tree's API, copy it to ``count``."""
    tree.sql("TRUNCATE django_jobs_job, django_jobs_deadjob RESTART IDENTITY")
    tree.run("-c", SEED)
    columns = [
        name
        for (name,) in tree.sql(
            "SELECT column_name FROM information_schema.columns WHERE table_name = "
            "'django_jobs_job' AND table_schema = current_schema() ORDER BY ordinal_position"
        )
        if name != "id"
    ]
    names = ", ".join(f'"{c}"' for c in columns)
    tree.sql(
        f"INSERT INTO django_jobs_job ({names}) SELECT {names} FROM django_jobs_job, "
        "generate_series(1, %s)",
        [count - 1],
    )
    tree.sql("VACUUM ANALYZE django_jobs_job")


def drain(tree: Tree, count: int, processes: int) -> tuple[float, float]:
    """Drain the seeded jobs with ``processes`` burst workers; return (jobs/s, CPU µs per job)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    logs = RESULTS / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    procs = []
    for n in range(processes):
        command = [sys.executable, "-m", "django", "runworker", "--burst"]
        with open(logs / f"baseline-{tree.label}-{n}.log", "wb") as out:
            proc = subprocess.Popen(
                command, cwd=tree.root, env=tree.env(), stdout=out, stderr=subprocess.STDOUT
            )
        procs.append(proc)
    deadline = time.monotonic() + 600
    for proc in procs:
        code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        if code != 0:
            raise SystemExit(f"{tree.label}: a worker exited with {code}; see {logs}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    done, first, last = tree.sql(
        "SELECT count(*), min(started_at), max(finished_at) FROM django_jobs_job "
        "WHERE status = 'done'"
    )[0]
    if done != count:
        raise SystemExit(f"{tree.label}: {done} of {count} jobs done after the drain")
    seconds = (last - first).total_seconds()  # type: ignore[operator]
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return count / seconds, cpu / count * 1e6


def spread(values: list[float]) -> str:
    return f"{min(values):,.0f}..{max(values):,.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rev", required=True, help="the revision to compare with (git rev)")
    parser.add_argument("--jobs", type=int, default=20_000, help="jobs per drain (20,000)")
    parser.add_argument("--rounds", type=int, default=3, help="drains per tree and row (3)")
    parser.add_argument("--processes", default="1,2", help="worker counts, one row each (1,2)")
    options = parser.parse_args()
    url = os.environ.get("DATABASE_URL", DEFAULT_URL)
    database = urlsplit(url).path.lstrip("/")
    trees = [
        Tree(options.rev, extract(options.rev), with_database(url, f"{database}_base")),
        Tree("this tree", ROOT, with_database(url, f"{database}_head")),
    ]
    for tree in trees:
        prepare(tree)
    print(f"plain no-op drains of {options.jobs:,} jobs, medians of {options.rounds}, defaults")
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    header = f"{'processes':>9}  {'tree':<12} {'jobs/s':>8} {'min..max':>15} {'CPU us/job':>10}"
    print(header)
    for processes in (int(p) for p in options.processes.split(",")):
        rates: dict[str, list[float]] = {t.label: [] for t in trees}
        cpus: dict[str, list[float]] = {t.label: [] for t in trees}
        for _ in range(options.rounds):
            for tree in trees:  # turns, so a busy moment hits both trees
                seed(tree, options.jobs)
                rate, cpu = drain(tree, options.jobs, processes)
                rates[tree.label].append(rate)
                cpus[tree.label].append(cpu)
        for tree in trees:
            print(
                f"{processes:>9}  {tree.label:<12} {statistics.median(rates[tree.label]):>8,.0f} "
                f"{spread(rates[tree.label]):>15} {statistics.median(cpus[tree.label]):>10,.0f}"
            )
        base, head = (statistics.median(rates[t.label]) for t in trees)
        print(f"{processes:>9}  this tree / {options.rev}: {head / base:.2f}")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
