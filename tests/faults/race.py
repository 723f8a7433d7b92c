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
``debounce`` (enqueue ``tests.tasks.reindex([pid])``, debounced: the job id),
``complete_member`` (ids of running workflow members, completed under their current lease;
always the engine's), ``claim_limited`` (``engine.claim_limited`` of up to 50 jobs: the value
is the ids claimed), ``claim_start`` (claim and start up to 100 ready jobs as
``racer-<pid>``: their ids), ``claim_each`` (the same one job per statement, as many times as
ids are given), ``cancel_each`` (``cancel`` one id per statement), or one of
``JOB_STEPS`` (``complete``, ``acknowledge_cancel``, ``fail``: the jobs are read before the
barrier, so each racer writes with the lease token the job had then; one value per job).
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
        "cancel": lambda ids: _describe_cancel(cancel(ids)),
        "run_now": lambda ids: run_now(ids),
        "rescue": lambda ids: _describe_rescue(rescue()),
        "lead": lambda ids: _lead(),
        "claim": _claim,
        "claim_calls": _claim_calls,
        "update": _update,
        "unique": lambda ids: _tasks().sync_account.enqueue(42).id,
        "debounce": lambda ids: _tasks().reindex.enqueue([_pid()]).id,
        "complete_member": lambda ids: _complete_members(ids),
        "claim_limited": lambda ids: _claim_limited(),
        "claim_start": lambda ids: _claim_start(),
        "claim_each": lambda ids: _claim_each(len(ids)),
        "cancel_each": lambda ids: _merge([_describe_cancel(cancel([i])) for i in ids]),
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


def _complete_members(ids: list[int]) -> list[str]:
    """Complete each running workflow member of ``ids`` under its current lease, result its id."""
    from django_jobs import engine  # type: ignore[attr-defined]
    from django_jobs.models import Job

    return [
        engine.complete_member(job, job.id, str(job.id)).value
        for job in Job.objects.filter(id__in=ids).order_by("id")
    ]


def _claim_limited() -> list[int]:
    import os

    from django_jobs import engine

    claimed = engine.claim_limited(worker_id=f"racer-{os.getpid()}", limit=50, lease_seconds=60)
    return [job.id for job in claimed.jobs]


def _claim_start() -> list[int]:
    import os

    from django_jobs import engine  # type: ignore[attr-defined]

    claimed = engine.claim(
        worker_id=f"racer-{os.getpid()}", limit=100, lease_seconds=30, start_first=100
    )
    return sorted(job.id for job in claimed)


def _claim_each(count: int) -> list[int]:
    import os

    from django_jobs import engine  # type: ignore[attr-defined]

    claimed: list[int] = []
    for _ in range(count):  # one job per statement: interleaves with a racer's per-row writes
        found = engine.claim(
            worker_id=f"racer-{os.getpid()}", limit=1, lease_seconds=30, start_first=1
        )
        claimed.extend(job.id for job in found)
    return sorted(claimed)


def _merge(reports: list[dict[str, list[Any]]]) -> dict[str, list[Any]]:
    keys = ("cancelled", "requested")
    return {key: [i for report in reports for i in report[key]] for key in keys}


def _job_step(name: str) -> Callable[[list[Any]], Any] | None:
    """Return the step ``name`` of ``JOB_STEPS`` as a function of a list of jobs, else None."""
    from django_jobs import engine  # type: ignore[attr-defined]
    from django_jobs.exceptions import JobCancelled

    steps: dict[str, Callable[[list[Any]], Any]] = {
        "complete": lambda jobs: [engine.complete(job, "raced").value for job in jobs],
        "acknowledge_cancel": lambda jobs: [
            engine.acknowledge_cancel(job, JobCancelled("raced")).value for job in jobs
        ],
        "fail": lambda jobs: [
            engine.fail(job, RuntimeError("raced")).recorded.value for job in jobs
        ],
    }
    return steps.get(name)


JOB_STEPS = ("complete", "acknowledge_cancel", "fail")


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


def _describe_cancel(report: Any) -> Any:
    # engine.cancel returns a CancelReport; the functions before it returned a count.
    if hasattr(report, "cancelled"):
        return {"cancelled": report.cancelled, "requested": report.requested}
    return {"cancelled": [None] * report, "requested": []}


def _describe_rescue(report: Any) -> Any:
    requeued = getattr(report, "requeued", None)
    if requeued is None:
        return repr(report)
    cancelled = [job.id for job in getattr(report, "cancelled", [])]
    return {"requeued": list(requeued), "cancelled": cancelled}


def _emit(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


def main(argv: list[str]) -> int:
    name, api, key, *ids = argv
    import django

    django.setup()
    from django.db import connection

    try:
        if name in JOB_STEPS:
            from django_jobs.models import Job

            job_step = _job_step(name)
            assert job_step is not None
            jobs = list(Job.objects.filter(id__in=[int(i) for i in ids]).order_by("id"))
            step: Callable[[list[int]], Any] = lambda _ids: job_step(jobs)  # noqa: E731
        else:
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
