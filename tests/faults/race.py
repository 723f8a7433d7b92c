"""Run one control step in a child process the moment a barrier opens.

``python -m tests.faults.race STEP API KEY [ID ...]`` sets Django up, imports the step, then
blocks on ``pg_advisory_lock_shared(KEY)``: the test holds ``pg_advisory_lock(KEY)`` until every
child is waiting, then unlocks, and all children run their step at the same instant. Each prints
one JSON line: ``{"outcome": "ok", "value": ...}``, ``{"outcome": "error", "error": class path,
"message": ...}`` or, when the step cannot even be imported, ``{"outcome": "import-error", ...}``.

STEP is ``replay`` (ids of dead jobs), ``cancel`` or ``run_now`` (ids of jobs), ``rescue`` or
``lead`` (take the pruner role as ``racer-<pid>``: the value is whether it was taken),
``claim`` (a worker's claim of up to as many jobs as ids given: the value is each claimed job's
``[id, priority]`` as the claim saw it), ``claim_calls`` (the same, giving ``[id, args]``),
``update`` (``update_queued(ids, priority=7)``: the
count), ``unique`` (enqueue ``tests.tasks.sync_account(42)``, unique for an hour: the job id) and
``debounce`` (enqueue ``tests.tasks.reindex([pid])``, debounced: the job id).
API is ``engine`` (``from django_jobs import engine``) or ``today`` (the functions before it:
``django_jobs.deadletter.replay``, ``django_jobs.control.cancel``/``run_now``,
``django_jobs.worker.lease.rescue``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any


def _step(name: str, api: str) -> Callable[[list[int]], Any]:
    """Return the step ``name`` of ``api`` as a function of a list of ids; raise ImportError."""
    from django_jobs.models import DeadJob

    if api == "engine":
        from django_jobs import engine  # type: ignore[attr-defined]

        replay, cancel, run_now, rescue = (
            engine.replay,
            engine.cancel,
            engine.run_now,
            engine.rescue,
        )
    else:
        from django_jobs.control import cancel, run_now
        from django_jobs.deadletter import replay
        from django_jobs.worker.lease import rescue
    steps: dict[str, Callable[[list[int]], Any]] = {
        "replay": lambda ids: _ids(replay(DeadJob.objects.filter(id__in=ids))),
        "cancel": lambda ids: cancel(ids),
        "run_now": lambda ids: run_now(ids),
        "rescue": lambda ids: _describe_rescue(rescue()),
        "lead": lambda ids: _lead(),
        "claim": _claim,
        "claim_calls": _claim_calls,
        "update": _update,
        "unique": lambda ids: _tasks().sync_account.enqueue(42).id,
        "debounce": lambda ids: _tasks().reindex.enqueue([_pid()]).id,
    }
    return steps[name]


def _tasks() -> Any:
    from tests import tasks

    return tasks


def _pid() -> int:
    import os

    return os.getpid()


def _claim(ids: list[int]) -> list[list[int]]:
    from django_jobs import engine  # type: ignore[attr-defined]

    jobs = engine.claim(worker_id="racer", limit=len(ids), lease_seconds=300, start_first=0)
    return [[job.id, job.priority] for job in jobs]


def _claim_calls(ids: list[int]) -> list[list[Any]]:
    from django_jobs import engine  # type: ignore[attr-defined]

    jobs = engine.claim(worker_id="racer", limit=max(1, len(ids)), lease_seconds=300)
    return [[job.id, job.args] for job in jobs]


def _update(ids: list[int]) -> int:
    from django_jobs import update_queued

    return int(update_queued(ids, priority=7))


def _lead() -> bool:
    import os

    from django_jobs import leadership

    term = leadership.acquire(leadership.PRUNER, f"racer-{os.getpid()}", lease_seconds=30)
    return term is not None


def _ids(jobs: Any) -> Any:
    try:
        return [job.id for job in jobs]
    except (TypeError, AttributeError):
        return repr(jobs)


def _describe_rescue(report: Any) -> Any:
    requeued = getattr(report, "requeued", None)
    return {"requeued": list(requeued)} if requeued is not None else repr(report)


def _emit(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


def main(argv: list[str]) -> int:
    name, api, key, *ids = argv
    import django

    django.setup()
    from django.db import connection

    try:
        step = _step(name, api)
    except ImportError as exc:
        _emit(outcome="import-error", error=type(exc).__name__, message=str(exc))
        return 3
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock_shared(%s)", [int(key)])
    try:
        value = step([int(i) for i in ids])
    except Exception as exc:
        kind = type(exc)
        _emit(outcome="error", error=f"{kind.__module__}.{kind.__qualname__}", message=str(exc))
        return 2
    _emit(outcome="ok", value=value)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
