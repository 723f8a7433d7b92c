"""Rates: enqueue one per transaction (beside pgbench), bulk enqueue, drains, I/O-bound jobs."""

from __future__ import annotations

import re
import statistics
import subprocess
import time

from benchmarks.peers.base import RESULTS, Adapter, dsn, sql
from benchmarks.procs import BenchError

from .common import LAUNCH, Row, Sizes, drain


def drains(tools: list[Adapter], sizes: Sizes) -> list[Row]:
    rows = []
    for processes in (1, 2):
        rates: dict[str, list[tuple[float, float]]] = {t.key: [] for t in tools}
        for _ in range(sizes.rounds):  # interleaved, so a busy moment hits every tool
            for tool in tools:
                rates[tool.key].append(drain(tool, sizes.drain, processes))
        name = f"drain {sizes.drain:,} no-op jobs, {processes} process(es)"
        rows.append(
            Row(name, "jobs/s", {k: statistics.median(r[0] for r in v) for k, v in rates.items()})
        )
        rows.append(
            Row(
                "  same, wall time with process start",
                "jobs/s",
                {k: statistics.median(r[1] for r in v) for k, v in rates.items()},
            )
        )
    return rows


def enqueue_rates(tools: list[Adapter], sizes: Sizes) -> list[Row]:
    def one_per_transaction(tool: Adapter) -> float:
        tool.reset()
        for _ in range(20):  # warm up: imports, cached SQL, the connection
            tool.enqueue("noop")
        started = time.perf_counter()
        for _ in range(sizes.enqueue_one):
            tool.enqueue("noop")
        return sizes.enqueue_one / (time.perf_counter() - started)

    # pgbench takes its turn in each round, so that its commit rate and the tools' are taken at
    # the same moments of a busy machine.
    rates: dict[str, list[float]] = {t.key: [] for t in tools}
    commits: list[float] = []
    for _ in range(sizes.rounds):
        for tool in tools:
            rates[tool.key].append(one_per_transaction(tool))
        commits.append(pgbench_tps(sizes.pgbench_seconds))
    values: dict[str, float | None] = {k: statistics.median(v) for k, v in rates.items()}
    tps = statistics.median(commits)
    ours = values["django_jobs"] or 0.0
    return [
        Row(f"enqueue, one per transaction ({sizes.enqueue_one:,})", "jobs/s", values),
        Row("pgbench one-row INSERT, 1 client (commits/s)", "tx/s", {"pgbench": tps}, better=""),
        Row(
            "  django-jobs enqueue as % of pgbench",
            "%",
            {"django_jobs": ours / tps * 100},
            better="",
        ),
    ]


def pgbench_tps(seconds: int) -> float:
    """``pgbench -n -c 1 -T seconds`` over a one-row INSERT into a minimal queue table."""
    sql(
        "CREATE TABLE IF NOT EXISTS bench_pgbench_queue (id bigserial PRIMARY KEY, "
        "payload jsonb NOT NULL DEFAULT '{}', created_at timestamptz NOT NULL DEFAULT now())"
    )
    sql("TRUNCATE bench_pgbench_queue")
    script = RESULTS / "pgbench-insert.sql"
    RESULTS.mkdir(parents=True, exist_ok=True)
    script.write_text("INSERT INTO bench_pgbench_queue DEFAULT VALUES;\n")
    out = subprocess.run(
        ["pgbench", "-n", "-c", "1", "-T", str(seconds), "-f", str(script), dsn()],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = re.search(r"tps = ([\d.]+)", out)
    if not found:
        raise BenchError(f"pgbench printed no tps: {out}")
    return float(found.group(1))


def bulk_rates(tools: list[Adapter], sizes: Sizes) -> list[Row]:
    def bulk(tool: Adapter) -> float:
        tool.reset()
        tool.enqueue_bulk("noop", 100)  # warm up
        started = time.perf_counter()
        tool.enqueue_bulk("noop", sizes.enqueue_bulk)
        return sizes.enqueue_bulk / (time.perf_counter() - started)

    rates: dict[str, list[float]] = {t.key: [] for t in tools}
    for _ in range(sizes.rounds):
        for tool in tools:
            rates[tool.key].append(bulk(tool))
    name = f"bulk enqueue, chunks of 1,000 ({sizes.enqueue_bulk:,})"
    note = "django-tasks-db has no bulk API: one enqueue() per job, 1,000 per transaction"
    return [Row(name, "jobs/s", {k: statistics.median(v) for k, v in rates.items()}, note=note)]


def io_bound(tools: list[Adapter], sizes: Sizes) -> list[Row]:
    rows = []
    for kind, count, label in (
        ("sleep", sizes.io_jobs, "plain"),
        ("asleep", sizes.async_jobs, "async def"),
    ):
        concurrency = LAUNCH[kind]
        ideal = concurrency / 0.05
        values: dict[str, float | None] = {}
        for tool in tools:
            if (
                not tool.concurrent
                or (kind == "sleep" and not tool.blocking)
                or (kind == "asleep" and tool.key == "django_tasks_db")
            ):
                values[tool.key] = None
                continue
            values[tool.key] = drain(tool, count, 1, kind, concurrency)[0] / ideal * 100
        rows.append(
            Row(
                f"{count:,} {label} jobs sleeping 50 ms, concurrency {concurrency}, "
                f"% of {ideal:,.0f} jobs/s",
                "%",
                values,
            )
        )
    rows[-1].note = "django-jobs runs async def tasks with async_to_sync, one per thread"
    if event_loop_only := [t.label for t in tools if not t.blocking]:
        rows[0].note = f"{', '.join(event_loop_only)}: JavaScript on an event loop, no blocking job"
    return rows
