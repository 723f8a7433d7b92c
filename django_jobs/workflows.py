"""Chains and groups: jobs that run in order, or in parallel and then a callback once.

``chain(a.s(1), b.s(), c.s())`` runs ``a(1)``, then ``b(result_of_a)``, then
``c(result_of_b)``: each step is enqueued by the transaction that marks the previous one done.
``group([a.s(1), a.s(2)], then=b.s())`` runs the members in parallel, then
``b([result_1, result_2])`` once, after every member succeeded. Both are plain INSERTs in the
caller's transaction (as ``enqueue``), validated entirely before any SQL. The shape follows
Celery's chain/group/chord signatures and Oban Pro's Workflow; the counting is in PostgreSQL
(``django_jobs.engine.workflow``), so it holds across every worker process and host.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async
from django.utils import timezone

from .enqueue import call_values
from .exceptions import InvalidJobOptionsError
from .task import Signature, as_task

if TYPE_CHECKING:
    from datetime import datetime

    from .models import Workflow

__all__ = ["Signature", "achain", "agroup", "chain", "group", "signature"]

#: The most jobs one workflow may hold: a group's callback gets every result in one argument.
MAX_WORKFLOW_JOBS = 10_000


def signature(task: Any, *args: Any, **kwargs: Any) -> Signature:
    """Return a ``Signature`` of ``task`` (a task, its function or its dotted path, as for
    ``enqueue``) with ``args`` and ``kwargs``: ``task.s(...)`` for what is not a ``Task``."""
    return Signature(as_task(task), args, dict(kwargs))


def chain(*calls: Signature) -> Workflow:
    """Enqueue a chain: run ``calls`` one after the other, each once the previous succeeded.

    Each step after the first receives the previous step's result as its first positional
    argument, before its own. The first step is inserted now; the others are stored on the
    ``Workflow`` row and inserted, one by one, by the transaction that marks the previous step
    done. A step that is dead-lettered stops the chain until it is replayed; a cancelled step
    stops it for good. Returns the ``Workflow`` (its id is what ``get_workflow_status`` takes).
    One transaction with the caller's (a savepoint in it), no ``on_commit``: a rollback takes
    the whole chain with it. Raises ``InvalidJobOptionsError`` (fewer than two steps, not a
    ``Signature``, ``run_at``/``idempotency_key`` on a later step, an idempotency key at all) or
    ``SerializationError`` before any SQL.
    """
    steps = _calls(calls, "chain")
    if len(steps) < 2:
        raise InvalidJobOptionsError(
            f"A chain needs at least two steps, got {len(steps)}; enqueue a single job with "
            "task.enqueue(...)."
        )
    first = _member(steps[0], "step 0", timezone.now())
    later = [_later(c, f"step {n}") for n, c in enumerate(steps[1:], start=1)]
    return _insert("chain", [first], later)


def group(calls: Iterable[Signature], *, then: Signature | None = None) -> Workflow:
    """Enqueue a group: run ``calls`` in parallel, then ``then`` once, after all succeeded.

    ``then`` (optional) receives the members' results as its first positional argument: a
    list in the order of ``calls`` (results are JSON, as stored). It runs exactly once, however
    many workers finish members at the same instant. A member that is dead-lettered blocks
    the callback until the member is replayed and succeeds; a cancelled member means the
    callback never runs. Returns the ``Workflow``. Transaction and errors as ``chain``; a group
    needs at least one member and at most ``MAX_WORKFLOW_JOBS``.
    """
    members = _calls(calls, "group")
    if not members:
        raise InvalidJobOptionsError("A group needs at least one member signature, got none.")
    now = timezone.now()
    first = [_member(c, f"member {n}", now) for n, c in enumerate(members)]
    later = [] if then is None else [_later(_calls([then], "then")[0], "then")]
    return _insert("group", first, later)


async def achain(*calls: Signature) -> Workflow:
    """Async twin of ``chain``; same arguments, result and errors."""
    return await sync_to_async(chain)(*calls)


async def agroup(calls: Iterable[Signature], *, then: Signature | None = None) -> Workflow:
    """Async twin of ``group``; same arguments, result and errors."""
    return await sync_to_async(group)(calls, then=then)


def _calls(calls: Iterable[Any], what: str) -> list[Signature]:
    if isinstance(calls, Signature) or not isinstance(calls, Iterable):
        raise InvalidJobOptionsError(
            f"{what} takes a list of signatures, got {type(calls).__name__}; "
            "e.g. group([task.s(1), task.s(2)])."
        )
    found = list(calls)
    for n, item in enumerate(found):
        if not isinstance(item, Signature):
            raise InvalidJobOptionsError(
                f"Item {n} of the {what} is {type(item).__name__} {item!r:.60}, not a signature; "
                "make one with task.s(*args, **kwargs)."
            )
    if len(found) + 1 > MAX_WORKFLOW_JOBS:
        raise InvalidJobOptionsError(
            f"A workflow holds at most {MAX_WORKFLOW_JOBS} jobs, this {what} has {len(found)}; "
            "split the work into several workflows."
        )
    return found


def _member(
    item: Signature, where: str, now: datetime | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """Validate a call; return its ``Job`` values and JSON texts (``enqueue.call_values``).

    With ``now``, the job is enqueued at ``now`` (and runs from then, unless scheduled): the
    members of a group share their values but the call, so they go in one INSERT.
    """
    options = item.task.job_options()
    for name in ("idempotency_key", "unique_for", "debounce_seconds"):
        if options.pop(name) is not None:
            raise InvalidJobOptionsError(
                f"The {where} has {name} set; a workflow's jobs cannot be deduplicated (an "
                "existing job found instead of a new one would leave the workflow waiting on a "
                "job that is not its own). Drop it for this call."
            )
    values, encoded = call_values(
        item.task.path, item.args, item.kwargs, idempotency_key=None, **options
    )
    if now is not None:
        values["enqueued_at"] = now
        if item.task.run_at is None:
            values["run_at"] = now
    return values, encoded


def _later(item: Signature, where: str) -> dict[str, Any]:
    """Validate a call enqueued later; return it as stored in ``Workflow.calls``."""
    if item.task.run_at is not None:
        raise InvalidJobOptionsError(
            f"The {where} has a run_at; only a workflow's first jobs may be scheduled (the "
            "others run when their turn comes). Drop it."
        )
    values, encoded = _member(item, where)
    return {
        "task_path": values["task_path"],
        "args": json.loads(encoded["args"]),
        "kwargs": json.loads(encoded["kwargs"]),
        "options": {
            name: values[name]
            for name in (
                "queue",
                "priority",
                "max_attempts",
                "timeout_seconds",
                "backoff_base_seconds",
                "backoff_max_seconds",
            )
        },
    }


def _insert(kind: str, first: Sequence[Any], later: list[dict[str, Any]]) -> Workflow:
    from . import engine  # the engine imports models: not at this module's import

    workflow, _ = engine.insert_workflow(kind, first, later)
    return workflow
