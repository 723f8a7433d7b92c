"""Show each queue's numbers: ready, waiting, running, finished and dead-lettered lately, dead.

Columns: ready (queued, run_at come), retry wait (queued, run_at to come, an attempt made: waiting
out a retry's backoff), scheduled (queued, run_at to come, no attempt yet), running, done and
cancelled in the last hour (by finished_at), dead in the last hour (dead-lettered, by the dead
job's failed_at), dead (all dead jobs, replayed ones included; counted up to 10,000 and shown as
"10000+" beyond), and the oldest ready job's wait in seconds past its run_at. A retry that was
scheduled but not dead-lettered leaves no row of its own, so retries in the last hour are not
counted; "retry wait" shows the jobs waiting on one now.

The numbers are the admin dashboard's (django_jobs.dashboard.collect), read through indexes: the
partial ready index for queued jobs, the partial lease index for running ones, the finished_at
index for the last hour, the dead jobs' (queue, failed_at) index per queue.
"""

from __future__ import annotations

import argparse
from typing import Any

from .. import dashboard
from . import options
from .output import EXIT_OK, EXIT_USAGE, Output

NAME = "stats"
HELP = "Per-queue counts: ready, waiting, running, done and dead in the last hour, oldest wait."

COLUMNS = (
    "queue",
    "ready",
    "retry_waiting",
    "scheduled",
    "running",
    "done_last_hour",
    "cancelled_last_hour",
    "dead_last_hour",
    "dead",
    "oldest_ready_age_seconds",
)
HEADERS = {
    "retry_waiting": "retry wait",
    "done_last_hour": "done 1h",
    "cancelled_last_hour": "cancelled 1h",
    "dead_last_hour": "dead 1h",
    "oldest_ready_age_seconds": "oldest ready (s)",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--queue``."""
    options.add_queue(parser, "show the numbers")


def run(opts: dict[str, Any], out: Output) -> int:
    """Print the table (or the JSON document of ``as_document``); always ``EXIT_OK``."""
    try:
        queues = options.queues(opts.get("queue"))
    except options.UsageError as error:
        out.error(str(error))
        return EXIT_USAGE
    document = as_document(dashboard.collect(), queues)
    if out.as_json:
        out.json(document)
        return EXIT_OK
    rows = [*document["queues"], {**document["totals"], "queue": "all"}]
    for row in rows:
        row["dead"] = f"{row['dead']}+" if row["dead_capped"] else row["dead"]
        age = row["oldest_ready_age_seconds"]
        row["oldest_ready_age_seconds"] = "" if age is None else f"{age:.1f}"
    out.table(rows, COLUMNS, headers=HEADERS)
    estimate = document["job_rows_estimate"]
    out.line(
        f"Read in {document['took_ms']:.0f} ms"
        + (f"; about {estimate:,} job rows in all." if estimate is not None else ".")
    )
    return EXIT_OK


def as_document(board: dashboard.Dashboard, queues: list[str]) -> dict[str, Any]:
    """Return the ``--json`` document: ``collected_at``, ``took_ms``, ``queues``, ``totals``.

    ``queues`` (the ``--queue`` names; empty for all) picks the rows, each a dict of the keys
    in ``COLUMNS`` plus ``queued`` (ready + retry_waiting + scheduled) and ``dead_capped``
    (``dead`` stopped at the cap); ``totals`` sums the rows picked.
    ``job_rows_estimate`` is PostgreSQL's estimate of the job table's size (None elsewhere).
    """
    picked = [row for row in board.queues if not queues or row.queue in queues]
    known = {row.queue for row in board.queues}
    picked += [dashboard.QueueStats(queue=name) for name in queues if name not in known]
    picked.sort(key=lambda row: row.queue)
    subset = dashboard.Dashboard(picked, board.collected_at, board.took_ms, board.job_rows_estimate)
    return {
        "collected_at": board.collected_at,
        "took_ms": round(board.took_ms, 1),
        "job_rows_estimate": board.job_rows_estimate,
        "queues": [_row(row, board) for row in picked],
        "totals": _row(subset.totals, board),
    }


def _row(row: dashboard.QueueStats, board: dashboard.Dashboard) -> dict[str, Any]:
    age = row.oldest_ready_age_seconds(board.collected_at)
    return {
        "queue": row.queue,
        "queued": row.queued,
        "ready": row.ready,
        "retry_waiting": row.retry_waiting,
        "scheduled": row.scheduled,
        "running": row.running,
        "done_last_hour": row.done_last_hour,
        "cancelled_last_hour": row.cancelled_last_hour,
        "dead_last_hour": row.failed_last_hour,
        "dead": row.dead,
        "dead_capped": row.dead_capped,
        "oldest_ready_age_seconds": None if age is None else round(age, 3),
    }
