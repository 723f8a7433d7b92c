"""Workflows in the engine: insert a chain or a group, complete a member, prune what finished.

A ``Workflow`` row counts the jobs that have not succeeded yet (``pending``). A member's success
is written by ``complete_member`` in one transaction: the job goes done (fenced by its lease
token), ``pending`` loses one, and when that makes the next job due (a chain's next step, a
group's callback once every member succeeded) the same transaction inserts it. The counter's row
lock orders concurrent completions of one workflow, so exactly one transaction sees the count
that makes the callback due: two members finishing at the same instant on two workers insert it
once. The job's done and the counter roll back together (a crash, a refused write), so the
counter always equals the jobs not done. The design is Oban Pro's Workflow and Celery's chord
counter, kept in the database rather than in a result backend.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from ..conf import jobs_settings
from ..models import LIVE_STATUSES, DeadJob, Job, JobStatus, Workflow, WorkflowKind
from ..outcome import Recorded
from . import sql
from .insert import insert_call, insert_jobs

#: One validated job of a workflow: its ``Job`` field values and its args/kwargs JSON texts.
Member = tuple[Mapping[str, Any], Mapping[str, str]]


def insert_workflow(
    kind: str, first: Sequence[Member], later: Sequence[dict[str, Any]]
) -> tuple[Workflow, list[int]]:
    """INSERT a workflow and its first jobs (``first``, positions 0..); return it and their ids.

    ``later`` are the calls enqueued as the workflow goes (``Workflow.calls``). A chain passes
    its first step in ``first`` and the others in ``later``; a group its members in ``first``
    and its callback (or nothing) in ``later``. Callers validate everything first
    (``django_jobs.workflows``). Consecutive jobs with the same field values but their
    arguments (a group of one task) go in one statement (``insert_jobs``), so a group of
    1,000 is a handful of round trips. Runs in the caller's transaction (a savepoint of it,
    or a transaction of its own): all rows commit together or none do.
    """
    with transaction.atomic(using=sql.alias()):
        workflow = Workflow.objects.create(
            kind=kind, total=len(first) + len(later), pending=len(first) + len(later), calls=later
        )
        ids: list[int] = []
        for template, calls in _runs(first):
            member = {**template, "workflow_id": workflow.id}
            ids += insert_jobs(member, calls, first_position=len(ids))
    return workflow, ids


def _runs(first: Sequence[Member]) -> list[tuple[Mapping[str, Any], list[tuple[str, str]]]]:
    """Split ``first`` into runs of consecutive jobs that share every value but their call."""
    runs: list[tuple[Mapping[str, Any], list[tuple[str, str]]]] = []
    for values, encoded in first:
        call = (encoded["args"], encoded["kwargs"])
        if runs and runs[-1][0] == values:
            runs[-1][1].append(call)
        else:
            runs.append((values, [call]))
    return runs


def complete_member(job: Job, result: Any, result_json: str | None) -> Recorded:
    """Mark running workflow member ``job`` done and move its workflow on; return DONE or LOST.

    One transaction: the fenced UPDATE of the job (LOST, and nothing written, if its lease is
    gone), the workflow's ``pending`` taken down by one (its row lock serialises the members
    of one workflow), and the INSERT of the job that became due, if any: a chain's next step
    (the result as its first argument) or a group's callback (the members' results, in member
    order, as its first argument). With ``ASYNC_COMMIT`` the transaction commits without
    waiting for the WAL flush, as plain completions do; a crash then rolls back all of it
    together. Must not be called inside a transaction that may roll back after it returns.
    Database errors propagate (the job stays running); safe to repeat.
    """
    now = timezone.now()
    with transaction.atomic(using=sql.alias()):
        rows = sql.execute_returning(
            f"UPDATE {sql.table()} SET status = %s, result = %s, finished_at = %s, "
            "lease_token = NULL, lease_expires_at = NULL, progress_percent = 100 "
            f"WHERE id = %s AND lease_token = %s AND status = %s AND {_relaxed()} "
            "RETURNING workflow_id, workflow_position",
            [
                JobStatus.DONE,
                result_json,
                sql.prep("finished_at", now),
                job.id,
                sql.prep("lease_token", job.lease_token),
                JobStatus.RUNNING,
            ],
            prepare=True,
        )
        if not rows:
            return Recorded.LOST
        workflow_id, position = rows[0]
        workflow = _count_success(workflow_id, now)
        if workflow is not None and position is not None:
            _insert_due(workflow, position, result)
    job.status, job.result, job.finished_at = JobStatus.DONE, result, now
    return Recorded.DONE


def _relaxed() -> str:
    # sql.relaxed_commit() answers "TRUE" inside a transaction; here the whole (short) worker
    # transaction may commit relaxed, since its writes are undone together.
    if not sql.postgresql() or not jobs_settings.ASYNC_COMMIT:
        return "TRUE"
    return "(SELECT set_config('synchronous_commit', 'off', true)) IS NOT NULL"


def _count_success(workflow_id: int | None, now: datetime) -> Workflow | None:
    """Take one off the workflow's ``pending`` (finishing it at 0); return it as now, or None.

    The UPDATE's row lock orders concurrent members of one workflow: each sees the count the
    previous one left, so exactly one sees the count that makes the next job due.
    """
    if workflow_id is None:
        return None
    table = sql.wrapper().ops.quote_name(str(Workflow._meta.db_table))
    rows = sql.execute_returning(
        f"UPDATE {table} SET pending = pending - 1, "
        "finished_at = CASE WHEN pending = 1 THEN %s ELSE finished_at END "
        "WHERE id = %s AND pending > 0 RETURNING kind, total, pending, calls, finished_at",
        [sql.prep("finished_at", now), workflow_id],
        prepare=True,
    )
    if not rows:  # deleted by hand, or counted down already
        return None
    kind, total, pending, calls, finished_at = rows[0]
    return Workflow(
        id=workflow_id,
        kind=kind,
        total=total,
        pending=pending,
        calls=json.loads(calls) if isinstance(calls, str | bytes) else calls,
        finished_at=finished_at,
    )


def _insert_due(workflow: Workflow, position: int, result: Any) -> None:
    """INSERT the job that the success of the job at ``position`` made due, if any."""
    if workflow.kind == WorkflowKind.CHAIN:
        if position + 1 < workflow.total:
            _insert_later(workflow, position + 1, workflow.calls[position], result)
        return
    members = workflow.members
    if workflow.calls and workflow.pending == 1 and position < members:
        results = dict(
            Job.objects.filter(
                workflow_id=workflow.id,
                status=JobStatus.DONE,
                workflow_position__lt=members,
            ).values_list("workflow_position", "result")
        )
        ordered = [results.get(n) for n in range(members)]
        _insert_later(workflow, members, workflow.calls[0], ordered)


def _insert_later(workflow: Workflow, position: int, call: dict[str, Any], first_arg: Any) -> Job:
    """INSERT the stored ``call`` at ``position`` with ``first_arg`` before its own arguments."""
    values = {
        **call["options"],
        "task_path": call["task_path"],
        "enqueued_at": timezone.now(),
        "run_at": timezone.now(),
        "workflow_id": workflow.id,
        "workflow_position": position,
    }
    encoded = {
        "args": json.dumps([first_arg, *call["args"]]),
        "kwargs": json.dumps(call["kwargs"]),
    }
    job, _ = insert_call(values, encoded)
    return job


def prunable_workflows(before: datetime) -> QuerySet[Workflow]:
    """Return workflows that finished before ``before``, or that can never finish any more.

    A workflow that cannot finish has no queued or running job and no dead job left to replay
    (its blocking member was cancelled, or its dead job was pruned) and was created before
    ``before``.
    """
    live = Job.objects.filter(workflow_id=OuterRef("pk"), status__in=LIVE_STATUSES)
    dead = DeadJob.objects.filter(workflow_id=OuterRef("pk"), replayed_job_id=None)
    finished = Workflow.objects.filter(finished_at__lt=before)
    stuck = Workflow.objects.filter(finished_at=None, created_at__lt=before).exclude(
        Exists(live) | Exists(dead)
    )
    return finished | stuck


def prune_workflows(*, before: datetime, batch_size: int = 1000) -> int:
    """Delete the workflows of ``prunable_workflows(before)``; return how many were deleted.

    Their jobs are pruned on their own (``prune``), which leaves the done members of an
    unfinished workflow alone: its callback still needs their results.
    """
    deleted = 0
    while True:
        batch = list(prunable_workflows(before).values_list("pk", flat=True)[:batch_size])
        if not batch:
            return deleted
        # The guard again in the DELETE: a workflow that moved on since it was read stays.
        count, _ = prunable_workflows(before).filter(pk__in=batch).delete()
        deleted += count
        if len(batch) < batch_size:
            return deleted


def unfinished_workflow_member() -> Exists:
    """Return the condition "this job is a member of a workflow that has not finished"."""
    return Exists(Workflow.objects.filter(pk=OuterRef("workflow_id"), finished_at=None))
