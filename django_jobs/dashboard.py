"""``collect()``: per-queue numbers for the admin dashboard, read through indexes only.

The job table grows with every finished job, so no query here counts it whole. Each number comes
from an index on a hot state, or from a bounded range:

- queued (and of those: ready now, waiting out a retry's backoff, scheduled for later), waiting on
  a retry, oldest ready: one pass over queued rows (the partial ready index); bounded by the
  backlog, not by history.
- running: the partial lease index.
- done and failed in the last hour: a range of the ``finished_at`` index, and per queue a range of
  the dead jobs' ``(queue, failed_at)`` index; bounded by an hour's throughput.
- dead: per queue, counted through the ``(queue, failed_at)`` index up to ``DEAD_COUNT_CAP`` and
  shown as "10,000+" beyond it; the dead-job list in the admin has the exact figure.
- the size of the whole job table, on PostgreSQL, is the planner's estimate (``pg_class``).
- paused: the small paused-queue table, read whole (one row per paused queue).
"""

from __future__ import annotations

import dataclasses
import time
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Count, Min, Q
from django.utils import timezone

from .conf import jobs_settings
from .models import DeadJob, Job, JobStatus, PausedQueue

DEAD_COUNT_CAP = 10_000
RECENT = timedelta(hours=1)


@dataclasses.dataclass(slots=True)
class QueueStats:
    """One queue's row on the dashboard. Counts are jobs; ``oldest_ready_at`` may be None.

    ``queued`` is ``ready`` (``run_at`` has come) + ``retry_waiting`` (``run_at`` to come, an
    attempt made) + ``scheduled`` (``run_at`` to come, no attempt yet); ``retrying`` counts the
    queued jobs with an attempt made, ready or not.
    """

    queue: str
    queued: int = 0
    retrying: int = 0
    ready: int = 0
    retry_waiting: int = 0
    scheduled: int = 0
    running: int = 0
    dead: int = 0
    dead_capped: bool = False
    oldest_ready_at: datetime | None = None
    done_last_hour: int = 0
    failed_last_hour: int = 0
    cancelled_last_hour: int = 0
    paused_at: datetime | None = None
    paused_by: str = ""

    @property
    def paused(self) -> bool:
        """Whether workers are kept from claiming this queue's jobs (``pause_queue``)."""
        return self.paused_at is not None

    def oldest_ready_age_seconds(self, now: datetime) -> float | None:
        """Seconds the oldest ready job has waited past its ``run_at``, or None when none is."""
        if self.oldest_ready_at is None:
            return None
        return max(0.0, (now - self.oldest_ready_at).total_seconds())


@dataclasses.dataclass(slots=True)
class Dashboard:
    """What one dashboard load shows: a row per queue, sorted by name, and when it was read."""

    queues: list[QueueStats]
    collected_at: datetime
    took_ms: float
    job_rows_estimate: int | None

    @property
    def totals(self) -> QueueStats:
        """A row summing every queue; the oldest ready time is the oldest of all."""
        total = QueueStats(queue="all")
        for row in self.queues:
            for field in ("queued", "retrying", "ready", "retry_waiting", "scheduled", "running",
                          "dead", "done_last_hour", "failed_last_hour",
                          "cancelled_last_hour"):  # fmt: skip
                setattr(total, field, getattr(total, field) + getattr(row, field))
            total.dead_capped |= row.dead_capped
            if row.oldest_ready_at and (
                total.oldest_ready_at is None or row.oldest_ready_at < total.oldest_ready_at
            ):
                total.oldest_ready_at = row.oldest_ready_at
        return total


def collect(now: datetime | None = None) -> Dashboard:
    """Read every queue's numbers in a handful of indexed queries; return a ``Dashboard``.

    Queues listed are those in ``DJANGO_JOBS['QUEUES']`` (when set), the paused ones, and any
    queue with a live, recently finished or dead job. Reads only; runs no transaction of its
    own, so the numbers may be a few milliseconds apart from one another.
    """
    started = time.perf_counter()
    now = now or timezone.now()
    rows = _Rows()
    _read_recent(now, rows)
    _read_backlog(now, rows, recent=True)
    return Dashboard(
        queues=[rows[name] for name in sorted(rows)],
        collected_at=now,
        took_ms=(time.perf_counter() - started) * 1000,
        job_rows_estimate=row_estimate(Job),
    )


def backlog(now: datetime | None = None) -> list[QueueStats]:
    """Read each queue's live and dead figures only, sorted by queue name; for metrics scrapes.

    As ``collect`` without the last hour's counts (a range as long as an hour's throughput)
    and the table estimate: every query is bounded by the backlog, the
    running jobs or one queue's dead jobs (counted up to ``DEAD_COUNT_CAP``).
    """
    now = now or timezone.now()
    rows = _Rows()
    _read_backlog(now, rows, recent=False)
    return [rows[name] for name in sorted(rows)]


def _read_backlog(now: datetime, rows: _Rows, *, recent: bool) -> None:
    for queue in jobs_settings.QUEUES or ():
        rows[queue]
    for paused in PausedQueue.objects.all():
        stats = rows[paused.queue]
        stats.paused_at, stats.paused_by = paused.paused_at, paused.paused_by
    _read_live(now, rows)
    _read_dead(now, rows, set(queue_names(DeadJob)) | set(rows), recent=recent)


class _Rows(dict[str, QueueStats]):
    """Queue name -> its row, made on first mention."""

    def __missing__(self, queue: str) -> QueueStats:
        self[queue] = QueueStats(queue=queue)
        return self[queue]


def _read_live(now: datetime, rows: _Rows) -> None:
    queued = (
        Job.objects.filter(status=JobStatus.QUEUED)
        .order_by()
        .values("queue")
        .annotate(
            n=Count("id"),
            retrying=Count("id", filter=Q(attempts__gt=0)),
            ready=Count("id", filter=Q(run_at__lte=now)),
            retry_waiting=Count("id", filter=Q(run_at__gt=now, attempts__gt=0)),
            oldest_ready_at=Min("run_at", filter=Q(run_at__lte=now)),
        )
    )
    for item in queued:
        stats = rows[item["queue"]]
        stats.queued, stats.retrying = item["n"], item["retrying"]
        stats.ready, stats.retry_waiting = item["ready"], item["retry_waiting"]
        stats.scheduled = stats.queued - stats.ready - stats.retry_waiting
        stats.oldest_ready_at = item["oldest_ready_at"]
    running = (
        Job.objects.filter(status=JobStatus.RUNNING)
        .order_by()
        .values("queue")
        .annotate(n=Count("id"))
    )
    for entry in running:
        rows[entry["queue"]].running = entry["n"]


def _read_recent(now: datetime, rows: _Rows) -> None:
    finished = (
        Job.objects.filter(finished_at__gte=now - RECENT)
        .order_by()
        .values("queue", "status")
        .annotate(n=Count("id"))
    )
    for item in finished:
        stats = rows[item["queue"]]
        if item["status"] == JobStatus.DONE:
            stats.done_last_hour += item["n"]
        elif item["status"] == JobStatus.CANCELLED:
            stats.cancelled_last_hour += item["n"]


def _read_dead(now: datetime, rows: _Rows, queues: set[str], *, recent: bool) -> None:
    # One query per queue: each is a range of the (queue, failed_at) index, where a single
    # GROUP BY over all queues would have to read every dead job.
    for queue in sorted(queues):
        stats = rows[queue]
        in_queue = DeadJob.objects.filter(queue=queue).order_by()
        dead = in_queue[: DEAD_COUNT_CAP + 1].count()
        stats.dead, stats.dead_capped = min(dead, DEAD_COUNT_CAP), dead > DEAD_COUNT_CAP
        if recent:
            stats.failed_last_hour = in_queue.filter(failed_at__gte=now - RECENT).count()


def queue_names(model: type[Job] | type[DeadJob]) -> list[str]:
    """Return the sorted distinct queue names in ``model``'s table.

    On PostgreSQL it skips through the index that leads with ``queue`` (``(queue, status)`` for
    jobs, ``(queue, failed_at)`` for dead jobs): one probe per queue, however many rows.
    """
    if connection.vendor != "postgresql":
        return list(
            model._default_manager.order_by("queue").values_list("queue", flat=True).distinct()
        )
    table = connection.ops.quote_name(model._meta.db_table)
    # A loose index scan: one index probe per distinct queue instead of a read of every row.
    # The table name comes from the model, never from input.
    sql = f"""
        WITH RECURSIVE q(queue) AS (
            (SELECT queue FROM {table} ORDER BY queue LIMIT 1)
            UNION ALL
            SELECT (SELECT t.queue FROM {table} t WHERE t.queue > q.queue ORDER BY t.queue LIMIT 1)
            FROM q WHERE q.queue IS NOT NULL
        )
        SELECT queue FROM q WHERE queue IS NOT NULL ORDER BY queue
    """
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return [name for (name,) in cursor.fetchall()]


def row_estimate(model: type[Job] | type[DeadJob]) -> int | None:
    """Return PostgreSQL's estimate of the rows in ``model``'s table, or None elsewhere."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)",
            [model._meta.db_table],
        )
        found = cursor.fetchone()
    return int(found[0]) if found and found[0] is not None and found[0] >= 0 else None
