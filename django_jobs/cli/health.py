"""Exit 1 when a queue's oldest ready job waited too long or too many jobs died lately; else 0.

For a Kubernetes probe or a cron alert. Give --max-ready-age, --max-dead-last-hour or both.
Unhealthy when a queue's oldest ready job (queued, its run_at come) has waited more than
--max-ready-age seconds past its run_at, or when more than --max-dead-last-hour jobs of the
queues checked, taken together, were dead-lettered in the last hour (by the dead job's
failed_at). Each reason is printed. Exit status: 0 healthy, 1 unhealthy, 2 bad options.

Two reads, both through indexes and bounded: the oldest run_at among ready jobs per queue (the
partial ready index: queued rows only, never history), and per queue the dead jobs of the last
hour through the dead jobs' (queue, failed_at) index, counted no further than the threshold + 1.
"""

from __future__ import annotations

import argparse
import dataclasses
from datetime import datetime
from typing import Any

from django.db.models import Min
from django.utils import timezone
from rich.markup import escape

from .. import dashboard
from ..models import DeadJob, Job
from . import options
from .output import EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, Output

NAME = "health"
HELP = "Exit 1, saying why, when a queue waits too long or too many jobs died in the last hour."


@dataclasses.dataclass(slots=True)
class Health:
    """What ``check`` found: ``problems`` (sentences; empty when healthy) and per-queue figures.

    ``oldest_ready_age_seconds`` maps each queue with a ready job to its oldest one's wait past
    ``run_at`` (read only with ``--max-ready-age``); ``dead_last_hour`` maps each queue to its dead
    jobs of the last hour, counted no further than the threshold + 1 (read only with
    ``--max-dead-last-hour``).
    """

    checked_at: datetime
    problems: list[str]
    oldest_ready_age_seconds: dict[str, float]
    dead_last_hour: dict[str, int]

    @property
    def healthy(self) -> bool:
        """True when nothing crossed a threshold."""
        return not self.problems


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--max-ready-age``, ``--max-dead-last-hour`` and ``--queue``."""
    parser.add_argument(
        "--max-ready-age",
        metavar="SECONDS",
        help="Unhealthy when a queue's oldest ready job has waited more than SECONDS past its "
        "run_at.",
    )
    parser.add_argument(
        "--max-dead-last-hour",
        metavar="N",
        help="Unhealthy when more than N jobs (of the queues checked, together) were "
        "dead-lettered in the last hour.",
    )
    options.add_queue(parser, "check jobs")


def run(opts: dict[str, Any], out: Output) -> int:
    """Check, print the verdict and return ``EXIT_OK``, ``EXIT_PROBLEM`` or ``EXIT_USAGE``."""
    try:
        max_age = options.seconds(opts.get("max_ready_age"), "--max-ready-age")
        max_dead = options.count(opts.get("max_dead_last_hour"), "--max-dead-last-hour")
        queues = options.queues(opts.get("queue"))
        if max_age is None and max_dead is None:
            raise options.UsageError(
                "health needs a threshold: give --max-ready-age SECONDS, "
                "--max-dead-last-hour N or both."
            )
    except options.UsageError as error:
        out.error(str(error))
        return EXIT_USAGE
    found = check(queues, max_ready_age=max_age, max_dead_last_hour=max_dead)
    if out.as_json:
        out.json(
            {
                "healthy": found.healthy,
                "problems": found.problems,
                "checked_at": found.checked_at,
                "max_ready_age_seconds": max_age,
                "max_dead_last_hour": max_dead,
                "oldest_ready_age_seconds": found.oldest_ready_age_seconds,
                "dead_last_hour": found.dead_last_hour,
            }
        )
    elif found.healthy:
        checked = ", ".join(queues) if queues else "every queue"
        out.line(escape(f"healthy: {checked} within the thresholds"))
    for problem in found.problems:  # queue names are the user's: printed as text, not markup
        out.line(escape(f"unhealthy: {problem}"), style="bold red")
    return EXIT_OK if found.healthy else EXIT_PROBLEM


def check(
    queues: list[str],
    *,
    max_ready_age: float | None,
    max_dead_last_hour: int | None,
    now: datetime | None = None,
) -> Health:
    """Return the ``Health`` of ``queues`` (empty: every queue) against the thresholds given.

    ``max_ready_age`` is in seconds; either threshold may be None (not checked). Reads only.
    """
    now = now or timezone.now()
    problems = []
    ages = _oldest_ready_ages(queues, now) if max_ready_age is not None else {}
    for queue, age in sorted(ages.items()):
        if max_ready_age is not None and age > max_ready_age:
            problems.append(
                f"queue {queue!r}: its oldest ready job has waited {age:.0f} s, more than "
                f"--max-ready-age {max_ready_age:g}"
            )
    dead = {}
    if max_dead_last_hour is not None:
        dead = _dead_last_hour(queues, now, max_dead_last_hour)
    total = sum(dead.values())
    if max_dead_last_hour is not None and total > max_dead_last_hour:
        where = ", ".join(f"{queue} {n}" for queue, n in sorted(dead.items()) if n)
        capped = any(n > max_dead_last_hour for n in dead.values())
        problems.append(
            f"{'at least ' if capped else ''}{total} jobs were dead-lettered in the last hour "
            f"({where}), more than --max-dead-last-hour {max_dead_last_hour}"
        )
    return Health(now, problems, ages, dead)


def _oldest_ready_ages(queues: list[str], now: datetime) -> dict[str, float]:
    # Queued rows only (the partial ready index): as many as the backlog, never the history.
    oldest = (
        Job.objects.ready(now)
        .in_queues(queues)
        .order_by()
        .values("queue")
        .annotate(oldest_run_at=Min("run_at"))
    )
    return {row["queue"]: max(0.0, (now - row["oldest_run_at"]).total_seconds()) for row in oldest}


def _dead_last_hour(queues: list[str], now: datetime, cap: int) -> dict[str, int]:
    # One range of the (queue, failed_at) index per queue, each stopped at cap + 1 rows: enough
    # to know the threshold is crossed, however many died.
    counts = {}
    for queue in queues or dashboard.queue_names(DeadJob):
        recent = DeadJob.objects.filter(queue=queue, failed_at__gte=now - dashboard.RECENT)
        counts[queue] = recent.order_by()[: cap + 1].count()
    return counts
