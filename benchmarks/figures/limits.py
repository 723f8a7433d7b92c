"""Drains under a per-key concurrency limit: django-jobs' limited claim against its plain one."""

from __future__ import annotations

import statistics

from benchmarks.peers.base import Adapter
from benchmarks.procs import BenchError

from .common import Row, Sizes, drain


def keyed_drains(tools: list[Adapter], sizes: Sizes) -> list[Row]:
    """Drain ``sizes.keyed`` no-op jobs spread over ``sizes.keys`` keys of limit 1, and as many
    plain ones, with burst workers; django-jobs only (no peer here limits per key the same way:
    Procrastinate's ``lock`` is the nearest, and is not measured)."""
    tool = next((t for t in tools if t.key == "django_jobs"), None)
    if tool is None:
        raise BenchError("the keyed drain needs the django_jobs adapter")
    rows = []
    for processes in (1, 2):
        keyed: list[float] = []
        plain: list[float] = []
        for _ in range(sizes.rounds):
            tool.reset()
            seed_keyed(sizes.keyed, sizes.keys)
            tool.analyze()
            keyed.append(drain(tool, sizes.keyed, processes, seeded=True)[0])
            plain.append(drain(tool, sizes.keyed, processes)[0])
        rows.append(
            Row(
                f"drain {sizes.keyed:,} no-op jobs over {sizes.keys} keys of limit 1, "
                f"{processes} process(es)",
                "jobs/s",
                {"django_jobs": statistics.median(keyed)},
                better="",
                extra={"plain_jobs_per_second": statistics.median(plain)},
            )
        )
        rows.append(
            Row(
                "  same jobs without a key",
                "jobs/s",
                {"django_jobs": statistics.median(plain)},
                better="",
            )
        )
    return rows


def seed_keyed(count: int, keys: int) -> None:
    """Enqueue ``count`` no-op jobs, ``count // keys`` per key (limit 1 each), in bulk."""
    from benchmarks.bench_tasks import JOBS
    from django_jobs import enqueue_many

    per_key = count // keys
    for key in range(keys):
        task = JOBS["noop"].using(concurrency_key=f"key-{key}", concurrency_limit=1)
        enqueue_many(task, [()] * per_key)
