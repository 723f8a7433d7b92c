"""What the engine's statements need from the database: its alias, its vendor, prepared values.

Vendor differences live here and in the few statements that branch on ``postgresql()``; the rest
of django-jobs never asks which database it runs on for a write.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connections, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import DateTimeField, Func
from django.utils import timezone

from ..models import Job, JobStatus


def alias() -> str:
    """Return the database alias the job tables live on (the router's choice for ``Job``)."""
    return router.db_for_write(Job)


def wrapper() -> BaseDatabaseWrapper:
    """Return this thread's connection wrapper for the job tables."""
    return connections[alias()]


def postgresql() -> bool:
    """Return whether the job tables live on PostgreSQL."""
    return wrapper().vendor == "postgresql"


def clock() -> Any:
    """Return "now" for a guarded UPDATE: PostgreSQL's ``clock_timestamp()``, else Python's time.

    Read when each row is (re)checked, so of two statements racing for a row the second judges
    it after the first's change, not by an earlier instant of its own: a guard such as
    ``run_at > now`` then lets exactly one of them through.
    """
    if postgresql():
        return Func(template="clock_timestamp()", output_field=DateTimeField())
    return timezone.now()


def table() -> str:
    """Return the quoted name of the job table."""
    return wrapper().ops.quote_name(str(Job._meta.db_table))


def prep(name: str, value: object) -> object:
    """Return ``value`` as the database adapter wants it for ``Job`` field ``name``."""
    field: Any = Job._meta.get_field(name)
    return field.get_db_prep_save(value, wrapper())


def placeholders(values: Sequence[object]) -> str:
    """Return ``%s, %s, ...`` for ``values``."""
    return ", ".join(["%s"] * len(values))


def held(job_id: int, lease_token: uuid.UUID | None, **guard: Any) -> Any:
    """Return the queryset of job ``job_id`` if it still runs under ``lease_token``: the fence
    of every ORM write after a claim (``guard`` adds lookups, e.g. an expired lease)."""
    return Job.objects.filter(id=job_id, status=JobStatus.RUNNING, lease_token=lease_token, **guard)


def fenced_where(jobs: Iterable[Job]) -> tuple[str, list[object]]:
    """Return a WHERE fragment and its parameters matching exactly the held leases of ``jobs``.

    ``id IN (...) AND lease_token IN (...) AND status = 'running'``: tokens are new per claim
    and never reused, so the pair of IN lists matches the given (id, token) pairs and no other
    row (a job claimed again since carries a token not in the list).
    """
    jobs = list(jobs)
    ids = [job.id for job in jobs]
    tokens = list({prep("lease_token", job.lease_token) for job in jobs})
    where = (
        f"id IN ({placeholders(ids)}) AND lease_token IN ({placeholders(tokens)}) AND status = %s"
    )
    return where, [*ids, *tokens, "running"]


def execute_returning(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Run one statement with a RETURNING clause in autocommit (or the caller's transaction)."""
    with wrapper().cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()
