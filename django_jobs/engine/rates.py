"""Rate windows: the recent starts of each rate-limited queue, as ``claim_limited`` keeps them.

A sliding window rather than a token bucket: a bucket of ``count`` tokens refilled at ``count``
per period lets up to twice ``count`` start within one period (a full bucket, then the refill),
while the window's rule (no more than ``count`` starts later than ``now - period``) holds for
every window of one period. Every function here runs under the queue's claim lock.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from .. import validation
from ..models import Job, RateWindow


def recent_starts(window: RateWindow, period_seconds: float, now: datetime) -> list[datetime]:
    """Return the starts of ``window`` later than ``now - period_seconds``, oldest first.

    A start at exactly ``now - period`` is out: any half-open window of one period then holds
    at most the limit's count.
    """
    since = now - timedelta(seconds=period_seconds)
    starts = [datetime.fromisoformat(s) for s in window.recent_started_at]
    return [s for s in starts if s > since]


def record_starts(
    jobs: list[Job],
    windows: list[RateWindow],
    serving: Mapping[str, validation.QueueLimits],
    now: datetime,
) -> None:
    """Add a start at ``now`` to each of ``windows`` per job of ``jobs`` in its queue, keep the
    newest ``count`` of them, and upsert the changed rows (one statement, none if unchanged).

    ``serving`` maps queue names to their limits. Needs the queues' claim locks held.
    """
    started: dict[str, int] = {}
    for job in jobs:
        started[job.queue] = started.get(job.queue, 0) + 1
    changed = []
    for window in windows:
        lim = serving[window.queue]
        if not started.get(window.queue) or lim.rate_period_seconds is None:
            continue
        recent = recent_starts(window, lim.rate_period_seconds, now)
        recent += [now] * started[window.queue]
        window.recent_started_at = [s.isoformat() for s in recent[-(lim.rate_count or 1) :]]
        changed.append(window)
    if changed:
        RateWindow.objects.bulk_create(
            changed,
            update_conflicts=True,
            unique_fields=["queue"],
            update_fields=["recent_started_at"],
        )


def wait_seconds(
    serving: Mapping[str, validation.QueueLimits], windows: list[RateWindow], now: datetime
) -> float | None:
    """Return the seconds until the first full rate window lets a job start, or None."""
    waits = []
    for window in windows:
        lim = serving.get(window.queue)
        if lim is None or lim.rate_count is None or lim.rate_period_seconds is None:
            continue
        recent = recent_starts(window, lim.rate_period_seconds, now)
        if len(recent) >= lim.rate_count:
            oldest = recent[-lim.rate_count]
            period = timedelta(seconds=lim.rate_period_seconds)
            waits.append(max(0.0, (oldest + period - now).total_seconds()))
    return min(waits) if waits else None
