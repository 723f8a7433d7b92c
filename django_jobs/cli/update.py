"""Change when, how urgently or where queued jobs run, by id; say for each whether it changed.

Give at least one of --run-at (an ISO 8601 date and time; naive means UTC) or --delay (seconds
from now), --priority (-100..100) and --queue (a name DJANGO_JOBS["QUEUES"] allows). Only a
queued job is changed; a running, done, cancelled or dead-lettered job is left as it is and an id
no table has is reported as not found. Exit status: 0 when every id changed, 1 when any did not,
2 for bad input (nothing is changed then). Each id is one UPDATE guarded by status = 'queued'
(django_jobs.engine.update_queued), so a job a worker claims at the same instant is either
changed before it is claimed or left alone, never changed while it runs.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils import timezone

from .. import engine
from ..exceptions import InvalidJobOptionsError
from ..models import DeadJob, Job
from ..update import queued_changes
from . import options
from .output import EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, Output

NAME = "update"
HELP = "Change run_at, priority or queue of queued jobs by id; report per id what happened."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the positional ``ID...`` and ``--run-at``/``--delay``, ``--priority``, ``--queue``."""
    parser.add_argument("ids", nargs="+", metavar="ID", help="The ids of the jobs to change.")
    when = parser.add_mutually_exclusive_group()
    when.add_argument("--run-at", help="New run_at: an ISO 8601 date and time (naive is UTC).")
    when.add_argument("--delay", help="New run_at: this many seconds from now (0: now).")
    parser.add_argument("--priority", help="New priority, -100..100 (higher runs first).")
    parser.add_argument("--queue", help="New queue name.")


def run_at(opts: dict[str, Any]) -> datetime | None:
    """Return the new ``run_at`` from ``--run-at`` or ``--delay`` (None when neither).

    Raises ``options.UsageError`` for a value that is neither.
    """
    if opts.get("delay") is not None:
        delay = options.seconds(opts["delay"], "--delay")
        assert delay is not None
        return timezone.now() + timedelta(seconds=delay)
    value = opts.get("run_at")
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise options.UsageError(
            f"--run-at {value!r} is not an ISO 8601 date and time; give e.g. "
            "2026-12-01T09:00:00+00:00."
        ) from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


def priority(value: str | None) -> int | None:
    """Return ``--priority`` as an int (range checked by ``queued_changes``), None if not given."""
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise options.UsageError(
            f"--priority {value!r}: give a whole number in -100..100."
        ) from None


def update_one(job_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    """Apply ``changes`` to job ``job_id`` if it is queued; return
    ``{"id", "updated", "status", "reason"}`` (as ``cancel.cancel_one``)."""
    if engine.update_queued([job_id], changes):
        return {"id": job_id, "updated": True, "status": "queued", "reason": ""}
    status = Job.objects.filter(pk=job_id).values_list("status", flat=True).first()
    if status is None and DeadJob.objects.filter(job_id=job_id).exists():
        status = "dead"
    reason = {
        None: "not found: no job or dead job has this id",
        "running": "not changed: it is running",
        "done": "not changed: it has finished",
        "cancelled": "not changed: it was cancelled",
        "dead": "not changed: it was dead-lettered",
        "queued": "not changed: it changed state meanwhile; try again",
    }[status]
    return {"id": job_id, "updated": False, "status": status, "reason": reason}


def run(opts: dict[str, Any], out: Output) -> int:
    """Change each id and print the outcomes (JSON: a list of ``update_one``'s dicts)."""
    try:
        ids = options.job_ids(opts.get("ids"))
        changes = queued_changes(
            run_at=run_at(opts), priority=priority(opts.get("priority")), queue=opts.get("queue")
        )
    except (options.UsageError, InvalidJobOptionsError) as error:
        out.error(str(error))
        return EXIT_USAGE
    outcomes = [update_one(job_id, changes) for job_id in ids]
    if out.as_json:
        out.json(outcomes)
    else:
        for outcome in outcomes:
            text = "updated" if outcome["updated"] else outcome["reason"]
            out.line(f"job {outcome['id']}: {text}", style=None if outcome["updated"] else "red")
    return EXIT_OK if all(outcome["updated"] for outcome in outcomes) else EXIT_PROBLEM
