"""Replay dead jobs: enqueue each again as a new job, and print the new job ids.

Pick the dead jobs by their job ids (ID...), or by filter: --queue, --task, --since (dead-lettered
at or after), or --all for every dead job; a filter picks only dead jobs not replayed yet. With
--dry-run nothing is written: the dead jobs that would be replayed are listed. Each dead job is
replayed in a transaction of its own through django_jobs.engine.replay, which locks it first, so
two replays at once enqueue it once, and one that cannot be replayed (replayed already, or its
idempotency key held by a live job) does not stop the others. Exit status: 0 when every dead job
picked was (or, with --dry-run, would be) replayed, none picked included; 1 when any was not;
2 for bad options (nothing is replayed then).
"""

from __future__ import annotations

import argparse
import getpass
from collections.abc import Iterator
from typing import Any

from django.utils import timezone

from .. import engine
from ..exceptions import ReplayConflictError
from ..models import DeadJob, Job
from . import options
from .output import EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, Output

NAME = "replay"
HELP = "Replay dead jobs by job id or by filter (--all for every one); --dry-run to preview."
CHUNK = 500
BY_MAX_LENGTH = 150  # DeadJob.replayed_by's max_length
COLUMNS = ("id", "queue", "task_path", "outcome", "new_job_id", "reason")
READ_FIELDS = ("pk", "job_id", "queue", "task_path", "replayed_job_id", "failed_at")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``ID...``, ``--queue``, ``--task``, ``--since``, ``--all``, ``--dry-run``, ``--by``."""
    parser.add_argument(
        "ids", nargs="*", metavar="ID", help="Job ids of dead jobs to replay (the id they had)."
    )
    options.add_queue(parser, "replay dead jobs")
    parser.add_argument("--task", metavar="PATH", help="Only dead jobs of this task (dotted path).")
    options.add_since(parser, "dead-lettered")
    parser.add_argument(
        "--all",
        action="store_true",
        help="Replay every dead job not replayed yet (needed when no ID or filter is given).",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="List what would be replayed; change nothing."
    )
    parser.add_argument(
        "--by",
        metavar="NAME",
        help="Recorded as who replayed them (DeadJob.replayed_by). Default: your login name.",
    )


def run(opts: dict[str, Any], out: Output) -> int:
    """Replay and print one row per dead job (JSON: a list of ``outcome`` dicts)."""
    try:
        picked = _validate(opts)
    except options.UsageError as error:
        out.error(str(error))
        return EXIT_USAGE
    dry_run = bool(opts.get("dry_run"))
    by = opts.get("by") or _login()
    outcomes = [
        outcome(dead, job_id, dry_run=dry_run, by=by) for job_id, dead in _dead_jobs(**picked)
    ]
    if out.as_json:
        out.json(outcomes)
    elif outcomes:
        out.table(outcomes, COLUMNS, headers={"task_path": "task", "new_job_id": "new job"})
        verb = "would be replayed" if dry_run else "replayed"
        done = sum(row["outcome"] in ("replayed", "would replay") for row in outcomes)
        unchanged = " Nothing was changed." if dry_run else ""
        out.line(f"{done} of {len(outcomes)} {verb}.{unchanged}")
    else:
        out.line("No dead jobs match.")
    ok = all(row["outcome"] in ("replayed", "would replay") for row in outcomes)
    return EXIT_OK if ok else EXIT_PROBLEM


def _validate(opts: dict[str, Any]) -> dict[str, Any]:
    ids = options.job_ids(opts.get("ids") or [])
    task = opts.get("task")
    if task is not None and not task.strip():
        raise options.UsageError("--task needs a task's dotted path, e.g. myapp.tasks.send.")
    picked = {
        "ids": ids,
        "queues": options.queues(opts.get("queue")),
        "task": task,
        "since": options.since(opts.get("since"), timezone.now()),
    }
    if len(opts.get("by") or "") > BY_MAX_LENGTH:
        raise options.UsageError(f"--by takes at most {BY_MAX_LENGTH} characters.")
    filtered = picked["queues"] or task or picked["since"]
    if ids and (filtered or opts.get("all")):
        raise options.UsageError(
            "give either job ids or filters (--queue, --task, --since, --all), not both."
        )
    if not ids and not filtered and not opts.get("all"):
        raise options.UsageError(
            "say which dead jobs to replay: job ids, --queue, --task, --since, or --all for "
            "every dead job not replayed yet (add --dry-run to see them first)."
        )
    return picked


def _dead_jobs(
    *, ids: list[int], queues: list[str], task: str | None, since: Any
) -> Iterator[tuple[int, DeadJob | None]]:
    """Yield ``(job_id, dead job or None)``: for ids in their order, else the filter's matches."""
    if ids:
        found = {d.job_id: d for d in DeadJob.objects.filter(job_id__in=ids).only(*READ_FIELDS)}
        for job_id in ids:
            yield job_id, found.get(job_id)
        return
    dead = DeadJob.objects.filter(replayed_job_id__isnull=True)
    if queues:
        dead = dead.filter(queue__in=queues)
    if task:
        dead = dead.filter(task_path=task)
    if since:
        dead = dead.filter(failed_at__gte=since)
    # The ids first (small), then the rows a chunk at a time: --all may match many.
    pks = list(dead.order_by("job_id").values_list("pk", flat=True))
    for start in range(0, len(pks), CHUNK):
        chunk = DeadJob.objects.filter(pk__in=pks[start : start + CHUNK]).order_by("job_id")
        for row in chunk.only(*READ_FIELDS):
            yield row.job_id, row


def outcome(dead: DeadJob | None, job_id: int, *, dry_run: bool, by: str) -> dict[str, Any]:
    """Replay ``dead`` (unless ``dry_run``); return what became of it.

    The dict has ``id`` (the job id), ``queue``, ``task_path``, ``outcome`` (``replayed``,
    ``would replay``, ``not found``, ``already replayed`` or ``not replayed``), ``new_job_id``
    (the new job's id, or the earlier replay's) and ``reason`` ("" when replayed).
    """
    if dead is None:
        live = Job.objects.filter(pk=job_id).values_list("status", flat=True).first()
        reason = f"job {job_id} is {live}, not dead" if live else "no dead job has this job id"
        return _row(job_id, None, "not found", None, reason)
    if dead.replayed_job_id is not None:
        reason = f"already replayed as job {dead.replayed_job_id}"
        return _row(job_id, dead, "already replayed", dead.replayed_job_id, reason)
    if dry_run:
        return _row(job_id, dead, "would replay", None, "")
    try:
        replayed = engine.replay([dead], by=by)
    except ReplayConflictError as error:
        # Replayed by someone else between our read and our lock: say so, with their job's id.
        now = DeadJob.objects.filter(pk=dead.pk).values_list("replayed_job_id", flat=True).first()
        if now is not None:
            return _row(job_id, dead, "already replayed", now, f"already replayed as job {now}")
        return _row(job_id, dead, "not replayed", None, str(error))
    if not replayed:  # the dead job was deleted between the read and the lock
        return _row(job_id, None, "not found", None, "the dead job was deleted meanwhile")
    return _row(job_id, dead, "replayed", replayed[0].id, "")


def _row(
    job_id: int, dead: DeadJob | None, what: str, new_job_id: int | None, reason: str
) -> dict[str, Any]:
    return {
        "id": job_id,
        "queue": dead.queue if dead else None,
        "task_path": dead.task_path if dead else None,
        "outcome": what,
        "new_job_id": new_job_id,
        "reason": reason,
    }


def _login() -> str:
    try:
        return getpass.getuser()[:BY_MAX_LENGTH]
    except (KeyError, OSError):  # no login name (a container's numeric user)
        return "manage.py jobs replay"
