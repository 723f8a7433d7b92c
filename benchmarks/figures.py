"""The measurements of ``compare.py``: each figure runs the same steps for every adapter.

A figure is a function ``(tools, sizes) -> list[Row]``; ``FIGURES`` names them for ``--only``.
Before each measurement every tool's tables are emptied and vacuumed; rates of drains come from
the tools' own rows (first start to last finish), as each adapter's ``span`` reads them.
"""

from __future__ import annotations

import re
import statistics
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import marks
from benchmarks.peers.base import RESULTS, Adapter, dsn, sql
from benchmarks.procs import BenchError, cpu_seconds, rss_mb, stop, wait_exit, wait_for


@dataclass(frozen=True)
class Sizes:
    """How many jobs each measurement uses (``QUICK`` for ``--quick``)."""

    rounds: int = 3  # medians of 3 for drains and enqueue rates
    drain: int = 20_000
    enqueue_one: int = 2_000
    enqueue_bulk: int = 20_000
    pgbench_seconds: int = 10
    pickup: int = 200
    pickup_spacing: float = 0.020
    busy_backlog: int = 100_000
    io_jobs: int = 5_000
    async_jobs: int = 20_000
    big: int = 1_000_000  # rows for the "cost that does not grow" figures
    growth_drain: int = 20_000
    idle_seconds: float = 30.0
    memory: int = 100_000


QUICK = Sizes(
    drain=1_000,
    enqueue_one=300,
    enqueue_bulk=3_000,
    busy_backlog=20_000,
    io_jobs=1_000,
    async_jobs=3_000,
    big=100_000,
    growth_drain=1_000,
    idle_seconds=8.0,
    memory=5_000,
)


@dataclass
class Row:
    """One line of the table: a figure for each tool (``None`` where it does not apply)."""

    name: str
    unit: str
    values: dict[str, float | None]
    better: str = "higher"  # "higher", "lower" or "" (no ratio)
    note: str = ""
    extra: dict[str, object] = field(default_factory=dict)

    def best_peer(self) -> tuple[str, float] | None:
        """The best figure among the tools other than django-jobs, and whose it is."""
        peers = {k: v for k, v in self.values.items() if k != "django_jobs" and v is not None}
        if not peers or not self.better:
            return None
        pick = max if self.better == "higher" else min
        key = pick(peers, key=lambda k: peers[k] or 0.0)
        return key, peers[key] or 0.0

    def ratio(self, to: str | None = None) -> float | None:
        """django-jobs / the best peer's figure (or ``to``'s); ``None`` without both."""
        ours = self.values.get("django_jobs")
        if to is None:
            best = self.best_peer()
            theirs = best[1] if best else None
        else:
            theirs = self.values.get(to)
        if ours is None or not theirs or not self.better:
            return None
        return ours / theirs


Figure = Callable[[list[Adapter], Sizes], list[Row]]
LAUNCH = {"noop": 10, "mark": 10, "sleep": 100, "asleep": 500}


def now() -> datetime:
    return datetime.now(UTC)


def reset(tools: list[Adapter]) -> None:
    for tool in tools:
        tool.reset()


def seed(tool: Adapter, count: int, *, queue: str = "default", kind: str = "noop") -> None:
    """``count`` ready jobs: one enqueued through the tool's API, copied by SQL, analyzed."""
    tool.enqueue(kind, queue=queue)
    if count > 1:
        tool.duplicate(count - 1, finished=False)
    tool.analyze()


def drain(
    tool: Adapter,
    count: int,
    processes: int,
    kind: str = "noop",
    concurrency: int = 10,
    seeded: bool = False,
) -> tuple[float, float]:
    """Drain ``count`` jobs of ``kind`` with burst workers; return (rows' rate, wall rate)."""
    if not seeded:
        tool.reset()
        seed(tool, count, kind=kind)
    since = now()
    started = time.perf_counter()
    procs = [
        tool.start(
            burst=True,
            queues=["default"],
            concurrency=concurrency,
            log=f"drain-{tool.key}-{kind}-{processes}p-{n}",
            marks=None,
        )
        for n in range(processes)
    ]
    wait_exit(procs, timeout=120 + count / 10, what=f"{tool.label} drain")
    wall = time.perf_counter() - started
    span = tool.span(since)
    if span.done != count:
        raise BenchError(f"{tool.label} drain: {span.done} of {count} jobs done")
    return count / span.seconds, count / wall


def median_of(rounds: int, measure: Callable[[], float]) -> float:
    return statistics.median(measure() for _ in range(rounds))


# --- Figures ------------------------------------------------------------------------------------


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

    rates: dict[str, list[float]] = {t.key: [] for t in tools}
    for _ in range(sizes.rounds):
        for tool in tools:
            rates[tool.key].append(one_per_transaction(tool))
    values: dict[str, float | None] = {k: statistics.median(v) for k, v in rates.items()}
    tps = pgbench_tps(sizes.pgbench_seconds)
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


def pickup_latencies(tool: Adapter, sizes: Sizes, busy: bool = False) -> tuple[list[float], bool]:
    """Latencies (ms) of ``sizes.pickup`` jobs to an idle worker, and whether ``b`` kept busy.

    With ``busy``, the idle worker takes queue ``a`` while another drains a backlog on ``b``.
    """
    tool.reset()
    path = RESULTS / f"marks-{tool.key}.txt"
    path.unlink(missing_ok=True)
    queue = "a" if busy else "default"
    procs = []
    try:
        if busy:
            seed(tool, sizes.busy_backlog, queue="b")
            procs.append(
                tool.start(
                    burst=False,
                    queues=["b"],
                    concurrency=LAUNCH["noop"],
                    log=f"pickup-busy-b-{tool.key}",
                    marks=None,
                )
            )
        procs.append(
            tool.start(
                burst=False,
                queues=[queue],
                concurrency=LAUNCH["mark"],
                log=f"pickup-{queue}-{tool.key}",
                marks=path,
            )
        )
        tool.enqueue("mark", queue=queue, key="warm")  # the worker is up, warm and then idle
        wait_for(lambda: "warm" in marks.read(path), 90, f"{tool.label}'s first job")
        time.sleep(0.5)
        before: dict[str, float] = {}
        started = time.perf_counter()
        for n in range(sizes.pickup):
            time.sleep(max(0.0, started + n * sizes.pickup_spacing - time.perf_counter()))
            key = uuid.uuid4().hex
            before[key] = time.time()
            tool.enqueue("mark", queue=queue, key=key)
        wait_for(lambda: len(marks.read(path)) > sizes.pickup, 120, f"{tool.label}'s jobs")
        kept_busy = not busy or tool.span(datetime.min.replace(tzinfo=UTC)).done < (
            sizes.busy_backlog + sizes.pickup
        )
    finally:
        for proc in procs:
            stop(proc)
    seen = marks.read(path)
    return [(seen[k] - t) * 1000 for k, t in before.items()], kept_busy


def percentile(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def pickup(tools: list[Adapter], sizes: Sizes, busy: bool = False) -> list[Row]:
    found = {t.key: pickup_latencies(t, sizes, busy) for t in tools}
    what = "idle queue a while b drains" if busy else "idle worker"
    rows = [
        Row(
            f"pickup latency p{p}, {what}",
            "ms",
            {k: percentile(v[0], p) for k, v in found.items()},
            better="lower",
        )
        for p in (50, 99)
    ]
    idle = [t.label for t in tools if not found[t.key][1]]
    if idle:
        rows[0].note = f"queue b ran dry before the end for: {', '.join(idle)}"
    return rows


def pickup_busy(tools: list[Adapter], sizes: Sizes) -> list[Row]:
    return pickup(tools, sizes, busy=True)


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
            if not tool.concurrent or (kind == "asleep" and tool.key == "django_tasks_db"):
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
    return rows


def growth(tools: list[Adapter], sizes: Sizes) -> list[Row]:
    """1-process drain rates: empty tables, ``big`` finished jobs, ``big`` jobs queued ahead."""
    empty, finished, ahead = {}, {}, {}
    n, big = sizes.growth_drain, sizes.big
    for tool in tools:
        empty[tool.key] = drain(tool, n, 1)[0]
        tool.reset()  # one finished job, copied big times, then n new ones through the API
        seed(tool, 1)
        drain(tool, 1, 1, seeded=True)
        tool.duplicate(big - 1, finished=True)
        tool.enqueue_bulk("noop", n)
        tool.analyze()
        finished[tool.key] = drain(tool, n, 1, seeded=True)[0]
        ahead[tool.key] = drain_ahead(tool, n, big)
    return [
        Row(f"drain {n:,}, 1 process, empty tables", "jobs/s", empty),
        Row(
            f"  same, {big:,} finished jobs in the tables",
            "% of empty",
            {k: finished[k] / empty[k] * 100 for k in empty},
        ),
        Row(
            f"  same, first {n:,} of {big:,} queued jobs",
            "% of empty",
            {k: ahead[k] / empty[k] * 100 for k in empty},
        ),
    ]


def drain_ahead(tool: Adapter, count: int, big: int) -> float:
    """Rate of the first ``count`` jobs of a ``big`` backlog, by one worker (stopped then)."""
    tool.reset()
    seed(tool, big)
    since = now()
    proc = tool.start(
        burst=False,
        queues=["default"],
        concurrency=LAUNCH["noop"],
        log=f"ahead-{tool.key}",
        marks=None,
    )
    try:
        wait_for(
            lambda: tool.span(since).done >= count,
            120 + count / 10,
            f"{tool.label}'s first {count:,} jobs",
            every=0.5,
        )
    finally:
        stop(proc)
    span = tool.span(since)
    return span.done / span.seconds


def idle_poll(tools: list[Adapter], sizes: Sizes) -> list[Row]:
    """What an idle worker on queue a costs while b is empty, then while b holds ``big`` jobs.

    CPU: the worker process and its PostgreSQL backends (``/proc``), per second of idling, so
    polls that find nothing show whatever they cost. Then 20 jobs on a, 50 ms apart: their
    pickup latency, which includes one claim among b's backlog.
    """
    cpu: dict[int, dict[str, float | None]] = {0: {}, sizes.big: {}}
    latency: dict[int, dict[str, float | None]] = {0: {}, sizes.big: {}}
    for tool in tools:
        for backlog in (0, sizes.big):
            cpu[backlog][tool.key], latency[backlog][tool.key] = idle_cost(tool, sizes, backlog)
    big = f"{sizes.big:,} ready jobs on b"
    return [
        Row("idle worker on a, b empty: CPU (worker + its backends)", "ms/s", cpu[0], "lower"),
        Row(f"  same, {big}", "ms/s", cpu[sizes.big], "lower"),
        Row("  pickup p50 on a, b empty", "ms", latency[0], "lower"),
        Row(f"  pickup p50 on a, {big}", "ms", latency[sizes.big], "lower"),
    ]


def idle_cost(tool: Adapter, sizes: Sizes, backlog: int) -> tuple[float, float]:
    """(CPU ms per second of an idle worker on a, median pickup ms of 20 jobs on a)."""
    tool.reset()
    if backlog:
        seed(tool, backlog, queue="b")
    path = RESULTS / f"marks-idle-{tool.key}.txt"
    path.unlink(missing_ok=True)
    ours = backends()
    proc = tool.start(
        burst=False, queues=["a"], concurrency=LAUNCH["noop"], log=f"idle-{tool.key}", marks=path
    )
    try:
        tool.enqueue("mark", queue="a", key="warm")
        wait_for(lambda: "warm" in marks.read(path), 90, f"{tool.label}'s first job")
        time.sleep(2)
        pids = [proc.pid, *sorted(backends() - ours)]
        before, started = cpu_seconds(pids), time.perf_counter()
        time.sleep(sizes.idle_seconds)
        used = (cpu_seconds(pids) - before) / (time.perf_counter() - started) * 1000
        sent: dict[str, float] = {}
        for _ in range(20):
            key = uuid.uuid4().hex
            sent[key] = time.time()
            tool.enqueue("mark", queue="a", key=key)
            time.sleep(0.05)
        wait_for(lambda: len(marks.read(path)) > 20, 60, f"{tool.label}'s jobs on a")
    finally:
        stop(proc)
    seen = marks.read(path)
    return used, statistics.median((seen[k] - t) * 1000 for k, t in sent.items())


def backends() -> set[int]:
    """Process ids of the client backends connected to the benchmark database."""
    rows = sql(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND backend_type = 'client backend'"
    )
    return {int(pid) for (pid,) in rows}  # type: ignore[call-overload]


def memory(tools: list[Adapter], sizes: Sizes) -> list[Row]:
    """RSS of one burst worker over a long drain, read from outside at checkpoints.

    Every 0.25 s the harness reads the worker's ``VmRSS`` and how many jobs are done; the
    checkpoints are the first reading with a tenth of the jobs done and the last reading.
    """
    at_tenth, at_end, peak = {}, {}, {}
    for tool in tools:
        tool.reset()
        seed(tool, sizes.memory)
        since = now()
        proc = tool.start(
            burst=True,
            queues=["default"],
            concurrency=LAUNCH["noop"],
            log=f"memory-{tool.key}",
            marks=None,
        )
        samples: list[tuple[int, float]] = []
        while proc.poll() is None:
            done, rss = tool.span(since).done, rss_mb(proc.pid)
            if rss:
                samples.append((done, rss))
            time.sleep(0.05)
        wait_exit([proc], 10, f"{tool.label} memory drain")
        if not samples:
            raise BenchError(f"{tool.label} memory drain: over before its memory was read")
        # A drain too fast to read after its first tenth gives its last reading for both.
        tenth = [rss for done, rss in samples if done >= sizes.memory / 10] or [samples[-1][1]]
        at_tenth[tool.key], at_end[tool.key], peak[tool.key] = tenth[0], tenth[-1], max(tenth)
    return [
        Row(f"worker RSS, a tenth into a {sizes.memory:,}-job drain", "MB", at_tenth, "lower"),
        Row("  at the end of the drain", "MB", at_end, "lower"),
        Row("  peak after the first tenth", "MB", peak, "lower"),
        Row(
            "  growth, a tenth -> end",
            "%",
            {k: (at_end[k] / at_tenth[k] - 1) * 100 for k in at_end},
            better="",
        ),
    ]


FIGURES: dict[str, Figure] = {
    "enqueue": enqueue_rates,
    "bulk": bulk_rates,
    "drain": drains,
    "pickup": pickup,
    "pickup-busy": pickup_busy,
    "io": io_bound,
    "growth": growth,
    "idle-poll": idle_poll,
    "memory": memory,
}

__all__ = ["FIGURES", "QUICK", "Path", "Row", "Sizes"]
