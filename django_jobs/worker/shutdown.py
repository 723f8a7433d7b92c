"""Shutdown: stop claiming, give back what never started, let running jobs finish, account for
the rest.

The order matters. Prefetched jobs go back first (``engine.release``: no attempt charged), so
other workers can take them during the grace period. Running jobs then get up to
``grace_seconds`` to finish, their timeouts still enforced and their leases still renewed. A
job still running after that is failed with ``WorkerStoppedError`` (it used an attempt, and the
one retry-or-dead-letter decision applies), so a job that always outlasts the grace period is
not retried forever.
"""

from __future__ import annotations

import logging
import threading
import time

from .. import db, engine
from ..exceptions import WorkerStoppedError
from ..models import Job
from .record import Recorder
from .shared import Held
from .slots import Pool
from .timeouts import Timeouts

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_ABANDONED = 1


def release_unstarted(
    jobs: list[Job], held: Held, worker_id: str, *, started_ahead: bool = False
) -> None:
    """Give claimed jobs that never ran back to the queue, no attempt charged: prefetched
    ones, or with ``started_ahead`` the runway's (their attempt given back)."""
    if not jobs:
        return
    what = "jobs started ahead" if started_ahead else "prefetched jobs"
    try:
        released = db.with_reconnect(
            lambda: engine.release(jobs, started_ahead=started_ahead),
            what=f"releasing {what}",
            give_up=db.before(time.monotonic() + 10),
        )
        logger.info("Worker %s released %d %s", worker_id, released, what)
    except Exception:
        logger.exception("Could not release %s; rescue will requeue them", what)
    held.drop(jobs)


def drain(
    pool: Pool,
    timeouts: Timeouts,
    *,
    grace_seconds: float,
    wake: threading.Event,
) -> None:
    """Wait up to ``grace_seconds`` for the busy slots to finish, enforcing timeouts meanwhile."""
    pool.stop()
    deadline = time.monotonic() + grace_seconds
    while pool.busy() and time.monotonic() < deadline:
        wake.wait(min(0.1, max(0.0, deadline - time.monotonic())))
        wake.clear()
        timeouts.enforce()


def fail_unfinished(pool: Pool, recorder: Recorder, grace_seconds: float) -> list[Job]:
    """Fail the jobs still running after the grace period with ``WorkerStoppedError``."""
    unfinished = []
    for slot in pool.busy():
        job = slot.abandon()
        if job is None:
            continue
        unfinished.append(job)
        error = WorkerStoppedError(
            f"Job {job.id} was still running when worker {job.worker_id} stopped after its "
            f"{grace_seconds:.0f}s shutdown grace period."
        )
        recorder.fail(job, error, grace_seconds)
    return unfinished


def report(worker_id: str, abandoned: list[Job], grace_seconds: float) -> int:
    """Log how the worker stopped; return ``EXIT_OK``, or ``EXIT_ABANDONED`` if jobs were cut
    off."""
    if not abandoned:
        logger.info("Worker %s stopped cleanly", worker_id)
        return EXIT_OK
    logger.warning(
        "Worker %s: %d jobs still running after %.0fs grace were failed (WorkerStoppedError)",
        worker_id, len(abandoned), grace_seconds,
    )  # fmt: skip
    return EXIT_ABANDONED
