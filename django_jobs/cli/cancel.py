"""Cancel queued jobs by id, saying for each whether it was cancelled and if not, why.

Only a queued job can be cancelled (it is then never claimed). A running job is not interrupted;
a done, cancelled or dead-lettered job is left as it is; an id no table has is reported as not
found. Exit status: 0 when every id was cancelled, 1 when any was not, 2 for an id that is not a
positive whole number (nothing is cancelled then). Each id is one guarded UPDATE through
django_jobs.engine.cancel, so a job a worker claims at the same instant is either cancelled or
claimed, never both.
"""

from __future__ import annotations

import argparse
from typing import Any

from .. import engine
from ..models import DeadJob, Job
from . import options
from .output import EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, Output

NAME = "cancel"
HELP = "Cancel queued jobs by id; report per id what happened."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the positional ``ID...``."""
    parser.add_argument("ids", nargs="+", metavar="ID", help="The ids of the jobs to cancel.")


def cancel_one(job_id: int) -> dict[str, Any]:
    """Cancel job ``job_id`` if it is queued; return ``{"id", "cancelled", "status", "reason"}``.

    ``status`` is what the job is now (``cancelled``, ``running``, ``done``, ``dead``, or None
    when no table has the id); ``reason`` says in words why it was not cancelled ("" if it was).
    """
    if engine.cancel([job_id]):
        return {"id": job_id, "cancelled": True, "status": "cancelled", "reason": ""}
    # The guard said no: read what the job is now (it may have moved on since; this says when).
    status = Job.objects.filter(pk=job_id).values_list("status", flat=True).first()
    if status is None and DeadJob.objects.filter(job_id=job_id).exists():
        status = "dead"
    reason = {
        None: "not found: no job or dead job has this id",
        "running": "not cancelled: it is running (a running job is not interrupted)",
        "done": "not cancelled: it has finished",
        "cancelled": "not cancelled: it was cancelled already",
        "dead": "not cancelled: it was dead-lettered",
        # Queued again by the time of the read: a worker released it between the two queries.
        "queued": "not cancelled: it changed state meanwhile; try again",
    }[status]
    return {"id": job_id, "cancelled": False, "status": status, "reason": reason}


def run(opts: dict[str, Any], out: Output) -> int:
    """Cancel each id and print the outcomes (JSON: a list of ``cancel_one``'s dicts)."""
    try:
        ids = options.job_ids(opts.get("ids"))
    except options.UsageError as error:
        out.error(str(error))
        return EXIT_USAGE
    outcomes = [cancel_one(job_id) for job_id in ids]
    if out.as_json:
        out.json(outcomes)
    else:
        for outcome in outcomes:
            text = "cancelled" if outcome["cancelled"] else outcome["reason"]
            out.line(f"job {outcome['id']}: {text}", style=None if outcome["cancelled"] else "red")
    return EXIT_OK if all(outcome["cancelled"] for outcome in outcomes) else EXIT_PROBLEM
