"""What the worker's threads share: the leases it holds, and news of database trouble."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable

from ..models import Job

Key = tuple[int, uuid.UUID | None]


class Held:
    """The jobs whose lease this worker holds: buffered, running, or waiting for their outcome
    to be written. The heartbeat renews exactly these. Thread-safe.

    Keyed by (id, lease token): a job rescued from this worker and claimed by it again is held
    twice, once per claim, and each claim is forgotten on its own.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[Key, Job] = {}

    @staticmethod
    def key(job: Job) -> Key:
        return (job.id, job.lease_token)

    def add(self, jobs: Iterable[Job]) -> None:
        with self._lock:
            self._jobs.update((self.key(job), job) for job in jobs)

    def drop(self, jobs: Iterable[Job]) -> None:
        with self._lock:
            for job in jobs:
                self._jobs.pop(self.key(job), None)

    def holds(self, job: Job) -> bool:
        with self._lock:
            return self.key(job) in self._jobs

    def snapshot(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._jobs)


class Health:
    """A counter bumped by any thread that meets a lost connection.

    Slot threads compare it with the value they last saw and check their own connection before
    their next job instead of failing that job on a dead socket; the heartbeat holds off rescue
    for a lease after an outage (see ``heartbeat``).
    """

    def __init__(self) -> None:
        self.trouble = 0

    def report_trouble(self) -> None:
        self.trouble += 1  # a lost update between threads only delays a check: no lock needed
