"""List jobs and dead jobs, newest first (by job id), with their last error.

Without --status both tables are read and merged; --status dead (or failed) reads the dead jobs
only, under their original job ids, and the other statuses the job table only. --since keeps the
jobs that finished (done, cancelled) at or after the time given, the dead jobs dead-lettered at or
after it, and the queued and running jobs enqueued at or after it. Prints at most --limit rows
(default 50).

Reads: newest first, the job table walks its primary key backwards and dead jobs their unique
job_id index, each stopping after --limit matches; a filter that matches few of many rows makes
it read further, so give --since to bound a search for rare ones: it reads a range of the
finished_at index (and the few live jobs), or of the dead jobs' failed_at.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from django.db.models import Q
from django.utils import timezone

from ..models import LIVE_STATUSES, DeadJob, Job, JobStatus
from . import options, rows
from .output import EXIT_OK, EXIT_USAGE, Output

NAME = "list"
HELP = "List jobs and dead jobs, newest first; filter by queue, status, task and time."
DEFAULT_LIMIT = 50
COLUMNS = ("id", "status", "queue", "task_path", "attempts", "enqueued_at", "finished_at", "error")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--queue``, ``--status``, ``--task``, ``--since`` and ``--limit``."""
    options.add_queue(parser, "list jobs")
    parser.add_argument(
        "--status",
        metavar="STATUS",
        help=f"Only jobs in this status: {', '.join(options.STATUSES)} (failed is the same as "
        "dead: dead-lettered jobs).",
    )
    parser.add_argument("--task", metavar="PATH", help="Only jobs of this task (its dotted path).")
    options.add_since(
        parser,
        "that finished (done and cancelled jobs), were dead-lettered (dead jobs) or were enqueued "
        "(queued and running jobs)",
    )
    parser.add_argument(
        "--limit",
        default=DEFAULT_LIMIT,
        metavar="N",
        help=f"Print at most N rows, 1 to {options.MAX_LIMIT} (default {DEFAULT_LIMIT}).",
    )


def run(opts: dict[str, Any], out: Output) -> int:
    """Print the matching rows (JSON: a list of objects keyed by ``rows.ROW_KEYS``)."""
    try:
        queues = options.queues(opts.get("queue"))
        status = options.status(opts.get("status"))
        since = options.since(opts.get("since"), timezone.now())
        limit = options.limit(opts.get("limit", DEFAULT_LIMIT))
        task = opts.get("task")
        if task is not None and not task.strip():
            raise options.UsageError("--task needs a task's dotted path, e.g. myapp.tasks.send.")
    except options.UsageError as error:
        out.error(str(error))
        return EXIT_USAGE
    found = select(queues=queues, status=status, task=task, since=since, limit=limit)
    if out.as_json:
        out.json(found)
        return EXIT_OK
    shown = [
        {
            **row,
            "attempts": f"{row['attempts']}/{row['max_attempts']}",
            "enqueued_at": rows.when(row["enqueued_at"]),
            "finished_at": rows.when(row["finished_at"]),
            "error": row["error"][:60],
        }
        for row in found
    ]
    out.table(shown, COLUMNS, headers={"task_path": "task", "finished_at": "finished"})
    out.line(f"{len(found)} shown (--limit {limit})." if found else "No jobs match.")
    return EXIT_OK


def select(
    *,
    queues: list[str],
    status: str | None,
    task: str | None,
    since: datetime | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Return up to ``limit`` rows (``rows.ROW_KEYS``), newest job id first.

    ``status`` is a job status, ``"dead"`` or None (both tables); ``since`` an aware datetime
    compared with ``finished_at`` for done and cancelled jobs, ``enqueued_at`` for queued and
    running ones, ``failed_at`` for dead ones. Reads only.
    """
    found: list[dict[str, Any]] = []
    if status != "dead":
        jobs = Job.objects.in_queues(queues).only(*rows.LIST_FIELDS).order_by("-id")
        if status:
            jobs = jobs.filter(status=status)
        if task:
            jobs = jobs.filter(task_path=task)
        if since:
            jobs = jobs.filter(_since(status, since))
        found += [rows.job_row(job) for job in jobs[:limit]]
    if status in (None, "dead"):
        dead = DeadJob.objects.only(*rows.DEAD_LIST_FIELDS).order_by("-job_id")
        if queues:
            dead = dead.filter(queue__in=queues)
        if task:
            dead = dead.filter(task_path=task)
        if since:
            dead = dead.filter(failed_at__gte=since)
        found += [rows.dead_row(job) for job in dead[:limit]]
    found.sort(key=lambda row: row["id"], reverse=True)
    return found[:limit]


def _since(status: str | None, since: datetime) -> Q:
    # Finished jobs by finished_at, a range of its index however long the history; live ones by
    # enqueued_at, among the few the partial ready and lease indexes hold.
    finished = Q(finished_at__gte=since)
    live = Q(status__in=LIVE_STATUSES, enqueued_at__gte=since)
    if status in (JobStatus.DONE, JobStatus.CANCELLED):
        return finished
    if status in LIVE_STATUSES:
        return live
    return finished | live
