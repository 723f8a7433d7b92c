"""``Failure``: what is recorded of one failed attempt, in ``Job.errors`` and on a ``DeadJob``."""

from __future__ import annotations

import dataclasses
import traceback as tb
from datetime import datetime
from typing import Any

from django.utils import timezone

MESSAGE_MAX_LENGTH = 2000


@dataclasses.dataclass(frozen=True, slots=True)
class Failure:
    """One failed attempt: the exception's class path, message and traceback, when and where.

    ``worker_id`` names the worker that ran the attempt; ``""`` when unknown.
    """

    attempt: int
    exception_class: str
    message: str
    traceback: str
    failed_at: datetime
    worker_id: str = ""

    @classmethod
    def from_exception(
        cls, exc: BaseException, *, attempt: int, now: datetime | None = None, worker_id: str = ""
    ) -> Failure:
        """Describe ``exc`` (with its traceback) as the failure of attempt number ``attempt``."""
        kind = type(exc)
        return cls(
            attempt=attempt,
            exception_class=f"{kind.__module__}.{kind.__qualname__}",
            message=str(exc)[:MESSAGE_MAX_LENGTH],
            traceback="".join(tb.format_exception(exc)),
            failed_at=now or timezone.now(),
            worker_id=worker_id,
        )

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON shape stored in ``Job.errors``."""
        return {
            "attempt": self.attempt,
            "exception_class": self.exception_class,
            "message": self.message,
            "traceback": self.traceback,
            "failed_at": self.failed_at.isoformat(),
            "worker_id": self.worker_id,
        }
