"""Per-minute rollups: workers add their counts (``add``), the dashboard reads the last hour
(``last_hour``), the pruner deletes old minutes (``prune_rollups``).

A ``MinuteRollup`` row is one queue's minute, summed over every worker. Workers keep counts in
memory (``django_jobs.worker.rollup``) and add them here every few seconds with one upsert,
so the charts cost the job table nothing: reading an hour of a queue is 60 small rows, however
many jobs there are.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from . import latency
from .models import MinuteRollup

#: How long rollups are kept: ``prune_rollups`` is given ``now - KEEP`` by the retention pruner.
KEEP = timedelta(days=7)
#: Seconds between a worker's writes of its counts (``django_jobs.worker.rollup``).
FLUSH_SECONDS = 10.0
#: Minutes the dashboard's charts show, ending with the current one.
CHART_MINUTES = 60
#: Rows per INSERT statement: far under SQLite's limit of bound parameters.
BATCH_ROWS = 200


@dataclasses.dataclass(slots=True)
class Counts:
    """What one worker saw of one queue in one minute, not yet written.

    ``pickup_buckets`` is a histogram on ``latency.BOUNDS`` (``latency.SIZE`` counts).
    """

    done: int = 0
    failed: int = 0
    duration_seconds_sum: float = 0.0
    pickup_buckets: list[int] = dataclasses.field(default_factory=latency.empty)

    def absorb(self, other: Counts) -> None:
        """Add ``other``'s counts to these."""
        self.done += other.done
        self.failed += other.failed
        self.duration_seconds_sum += other.duration_seconds_sum
        self.pickup_buckets = latency.merge([self.pickup_buckets, other.pickup_buckets])


def minute_of(moment: datetime) -> datetime:
    """Return the aware UTC minute that holds the aware datetime ``moment``.

    >>> from datetime import datetime, UTC
    >>> minute_of(datetime(2026, 1, 2, 3, 4, 59, 999, tzinfo=UTC)).isoformat()
    '2026-01-02T03:04:00+00:00'
    """
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


def add(rows: dict[tuple[str, datetime], Counts]) -> None:
    """Add ``rows`` ({(queue, UTC minute): Counts}) to the ``MinuteRollup`` table.

    One ``INSERT ... ON CONFLICT (queue, minute) DO UPDATE`` adds each row's counts to the
    stored ones (histograms element-wise), on PostgreSQL and SQLite alike, so workers flushing
    the same minute at the same moment lose nothing. All rows go in one transaction: on an
    error nothing was added and the caller may add the same rows again. Rows are written in
    (queue, minute) order, so two workers lock shared rows in the same order and cannot
    deadlock. Raises the database's error (``OperationalError`` when it is unreachable).
    """
    ordered = sorted(rows.items())
    if not ordered:
        return
    with transaction.atomic():
        for start in range(0, len(ordered), BATCH_ROWS):
            _upsert(ordered[start : start + BATCH_ROWS])


def _upsert(rows: Sequence[tuple[tuple[str, datetime], Counts]]) -> None:
    table = connection.ops.quote_name(MinuteRollup._meta.db_table)
    jsonb = "::jsonb" if connection.vendor == "postgresql" else ""
    values = ", ".join([f"(%s, %s, %s, %s, %s, %s{jsonb})"] * len(rows))
    params: list[Any] = []
    for (queue, minute), counts in rows:
        params += [
            queue,
            connection.ops.adapt_datetimefield_value(minute),
            counts.done,
            counts.failed,
            counts.duration_seconds_sum,
            json.dumps(counts.pickup_buckets),
        ]
    # The table name comes from the model, never from input.
    sql = (
        f"INSERT INTO {table} (queue, minute, done, failed, duration_seconds_sum, pickup_buckets) "
        f"VALUES {values} ON CONFLICT (queue, minute) DO UPDATE SET "
        f"done = {table}.done + excluded.done, "
        f"failed = {table}.failed + excluded.failed, "
        f"duration_seconds_sum = {table}.duration_seconds_sum + excluded.duration_seconds_sum, "
        f"pickup_buckets = {_merged_buckets(table)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _merged_buckets(table: str) -> str:
    """SQL adding the stored and the new histogram element-wise, in order."""
    if connection.vendor == "postgresql":
        return (
            "(SELECT COALESCE(jsonb_agg(COALESCE(o.n, 0) + COALESCE(x.n, 0) "
            "ORDER BY COALESCE(o.i, x.i)), '[]'::jsonb) "
            f"FROM (SELECT e.value::bigint AS n, e.i FROM jsonb_array_elements({table}"
            ".pickup_buckets) WITH ORDINALITY AS e(value, i)) AS o "
            "FULL JOIN (SELECT e.value::bigint AS n, e.i FROM jsonb_array_elements("
            "excluded.pickup_buckets) WITH ORDINALITY AS e(value, i)) AS x ON o.i = x.i)"
        )
    # SQLite has no FULL JOIN before 3.39; every writer sends latency.SIZE counts, so the new
    # histogram leads and a shorter stored one counts as zeros.
    return (
        "(SELECT json_group_array(x.value + COALESCE(o.value, 0)) FROM "
        "(SELECT key, value FROM json_each(excluded.pickup_buckets) ORDER BY key) AS x "
        f"LEFT JOIN json_each({table}.pickup_buckets) AS o ON o.key = x.key)"
    )


def prune_rollups(before: datetime) -> int:
    """Delete the rollups of minutes before the aware datetime ``before``; return how many.

    The retention pruner calls it with ``now - KEEP`` (7 days). One DELETE over the ``minute``
    index: a week of a queue is about 10,000 small rows. Raises ``ValueError`` for a naive
    datetime.
    """
    if timezone.is_naive(before):
        raise ValueError(f"before must be an aware datetime (UTC), got naive {before!r}")
    deleted, _ = MinuteRollup.objects.filter(minute__lt=before).delete()
    return deleted


@dataclasses.dataclass(slots=True)
class QueueSeries:
    """One queue's chart data, a value per minute of ``Series.minutes``.

    ``pickup_p50_seconds`` and ``pickup_p95_seconds`` are None for minutes in which no job of
    the queue started.
    """

    queue: str
    done: list[int]
    failed: list[int]
    pickup_p50_seconds: list[float | None]
    pickup_p95_seconds: list[float | None]

    def as_json(self) -> dict[str, object]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(slots=True)
class Series:
    """The charts' data: the minutes shown (oldest first, aware UTC) and a series per queue."""

    minutes: list[datetime]
    queues: list[QueueSeries]

    def as_json(self) -> dict[str, object]:
        """Return a JSON-ready dict: minutes as ISO 8601 strings, queues sorted by name."""
        return {
            "minutes": [minute.isoformat() for minute in self.minutes],
            "queues": [queue.as_json() for queue in self.queues],
        }


def last_hour(now: datetime | None = None, minutes: int = CHART_MINUTES) -> Series:
    """Read the rollups of the last ``minutes`` minutes (the current one included) per queue.

    One query over the ``minute`` index reads at most ``minutes`` rows per queue; minutes with
    no row count zero. Reads only.
    """
    end = minute_of(now or timezone.now())
    shown = [end - timedelta(minutes=back) for back in range(minutes - 1, -1, -1)]
    position = {minute: index for index, minute in enumerate(shown)}
    by_queue: dict[str, QueueSeries] = {}
    rows = (
        MinuteRollup.objects.filter(minute__gte=shown[0], minute__lte=end)
        .order_by()
        .values_list("queue", "minute", "done", "failed", "pickup_buckets")
    )
    for queue, minute, done, failed, buckets in rows:
        index = position.get(minute_of(minute))
        if index is None:
            continue  # not on a minute: written by hand, not by a worker
        series = by_queue.get(queue)
        if series is None:
            series = by_queue[queue] = QueueSeries(
                queue, [0] * minutes, [0] * minutes, [None] * minutes, [None] * minutes
            )
        series.done[index] += done
        series.failed[index] += failed
        merged = latency.merge([buckets or []])
        series.pickup_p50_seconds[index] = latency.percentile(merged, 0.5)
        series.pickup_p95_seconds[index] = latency.percentile(merged, 0.95)
    return Series(shown, [by_queue[name] for name in sorted(by_queue)])
