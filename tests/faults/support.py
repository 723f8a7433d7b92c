"""Questions the fault tests ask of the tables, and descriptions of what they found."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Count

from django_jobs.models import LIVE_STATUSES, DeadJob, Job, JobStatus
from tests.models import Execution


def settled(ids: Iterable[int]) -> bool:
    """Return whether every job of ``ids`` has left the live states (done, cancelled or dead)."""
    ids = list(ids)
    return not Job.objects.filter(id__in=ids, status__in=LIVE_STATUSES).exists()


def done_count(ids: Iterable[int]) -> int:
    return Job.objects.filter(id__in=list(ids), status=JobStatus.DONE).count()


def dead(job_id: int) -> DeadJob | None:
    """Return the dead job made of job ``job_id``, or None."""
    return DeadJob.objects.filter(job_id=job_id).first()


def runs_by_key(keys: Iterable[str]) -> dict[str, int]:
    """Return how many Execution rows each key has (keys without one are missing)."""
    rows = Execution.objects.filter(key__in=list(keys)).values_list("key").annotate(n=Count("id"))
    return dict(rows)


def error_classes_everywhere() -> list[str]:
    """Return the exception class of every error entry of every job and dead job."""
    classes = []
    for errors in [*Job.objects.values_list("errors", flat=True),
                   *DeadJob.objects.values_list("errors", flat=True)]:  # fmt: skip
        classes += [entry.get("exception_class", "") for entry in errors or []]
    return classes


def describe_jobs(ids: Iterable[int] | None = None) -> dict[str, Any]:
    """Describe jobs (all when ``ids`` is None) for a failure message: states and errors."""
    ids = None if ids is None else list(ids)
    jobs = Job.objects.all() if ids is None else Job.objects.filter(id__in=list(ids))
    dead_jobs = DeadJob.objects.all() if ids is None else DeadJob.objects.filter(job_id__in=ids)
    return {
        "jobs": [
            (
                j.id,
                _short(j.task_path),
                j.status,
                j.attempts,
                [_short(e.get("exception_class", "")) for e in j.errors],
            )
            for j in jobs.order_by("id")
        ],
        "dead": [
            (d.job_id, _short(d.task_path), d.attempts, _short(d.exception_class))
            for d in dead_jobs.order_by("job_id")
        ],
    }


def _short(dotted: str) -> str:
    return dotted.rsplit(".", 1)[-1]
