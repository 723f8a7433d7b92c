"""Cancel jobs by id, saying for each whether it was cancelled, asked to stop, and if not, why.

A queued job is cancelled at once (it is then never claimed). A running job is asked to stop: its
task is told (``django_jobs.cancellation``) and the job ends ``cancelled`` when the task stops.
A done, cancelled or dead-lettered job is left as it is; an id no table has is reported as not
found. A last line counts the ids cancelled at once and those asked to stop. Exit status: 0 when
every id was cancelled or asked to stop, 1 when any was neither, 2 for an id that is not a
positive whole number (nothing is cancelled then). Each id is one guarded UPDATE through
django_jobs.engine.cancel, so a job a worker claims at the same instant is either cancelled or
claimed (and then asked), never both.
"""

from __future__ import annotations

import argparse
from typing import Any

from .. import engine
from ..models import DeadJob, Job
from . import options
from .output import EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, Output

NAME = "cancel"
HELP = "Cancel jobs by id (queued at once, running ones asked to stop); report per id."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the positional ``ID...``."""
    parser.add_argument("ids", nargs="+", metavar="ID", help="The ids of the jobs to cancel.")


def cancel_one(job_id: int) -> dict[str, Any]:
    """Cancel job ``job_id``; return ``{"id", "cancelled", "requested", "status", "reason"}``.

    ``cancelled``: it was queued and is cancelled now; ``requested``: it is running and was asked
    to stop now. ``status`` is what the job is now (``cancelled``, ``running``, ``done``,
    ``dead``, or None when no table has the id); ``reason`` says in words why neither happened
    ("" if one did).
    """
    report = engine.cancel([job_id])
    if report.cancelled:
        return {"id": job_id, "cancelled": True, "requested": False, "status": "cancelled",
                "reason": ""}  # fmt: skip
    if report.requested:
        return {"id": job_id, "cancelled": False, "requested": True, "status": "running",
                "reason": ""}  # fmt: skip
    # The guard said no: read what the job is now (it may have moved on since; this says when).
    status = Job.objects.filter(pk=job_id).values_list("status", flat=True).first()
    if status is None and DeadJob.objects.filter(job_id=job_id).exists():
        status = "dead"
    reason = {
        None: "not found: no job or dead job has this id",
        "running": "not cancelled: it was asked to stop already and is still running",
        "done": "not cancelled: it has finished",
        "cancelled": "not cancelled: it was cancelled already",
        "dead": "not cancelled: it was dead-lettered",
        # Queued again by the time of the read: a worker released it between the two queries.
        "queued": "not cancelled: it changed state meanwhile; try again",
    }[status]
    return {"id": job_id, "cancelled": False, "requested": False, "status": status,
            "reason": reason}  # fmt: skip


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
            style = None if _ok(outcome) else "red"
            out.line(f"job {outcome['id']}: {_text(outcome)}", style=style)
        cancelled = sum(outcome["cancelled"] for outcome in outcomes)
        requested = sum(outcome["requested"] for outcome in outcomes)
        out.line(f"{cancelled} cancelled at once (queued), {requested} asked to stop (running)")
    return EXIT_OK if all(_ok(outcome) for outcome in outcomes) else EXIT_PROBLEM


def _ok(outcome: dict[str, Any]) -> bool:
    return bool(outcome["cancelled"] or outcome["requested"])


def _text(outcome: dict[str, Any]) -> str:
    if outcome["cancelled"]:
        return "cancelled"
    if outcome["requested"]:
        return "asked to stop: it is running; it ends cancelled when its task stops"
    return str(outcome["reason"])
