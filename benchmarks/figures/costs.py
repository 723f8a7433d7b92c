"""Costs that should not grow: big tables, idle polling beside a backlog, memory over a drain."""

from __future__ import annotations

import statistics
import time
import uuid

from benchmarks import marks
from benchmarks.peers.base import RESULTS, Adapter, sql
from benchmarks.procs import BenchError, cpu_seconds, rss_mb, stop, wait_exit, wait_for

from .common import LAUNCH, Row, Sizes, drain, now, seed


def growth(tools: list[Adapter], sizes: Sizes) -> list[Row]:
    """1-process drain rates: empty tables, ``big`` finished jobs, ``big`` jobs queued ahead.

    Each is the median of ``sizes.rounds`` drains of ``growth_drain`` jobs. The big tables are
    seeded once per tool: the finished rows stay while each round enqueues and drains new jobs;
    the backlog loses only the jobs each round drains.
    """
    empty, finished, ahead = {}, {}, {}
    n, big, rounds = sizes.growth_drain, sizes.big, range(sizes.rounds)
    for tool in tools:
        empty[tool.key] = statistics.median(drain(tool, n, 1)[0] for _ in rounds)
        tool.reset()  # one finished job, copied big times; then n new ones per round
        seed(tool, 1)
        drain(tool, 1, 1, seeded=True)
        tool.duplicate(big - 1, finished=True)
        tool.analyze()
        rates = []
        for _ in rounds:
            tool.enqueue_bulk("noop", n)
            tool.analyze()
            rates.append(drain(tool, n, 1, seeded=True)[0])
        finished[tool.key] = statistics.median(rates)
        tool.reset()
        seed(tool, big)
        ahead[tool.key] = statistics.median(drain_ahead(tool, n) for _ in rounds)
    return [
        Row(f"drain {n:,}, 1 process, empty tables", "jobs/s", empty),
        Row(
            f"  same, {big:,} finished jobs in the tables",
            "% of empty",
            {k: finished[k] / empty[k] * 100 for k in empty},
        ),
        Row(
            f"  same, next {n:,} of {big:,} queued jobs",
            "% of empty",
            {k: ahead[k] / empty[k] * 100 for k in empty},
        ),
    ]


def drain_ahead(tool: Adapter, count: int) -> float:
    """Rate of the next ``count`` (or more) jobs of a backlog, by one worker (stopped then)."""
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
            f"{tool.label}'s next {count:,} jobs",
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
        pids = [proc.pid, *sorted(backends() - ours), *tool.server_pids()]
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
