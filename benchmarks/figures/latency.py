"""Pickup latency: an idle worker, and an idle queue beside one draining at full speed."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

from benchmarks import marks
from benchmarks.peers.base import RESULTS, Adapter
from benchmarks.procs import stop, wait_for

from .common import LAUNCH, Row, Sizes, percentile, seed


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
