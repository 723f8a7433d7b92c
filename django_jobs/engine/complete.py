"""``complete`` and ``complete_many``: mark running jobs done with their results.

Every write is fenced by the claim's lease token: a worker whose lease expired and whose job was
rescued (and perhaps run and finished elsewhere) updates nothing, and learns so from the return
value. The idea is Martin Kleppmann's fencing token ("How to do distributed locking", 2016).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Sequence
from typing import Any

from django.db import DatabaseError
from django.utils import timezone

from ..db import TRANSIENT_ERRORS
from ..models import Job, JobStatus
from ..outcome import Recorded
from . import sql
from .workflow import complete_member

logger = logging.getLogger(__name__)


def complete(job: Job, result: Any) -> Recorded:
    """Mark running ``job`` done with JSON-ready ``result``; return DONE, or LOST if its lease
    was gone (nothing written). One UPDATE; database errors propagate. A workflow member is
    handed to ``complete_member`` (its workflow must count it)."""
    if job.workflow_id is not None:
        return complete_member(job, result, None if result is None else json.dumps(result))
    now = timezone.now()
    updated = sql.held(job.id, job.lease_token).update(
        status=JobStatus.DONE,
        result=result,
        finished_at=now,
        lease_token=None,
        lease_expires_at=None,
        progress_percent=100.0,
    )
    if not updated:
        return Recorded.LOST
    job.status, job.result, job.finished_at = JobStatus.DONE, result, now
    return Recorded.DONE


@dataclasses.dataclass(frozen=True, slots=True)
class Completion:
    """One success to write: the job, its result, and that result's JSON text (None for None)."""

    job: Job
    result: Any
    result_json: str | None


def complete_many(done: Sequence[Completion]) -> dict[int, Recorded | DatabaseError]:
    """Mark many running jobs done in one statement; return each job id's fate.

    For plain jobs only: a workflow member given here is LOST (the statement's guard), never
    done without its workflow counting it; the worker writes members with ``complete_member``.
    The fate is DONE, LOST (its lease was gone), or the ``DatabaseError`` that refused this
    job's row. The batch is an optimisation, never a shared fate: when the one statement fails
    for a reason that is not a lost connection (a result PostgreSQL will not store, a trigger),
    each job is written on its own, so only the offending row fails and the caller can record
    why. Transient errors (the database went away) propagate for the caller to repeat.
    """
    if not done:
        return {}
    try:
        return _complete_batch(done)
    except TRANSIENT_ERRORS:
        raise
    except DatabaseError as exc:
        logger.warning("Batched completion of %d jobs failed (%s); writing each", len(done), exc)
    fates: dict[int, Recorded | DatabaseError] = {}
    for item in done:
        try:
            fates[item.job.id] = complete(item.job, item.result)
        except TRANSIENT_ERRORS:
            raise
        except DatabaseError as exc:
            fates[item.job.id] = exc
    return fates


def _complete_batch(done: Sequence[Completion]) -> dict[int, Recorded | DatabaseError]:
    now = timezone.now()
    if not sql.postgresql():
        return {item.job.id: complete(item.job, item.result) for item in done}
    ids = [item.job.id for item in done]
    rows = sql.execute_returning(
        f"UPDATE {sql.table()} AS job SET status = %s, result = done.result, finished_at = %s, "
        "lease_token = NULL, lease_expires_at = NULL, progress_percent = 100 "
        "FROM unnest(%b::bigint[], %b::uuid[], %b::jsonb[]) AS done(id, token, result) "
        # The id list again, as = ANY: it steers the planner to primary-key lookups whatever
        # its estimate of running rows (a stale one chose a scan of every running job).
        "WHERE job.id = ANY(%b::bigint[]) AND job.id = done.id AND job.lease_token = done.token "
        f"AND job.status = %s AND job.workflow_id IS NULL AND {sql.relaxed_commit()} "
        "RETURNING job.id",
        [
            JobStatus.DONE,
            now,
            ids,
            [item.job.lease_token for item in done],
            # SQL NULL for None, as the ORM stores a JSONField's None.
            [item.result_json for item in done],
            ids,
            JobStatus.RUNNING,
        ],
        prepare=True,
    )
    written = {row[0] for row in rows}
    fates: dict[int, Recorded | DatabaseError] = {}
    for item in done:
        if item.job.id in written:
            item.job.status, item.job.result, item.job.finished_at = (
                JobStatus.DONE,
                item.result,
                now,
            )
            fates[item.job.id] = Recorded.DONE
        else:
            fates[item.job.id] = Recorded.LOST
    return fates
