"""``Completer``: one thread that writes successful outcomes in batches.

Slot threads hand over ``(job, result, duration)`` and go straight on to their next job. The
completer writes whatever has gathered while its previous write was in flight, in one statement
(``outcome.complete_many``): under load, batches grow by themselves, as group commit does in a
database; when idle, a lone completion is written at once.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from ..models import Job
from . import outcome
from .dbretry import close_quietly, retrying

logger = logging.getLogger(__name__)

MAX_BATCH = 500

Written = Callable[[Job, Any, float, bool | None], None]


class Completer:
    """Write ``submit()``-ted successes in batches, then call ``on_written(job, result,
    duration_seconds, written)`` for each: ``written`` is False when the lease had been lost,
    None when the write was given up.

    Database outages are retried for up to ``deadline_seconds`` per batch; past that the batch is
    given up (those jobs' leases expire and rescue requeues them: at-least-once).
    """

    def __init__(self, on_written: Written, *, deadline_seconds: float) -> None:
        self.on_written = on_written
        self.deadline_seconds = deadline_seconds
        self._queue: queue.SimpleQueue[tuple[Job, Any, float] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="django-jobs-complete", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def submit(self, job: Job, result: Any, duration_seconds: float) -> None:
        self._queue.put((job, result, duration_seconds))

    def stop(self, timeout_seconds: float) -> None:
        """Write everything submitted so far, then end the thread."""
        self._queue.put(None)
        self._thread.join(timeout_seconds)

    def _run(self) -> None:
        try:
            stopping = False
            while not stopping:
                first = self._queue.get()
                batch, stopping = self._gather(first)
                if batch:
                    self._write(batch)
        finally:
            close_quietly()

    def _gather(self, first: tuple[Job, Any, float] | None) -> tuple[list[Any], bool]:
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

    def _write(self, batch: list[tuple[Job, Any, float]]) -> None:
        try:
            written = retrying(
                lambda: outcome.complete_many([(job, result) for job, result, _ in batch]),
                deadline=time.monotonic() + self.deadline_seconds,
                what=f"recording {len(batch)} completed jobs",
            )
        except Exception:
            logger.exception(
                "Could not record %d completed jobs; they will be rescued when their leases "
                "expire and run again",
                len(batch),
            )
            for job, result, duration in batch:
                self.on_written(job, result, duration, None)
            return
        for job, result, duration in batch:
            self.on_written(job, result, duration, job.id in written)
