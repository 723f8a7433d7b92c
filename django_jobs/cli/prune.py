"""Delete finished jobs, dead jobs and schedule runs past their retention, now.

Each kind's age defaults to its DJANGO_JOBS setting (DONE_RETENTION_SECONDS,
CANCELLED_RETENTION_SECONDS, DEAD_RETENTION_SECONDS, SCHEDULE_RUN_RETENTION_SECONDS); a kind
whose setting is None is kept unless its option is given. Ages are judged by the database's
clock. Rows go 1,000 per DELETE statement, as the workers' pruner deletes them; --dry-run only
counts them. Prints how many rows of each kind were deleted (or would be).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from .. import db, engine
from ..conf import jobs_settings
from ..engine.prune import prunable_dead_jobs, prunable_jobs, prunable_schedule_runs
from .output import EXIT_OK, EXIT_USAGE, Output

NAME = "prune"
HELP = "Delete finished jobs, dead jobs and schedule runs past their retention."

#: kind -> (option, setting, count(before), delete(before)).
KINDS: dict[str, tuple[str, str, Callable[[datetime], int], Callable[[datetime], int]]] = {
    "done": (
        "done_older_than",
        "DONE_RETENTION_SECONDS",
        lambda before: prunable_jobs(before, ["done"]).count(),
        lambda before: engine.prune(finished_before=before, statuses=["done"]),
    ),
    "cancelled": (
        "cancelled_older_than",
        "CANCELLED_RETENTION_SECONDS",
        lambda before: prunable_jobs(before, ["cancelled"]).count(),
        lambda before: engine.prune(finished_before=before, statuses=["cancelled"]),
    ),
    "dead": (
        "dead_older_than",
        "DEAD_RETENTION_SECONDS",
        lambda before: prunable_dead_jobs(before).count(),
        lambda before: engine.prune_dead_jobs(failed_before=before),
    ),
    "schedule_run": (
        "schedule_runs_older_than",
        "SCHEDULE_RUN_RETENTION_SECONDS",
        lambda before: prunable_schedule_runs(before).count(),
        lambda before: engine.prune_schedule_runs(created_before=before),
    ),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    for kind, (option, setting, _, _) in KINDS.items():
        parser.add_argument(
            f"--{option.replace('_', '-')}",
            dest=option,
            metavar="SECONDS",
            help=f"Delete {kind.replace('_', ' ')} rows older than SECONDS "
            f"(default: DJANGO_JOBS['{setting}']).",
        )
    parser.add_argument(
        "--dry-run", action="store_true", help="Count what would be deleted; delete nothing."
    )


def run(options: dict[str, Any], out: Output) -> int:
    ages: dict[str, float | None] = {}
    for kind in KINDS:
        try:
            ages[kind] = _age(kind, options)
        except ValueError as exc:
            out.error(f"{exc} Give a number of seconds > 0, e.g. 604800 for a week.")
            return EXIT_USAGE
    now = db.database_now()
    rows: list[dict[str, Any]] = []
    for kind, age in ages.items():
        _, _, count, delete = KINDS[kind]
        before = None if age is None else now - timedelta(seconds=age)
        done = None if before is None else (count if options["dry_run"] else delete)(before)
        rows.append({"kind": kind, "older_than_seconds": age, "before": before, "rows": done})
    if out.as_json:
        out.json({"dry_run": options["dry_run"], "kinds": rows})
        return EXIT_OK
    verb = "would delete" if options["dry_run"] else "deleted"
    out.table(
        [{**row, "before": row["before"] and row["before"].isoformat(timespec="seconds"),
          "rows": "kept (no retention)" if row["rows"] is None else row["rows"]}
         for row in rows],
        ["kind", "older_than_seconds", "before", "rows"],
        headers={"older_than_seconds": "older than (s)", "before": "before (UTC)", "rows": verb},
    )  # fmt: skip
    return EXIT_OK


def _age(kind: str, options: dict[str, Any]) -> float | None:
    # The option if given, else the setting; None keeps the kind.
    option, setting, _, _ = KINDS[kind]
    if options.get(option) is not None:
        return _seconds(options[option], f"--{option.replace('_', '-')}")
    retention = getattr(jobs_settings, setting)
    return None if retention is None else float(retention)


def _seconds(text: str, option: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{option} must be a number of seconds, got {text!r}.") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{option} must be a finite number of seconds > 0, got {text!r}.")
    return value
