"""Sizes, the result row, and the steps every figure shares (seeding, draining)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from benchmarks.peers.base import Adapter
from benchmarks.procs import BenchError, wait_exit


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
    async_jobs: int = 10_000
    big: int = 1_000_000  # rows for the "cost that does not grow" figures
    growth_drain: int = 5_000
    idle_seconds: float = 30.0
    memory: int = 100_000
    keyed: int = 5_000  # jobs of the keyed drain, spread over `keys` keys of limit 1
    keys: int = 100


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
    keyed=1_000,
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


def percentile(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]
