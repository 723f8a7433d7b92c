"""What every tool's adapter provides, and the helpers they share (SQL, processes).

The harness (``compare.py``) knows only this interface; each tool is driven through its public
API (enqueue, bulk enqueue) and its worker command, never through worker internals. Tables are
read only for figures: how many jobs finished and the first start / last finish timestamps.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"
LOGS = RESULTS / "logs"
SETTINGS = "benchmarks.bench_settings"

# Job kinds every adapter can enqueue: a no-op; one that marks its start time (its key is the
# argument); one that sleeps 50 ms in a plain function; one that sleeps 50 ms as an async def.
KINDS = ("noop", "mark", "sleep", "asleep")


def dsn() -> str:
    """The benchmark database's URL (``DATABASE_URL``)."""
    return os.environ["DATABASE_URL"]


def sql(statement: str, params: list[object] | None = None) -> list[tuple[object, ...]]:
    """Run one statement on a fresh autocommit connection; return its rows (``[]`` if none)."""
    with psycopg.connect(dsn(), autocommit=True) as conn:
        cursor = conn.execute(statement, params)  # type: ignore[arg-type]
        return cursor.fetchall() if cursor.description else []


@dataclass(frozen=True)
class Span:
    """Finished jobs and the first start / last finish among them, by the tool's own rows."""

    done: int
    first: datetime | None
    last: datetime | None

    @property
    def seconds(self) -> float:
        if self.first is None or self.last is None:
            return 0.0
        return (self.last - self.first).total_seconds()


class Adapter:
    """One tool behind the harness's interface; subclasses fill in every method."""

    label = ""  # as printed
    key = ""  # as in latest.json
    dist = ""  # the distribution whose version is recorded
    concurrent = True  # runs many jobs at once in one process
    event_loop = False  # runs async def tasks on an event loop
    blocking = True  # runs blocking (synchronous) job code beside other jobs
    settings = ""  # the worker settings used, for the report

    def unavailable(self) -> str | None:
        """Why the tool cannot run on this machine (it is then left out), or ``None``."""
        return None

    def tables(self) -> list[str]:
        """The tool's tables, emptied and vacuumed before each measurement."""
        raise NotImplementedError

    def setup(self) -> None:
        """Create the tool's tables if they are missing."""

    def reset(self) -> None:
        """Empty the tool's tables and ``VACUUM ANALYZE`` them."""
        sql(f"TRUNCATE {', '.join(self.tables())} RESTART IDENTITY CASCADE")
        self.analyze()

    def analyze(self) -> None:
        """``VACUUM ANALYZE`` the tool's tables (as autovacuum would after a bulk load)."""
        with psycopg.connect(dsn(), autocommit=True) as conn:
            for table in self.tables():
                conn.execute(f"VACUUM ANALYZE {table}")

    def enqueue(self, kind: str, *, queue: str = "default", key: str = "") -> None:
        """Enqueue one job of ``kind`` in its own committed transaction, the normal way."""
        raise NotImplementedError

    def enqueue_bulk(self, kind: str, count: int, *, queue: str = "default") -> None:
        """Enqueue ``count`` jobs with the tool's bulk API, 1,000 per call."""
        raise NotImplementedError

    def duplicate(self, count: int, *, finished: bool) -> None:
        """Copy the one job in the tables ``count`` times with SQL (``generate_series``).

        The caller has enqueued (and, for ``finished``, run) exactly one job first, so the
        copies are rows the tool wrote itself; ``finished`` says which state that job is in.
        """
        raise NotImplementedError

    def worker(self, *, burst: bool, queues: list[str], concurrency: int) -> list[str]:
        """The command line of one worker process."""
        raise NotImplementedError

    def span(self, since: datetime) -> Span:
        """Jobs finished since ``since``, and the first start / last finish among them."""
        raise NotImplementedError

    def version(self) -> str:
        from importlib.metadata import version

        return version(self.dist)

    def server_pids(self) -> list[int]:
        """Processes besides the worker and its PostgreSQL backends that do its work (idle CPU)."""
        return []

    def start(
        self, *, burst: bool, queues: list[str], concurrency: int, log: str, marks: Path | None
    ) -> subprocess.Popen[bytes]:
        """Start one worker process; its output goes to ``results/logs/<log>.log``."""
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": SETTINGS, "PYTHONPATH": str(ROOT)}
        env["BENCH_QUEUES"] = ",".join(queues)
        if marks is not None:
            env["BENCH_MARKS"] = str(marks)
        LOGS.mkdir(parents=True, exist_ok=True)
        command = self.worker(burst=burst, queues=queues, concurrency=concurrency)
        with open(LOGS / f"{log}.log", "wb") as out:
            return subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
            )


def duplicate_rows(
    table: str, where: str, count: int, *, uuid_pk: bool = False, schema: str | None = None
) -> None:
    """Insert ``count`` copies of the rows of ``table`` matching ``where``, new primary keys.

    Every column is copied but the primary key ``id``, which takes its default (a sequence), or
    ``gen_random_uuid()`` when ``uuid_pk``. ``table`` is in ``schema`` (default: the current one)
    and is named with it, ``schema.table``, when given.
    """
    columns = [
        name
        for (name,) in sql(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
            "AND table_schema = coalesce(%s, current_schema()) ORDER BY ordinal_position",
            [table, schema],
        )
        if name != "id"
    ]
    if schema is not None:
        table = f"{schema}.{table}"
    names = ", ".join(f'"{c}"' for c in columns)
    pk_name, pk_value = ("id, ", "gen_random_uuid(), ") if uuid_pk else ("", "")
    sql(
        f"INSERT INTO {table} ({pk_name}{names}) SELECT {pk_value}{names} "
        f"FROM {table}, generate_series(1, %s) WHERE {where}",
        [count],
    )


def python() -> list[str]:
    """This interpreter, for worker command lines."""
    return [sys.executable]
