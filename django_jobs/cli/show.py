"""Show one job with all its fields, its last error and traceback.

ID is a job's id. A job that was dead-lettered is found by the same id (the dead job keeps it as
job_id) and shown with status dead. Exit status: 0 found, 1 no job or dead job has that id,
2 ID is not a positive whole number. Two look-ups at most, by primary key and by the dead jobs'
unique job_id index.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any

from rich.markup import escape

from ..models import DeadJob, Job
from . import options, rows
from .output import EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, Output

NAME = "show"
HELP = "Show a job (or a dead job, by its job id): every field, its last error and traceback."
#: Longest value printed in a table cell; --json prints every value whole.
CELL_MAX_LENGTH = 2000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the positional ``ID``."""
    parser.add_argument("id", metavar="ID", help="The job's id.")


def find(job_id: int) -> Job | DeadJob | None:
    """Return the job with ``job_id``, else the dead job that had it, else None."""
    return Job.objects.filter(pk=job_id).first() or DeadJob.objects.filter(job_id=job_id).first()


def last_error(record: Job | DeadJob) -> dict[str, Any] | None:
    """Return the last failure as ``exception_class``, ``message``, ``traceback`` (None: none)."""
    if isinstance(record, DeadJob):
        return {
            "exception_class": record.exception_class,
            "message": record.message,
            "traceback": record.traceback,
            "failed_at": record.failed_at,
        }
    return record.last_error


def run(opts: dict[str, Any], out: Output) -> int:
    """Print the job (JSON: ``rows.full``'s fields plus ``last_error``); 1 when not found."""
    try:
        (job_id,) = options.job_ids(opts.get("id"))
    except options.UsageError as bad:
        out.error(str(bad))
        return EXIT_USAGE
    record = find(job_id)
    if record is None:
        out.error(f"no job or dead job has id {job_id}.")
        return EXIT_PROBLEM
    data = rows.full(record)
    error = last_error(record)
    if out.as_json:
        out.json({**data, "last_error": error})
        return EXIT_OK
    out.table(
        [{"field": name, "value": _cell(value)} for name, value in data.items()],
        ("field", "value"),
        title=f"{'Dead job' if data['kind'] == 'dead' else 'Job'} {job_id}",
    )
    if error:
        out.line(
            f"Last error: {escape(rows.summary(error['exception_class'], error['message']))}",
            style="bold",
        )
        out.line(escape(error.get("traceback") or "(no traceback recorded)"))
    return EXIT_OK


def _cell(value: Any) -> str:
    if isinstance(value, list | dict):
        value = json.dumps(value, default=str)
    text = "" if value is None else rows.when(value) if isinstance(value, datetime) else str(value)
    if len(text) > CELL_MAX_LENGTH:
        return f"{text[:CELL_MAX_LENGTH]}... ({len(text)} characters; --json prints it whole)"
    return text
