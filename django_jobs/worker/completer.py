"""``Completer``: one thread that writes successful outcomes in batches.

Slot threads hand over their successes and go straight on to their next job. The completer
writes whatever has gathered while its previous write was in flight, in one statement
(``engine.complete_many``): under load, batches grow by themselves, as group commit does in a
database; when idle, a lone completion is written at once. A batch is never a shared fate:
``complete_many`` falls back to one write per job, and each job's fate is its own. Members of
a chain or group are written one transaction each (``engine.complete_member``).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from django.db import DatabaseError

from .. import db, engine
from ..db import TRANSIENT_ERRORS
from ..models import Job
from ..outcome import Recorded, Succeeded

logger = logging.getLogger(__name__)

MAX_BATCH = 500

Item = tuple[Job, Succeeded]
Written = Callable[[Job, Succeeded, Recorded | DatabaseError | None], None]


class Completer:
    """Write ``submit()``-ted successes in batches, then call ``on_written(job, outcome, fate)``
    for each (see ``Recorder.written``).

    Lost connections are retried until ``give_up()`` is true; only then is a batch given up
    (fate None: those leases expire and rescue requeues the jobs, at-least-once).
    """

    def __init__(self, on_written: Written, *, give_up: Callable[[], bool]) -> None:
        self.on_written = on_written
        self.give_up = give_up
        self._queue: queue.SimpleQueue[Item | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="django-jobs-complete", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def submit(self, job: Job, outcome: Succeeded) -> None:
        self._queue.put((job, outcome))

    def stop(self, timeout_seconds: float) -> None:
        """Write everything submitted so far, then end the thread (waits up to the timeout)."""
        self._queue.put(None)
        self._thread.join(timeout_seconds)

    def _run(self) -> None:
        try:
            stopping = False
            while not stopping:
                batch, stopping = self._gather(self._queue.get())
                if batch:
                    self._write(batch)
        finally:
            db.close_quietly()

    def _gather(self, first: Item | None) -> tuple[list[Item], bool]:
        if first is None:
            return [], True
        batch = [first]
        while len(batch) < MAX_BATCH:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                return batch, True
            batch.append(item)
        return batch, False

    def _write(self, batch: list[Item]) -> None:
        # Workflow members are written one transaction each (engine.complete_member): their
        # done, their workflow's count and the job it makes due commit together. Plain jobs
        # pay only this attribute check.
        completions = [
            engine.Completion(job, o.result, o.result_json)
            for job, o in batch
            if job.workflow_id is None
        ]
        fates: dict[int, Recorded | DatabaseError] = {}
        if completions:
            try:
                fates = db.with_reconnect(
                    lambda: engine.complete_many(completions),
                    what=f"recording {len(completions)} completed jobs",
                    give_up=self.give_up,
                )
            except Exception:
                logger.exception(
                    "Could not record %d completed jobs; they will be rescued when their leases "
                    "expire and run again", len(completions),
                )  # fmt: skip
        if len(completions) < len(batch):
            for job, outcome in batch:
                if job.workflow_id is not None:
                    fates[job.id] = self._write_member(job, outcome)
        for job, outcome in batch:
            try:
                self.on_written(job, outcome, fates.get(job.id))
            except Exception:  # a bug here must not lose the rest of the batch
                logger.exception("Job %s: reporting its completion failed", job.id)

    def _write_member(self, job: Job, outcome: Succeeded) -> Any:
        """Write a workflow member's success; return its fate as ``complete_many`` would."""
        try:
            return db.with_reconnect(
                lambda: engine.complete_member(job, outcome.result, outcome.result_json),
                what=f"recording completed workflow job {job.id}",
                give_up=self.give_up,
            )
        except TRANSIENT_ERRORS:
            _log_given_up(job)
        except DatabaseError as exc:  # refused (its result, the job it made due): fails the job
            return exc
        except Exception:  # a bug must not end the completer thread
            _log_given_up(job)
        return None


def _log_given_up(job: Job) -> None:
    logger.exception(
        "Could not record completed workflow job %s; it will be rescued when its lease expires "
        "and run again", job.id,
    )  # fmt: skip
